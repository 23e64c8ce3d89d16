package upstreamtest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// API is the dialect of a route.
type API int

const (
	// Anthropic is the Messages API: /v1/messages, /v1/messages/count_tokens, /v1/models.
	Anthropic API = iota + 1
	// OpenAI is the Responses API: /responses, /v1/responses.
	OpenAI
)

func (a API) String() string {
	switch a {
	case Anthropic:
		return "anthropic"
	case OpenAI:
		return "openai"
	}
	return "unknown"
}

// Request is one request the server saw, and what became of it. Header and
// Body are the server's copies: read them, do not modify them.
type Request struct {
	// Index is the request's arrival order, from 0.
	Index    int
	API      API
	Method   string
	Path     string
	RawQuery string
	Host     string
	Header   http.Header
	Body     []byte
	// Model and Stream are the body's "model" and "stream", if it is JSON.
	Model  string
	Stream bool

	// Start is when the handler began (the body read); End when it
	// returned, zero while in flight.
	Start, End time.Time
	// Status is the status sent, 0 if none (a hang-up, or still stalling).
	Status int
	// Events counts the SSE events (or body halves) written.
	Events int
	// Aborted reports a scripted hang-up or cut.
	Aborted bool
	// Canceled reports that the request's context ended while the
	// handler ran: the client went away (or the server closed). CanceledAt
	// is when the server noticed.
	Canceled   bool
	CanceledAt time.Time
}

// Done reports whether the handler has returned.
func (r Request) Done() bool { return !r.End.IsZero() }

// counters are kept in both modes, lock-free.
type counters struct {
	total       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	perRoute    map[string]*atomic.Int64 // fixed at construction, read-only
	otherMu     sync.Mutex               // protects other
	other       map[string]int64         // paths without a route
}

func newCounters() *counters {
	c := &counters{perRoute: map[string]*atomic.Int64{}, other: map[string]int64{}}
	for _, rt := range routes {
		c.perRoute[rt.path] = new(atomic.Int64)
	}
	return c
}

func (c *counters) begin(path string) {
	c.total.Add(1)
	if n, ok := c.perRoute[path]; ok {
		n.Add(1)
	} else {
		c.otherMu.Lock()
		c.other[path]++
		c.otherMu.Unlock()
	}
	n := c.inFlight.Add(1)
	for {
		peak := c.maxInFlight.Load()
		if n <= peak || c.maxInFlight.CompareAndSwap(peak, n) {
			return
		}
	}
}

func (c *counters) end() { c.inFlight.Add(-1) }

// Count is how many requests arrived on path (any method).
func (s *Server) Count(path string) int {
	if n, ok := s.counts.perRoute[path]; ok {
		return int(n.Load())
	}
	s.counts.otherMu.Lock()
	defer s.counts.otherMu.Unlock()
	return int(s.counts.other[path])
}

// Total is how many requests arrived.
func (s *Server) Total() int { return int(s.counts.total.Load()) }

// InFlight is how many requests are being handled now.
func (s *Server) InFlight() int { return int(s.counts.inFlight.Load()) }

// MaxInFlight is the most requests handled at once so far.
func (s *Server) MaxInFlight() int { return int(s.counts.maxInFlight.Load()) }

// recorder keeps the requests of a normal (not fast) server.
type recorder struct {
	mu      sync.Mutex    // protects reqs and changed
	reqs    []Request     // by Index
	changed chan struct{} // closed and replaced on every change
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (rec *recorder) notifyLocked() {
	close(rec.changed)
	rec.changed = make(chan struct{})
}

func (rec *recorder) add(r Request) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	r.Index = len(rec.reqs)
	rec.reqs = append(rec.reqs, r)
	rec.notifyLocked()
	return r.Index
}

func (rec *recorder) update(i int, fn func(*Request)) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	fn(&rec.reqs[i])
	rec.notifyLocked()
}

// Requests returns every request seen so far, in arrival order. A fast
// server records none.
func (s *Server) Requests() []Request {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]Request(nil), s.rec.reqs...)
}

// Request returns request i (from 0); it fails t if there is none.
func (s *Server) Request(t testing.TB, i int) Request {
	t.Helper()
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	if i < 0 || i >= len(s.rec.reqs) {
		t.Fatalf("upstreamtest: no request %d, %d seen", i, len(s.rec.reqs))
	}
	return s.rec.reqs[i]
}

// WaitRequests waits until n requests have arrived and returns them all.
func (s *Server) WaitRequests(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	var reqs []Request
	s.waitFor(t, timeout, func(all []Request) bool {
		reqs = append([]Request(nil), all...)
		return len(all) >= n
	}, "%d requests", n)
	return reqs
}

// WaitDone waits until request i's handler has returned.
func (s *Server) WaitDone(t testing.TB, i int, timeout time.Duration) Request {
	t.Helper()
	var r Request
	s.waitFor(t, timeout, func(all []Request) bool {
		if i < len(all) {
			r = all[i]
		}
		return r.Done()
	}, "request %d to end", i)
	return r
}

// WaitCanceled waits until request i's context has been cancelled: the
// client's disconnect has reached the upstream.
func (s *Server) WaitCanceled(t testing.TB, i int, timeout time.Duration) Request {
	t.Helper()
	var r Request
	s.waitFor(t, timeout, func(all []Request) bool {
		if i < len(all) {
			r = all[i]
		}
		return r.Canceled
	}, "request %d to be cancelled", i)
	return r
}

// WaitIdle waits until no request is in flight.
func (s *Server) WaitIdle(t testing.TB, timeout time.Duration) {
	t.Helper()
	s.waitFor(t, timeout, func([]Request) bool { return s.InFlight() == 0 }, "no request in flight")
}

// waitFor calls cond with the recorded requests (under the lock) on every
// change until it holds; at timeout it fails t.
func (s *Server) waitFor(t testing.TB, timeout time.Duration, cond func([]Request) bool, format string, args ...any) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.rec.mu.Lock()
		ok := cond(s.rec.reqs)
		changed := s.rec.changed
		s.rec.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("upstreamtest: waited %v for "+format, append([]any{timeout}, args...)...)
		}
	}
}
