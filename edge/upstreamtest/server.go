package upstreamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// DefaultModels is what GET /v1/models lists unless SetModels changes it.
var DefaultModels = []string{"claude-opus-5-5", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"}

// DefaultOpenAIModels is what GET /models (OpenAI's list) answers.
var DefaultOpenAIModels = []string{"gpt-5", "gpt-5-codex", "gpt-5-mini", "gpt-5-nano"}

// route is one endpoint of the fake.
type route struct {
	path   string
	method string
	api    API
	kind   routeKind
}

type routeKind int

const (
	kindMessages routeKind = iota
	kindCountTokens
	kindModels
	kindResponses
	kindCompact
	kindOpenAIModels
)

var routes = []route{
	{"/v1/messages", http.MethodPost, Anthropic, kindMessages},
	{"/v1/messages/count_tokens", http.MethodPost, Anthropic, kindCountTokens},
	{"/v1/models", http.MethodGet, Anthropic, kindModels},
	{"/responses", http.MethodPost, OpenAI, kindResponses},
	{"/v1/responses", http.MethodPost, OpenAI, kindResponses},
	{"/responses/compact", http.MethodPost, OpenAI, kindCompact},
	{"/v1/responses/compact", http.MethodPost, OpenAI, kindCompact},
	{"/models", http.MethodGet, OpenAI, kindOpenAIModels},
}

func findRoute(path string) (route, bool) {
	for _, rt := range routes {
		if rt.path == path {
			return rt, true
		}
	}
	return route{}, false
}

// Server is the fake upstream. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234; an account's
	// apiUrl.
	URL string

	hs      *httptest.Server
	quit    chan struct{} // closed by Close: stalls end
	closeMu sync.Once
	counts  *counters
	rec     *recorder
	fast    *fastReplies // nil unless NewFast
	created int64        // Unix seconds, OpenAI's created_at

	mu     sync.Mutex // protects queue, script, def, models
	queue  []Reply
	script func(*Request) (Reply, bool)
	def    Reply
	models []string
}

// New starts a fake upstream that answers DefaultText with DefaultUsage,
// and closes it when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake upstream outside a test (a load-test harness, say);
// the caller must Close it.
func Start() *Server {
	return start(nil)
}

func start(fast *Reply) *Server {
	s := &Server{
		quit:    make(chan struct{}),
		counts:  newCounters(),
		rec:     newRecorder(),
		created: time.Now().Unix(),
		def:     Reply{Usage: DefaultUsage},
		models:  DefaultModels,
	}
	if fast != nil {
		s.def = *fast
		// The ids of a normal server's first request, so the bytes match.
		const id = "upstreamtest000000"
		s.fast = precompute(s.answerFor(*fast, &Request{API: Anthropic}, id), s.answerFor(*fast, &Request{API: OpenAI}, id), s.models)
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	return s
}

// Close ends every stalled handler, then shuts the server down.
func (s *Server) Close() {
	s.closeMu.Do(func() { close(s.quit) })
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// Client returns an http.Client for the server (httptest's).
func (s *Server) Client() *http.Client { return s.hs.Client() }

// Enqueue appends replies that the next requests take, one each, in order,
// before the Script and the default are consulted.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Pending is how many enqueued replies no request has taken yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// SetScript sets the function that chooses the reply for requests the
// queue does not answer; returning false falls back to the default. It is
// called on the handler's goroutine and must not modify the Request.
func (s *Server) SetScript(fn func(r *Request) (Reply, bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = fn
}

// SetDefault sets the reply of requests that neither the queue nor the
// Script answers.
func (s *Server) SetDefault(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = r
}

// SetModels sets what GET /v1/models lists.
func (s *Server) SetModels(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = append([]string(nil), ids...)
}

// choose picks the reply of req: queue, then script, then default.
func (s *Server) choose(req *Request) Reply {
	s.mu.Lock()
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return r
	}
	script, def := s.script, s.def
	s.mu.Unlock()
	if script != nil {
		if r, ok := script(req); ok {
			return r
		}
	}
	return def
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.fast != nil {
		s.serveFast(w, r)
		return
	}
	s.counts.begin(r.URL.Path)
	// Reading the body to its end also lets net/http watch the connection,
	// so the request context ends when the client goes away.
	body, _ := io.ReadAll(r.Body)
	rt, known := findRoute(r.URL.Path)
	req := Request{
		API: rt.api, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
		Header: r.Header.Clone(), Body: body, Start: time.Now(),
	}
	var fields struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	jsonErr := json.Unmarshal(body, &fields)
	req.Model, req.Stream = fields.Model, fields.Stream
	i := s.rec.add(req)
	req.Index = i

	x := &exchange{s: s, w: w, r: r, rc: http.NewResponseController(w), req: &req, id: fmt.Sprintf("upstreamtest%06d", i)}
	if rt.api == OpenAI {
		w.Header().Set("x-request-id", "req_"+x.id)
	} else {
		w.Header().Set("request-id", "req_"+x.id)
	}
	watched := make(chan struct{})
	stopWatch := context.AfterFunc(r.Context(), func() {
		defer close(watched)
		s.rec.update(i, func(q *Request) { q.Canceled, q.CanceledAt = true, time.Now() })
	})
	defer func() {
		switch {
		case !stopWatch():
			<-watched // cancelled while running: record that before the end
		case r.Context().Err() != nil:
			// Cancelled, but the handler saw Done before the context
			// started the AfterFunc; net/http cancels only after the
			// handler returns, so this too is the client going away.
			s.rec.update(i, func(q *Request) { q.Canceled, q.CanceledAt = true, time.Now() })
		}
		s.counts.end()
		s.rec.update(i, func(q *Request) {
			q.End, q.Status, q.Events, q.Aborted = time.Now(), x.status, x.events, x.aborted
		})
	}()

	switch {
	case !known:
		x.writeError(Reply{Status: http.StatusNotFound, ErrorMessage: "Not found: " + r.URL.Path}, Anthropic)
	case r.Method != rt.method:
		x.writeError(Reply{Status: http.StatusMethodNotAllowed}, rt.api)
	default:
		x.serve(rt, s.choose(&req), jsonErr)
	}
}

// answerFor resolves a reply for the request; id makes its ids unique.
func (s *Server) answerFor(rep Reply, req *Request, id string) answer {
	a := answer{Reply: rep, model: rep.Model, id: id, created: s.created}
	if a.model == "" {
		a.model = req.Model
	}
	if a.model == "" {
		a.model = defaultModel(req.API)
	}
	return a
}

func defaultModel(api API) string {
	if api == OpenAI {
		return "gpt-5"
	}
	return DefaultModels[0]
}

func (s *Server) modelList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models
}
