package upstreamtest

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
)

// fastReplies is every answer of a fast server, encoded once.
type fastReplies struct {
	anthStream, anthJSON   [][]byte
	oaStream, oaJSON       [][]byte
	countTokens, modelList [][]byte
	compact, oaModelList   [][]byte
}

func precompute(anth, oa answer, models []string) *fastReplies {
	return &fastReplies{
		anthStream:  anthropicStream(anth),
		anthJSON:    [][]byte{anthropicMessage(anth)},
		oaStream:    openaiStream(oa),
		oaJSON:      [][]byte{openaiResponse(oa)},
		countTokens: [][]byte{countTokens(anth.Usage.InputTokens)},
		modelList:   [][]byte{anthropicModels(models)},
		compact:     [][]byte{openaiCompaction(oa)},
		oaModelList: [][]byte{openaiModels(DefaultOpenAIModels, oa.created)},
	}
}

// NewFast starts a benchmark upstream, closed when tb ends. It answers
// every request on a known route with rep's content (its faults, Model
// aside, are ignored) from precomputed bytes, flushing after each event,
// and allocates nothing per request beyond what net/http does. It records
// no Request and ignores Enqueue, SetScript, SetDefault and SetModels;
// the counters work. The answer names rep.Model, or claude-opus-5-5 /
// gpt-5, whatever the request asked for.
func NewFast(tb testing.TB, rep Reply) *Server {
	tb.Helper()
	s := start(&rep)
	tb.Cleanup(s.Close)
	return s
}

var (
	sseContentType  = []string{"text/event-stream; charset=utf-8"}
	jsonContentType = []string{"application/json"}
	noCache         = []string{"no-cache"}
	bodyPool        = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

func (s *Server) serveFast(w http.ResponseWriter, r *http.Request) {
	s.counts.begin(r.URL.Path)
	defer s.counts.end()
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	_, _ = buf.ReadFrom(r.Body)
	stream := streamTrue(buf.Bytes())
	bodyPool.Put(buf)

	rt, ok := findRoute(r.URL.Path)
	if !ok || r.Method != rt.method {
		http.NotFound(w, r)
		return
	}
	f := s.fast
	var parts [][]byte
	switch rt.kind {
	case kindMessages:
		parts = f.anthJSON
		if stream {
			parts = f.anthStream
		}
	case kindResponses:
		parts = f.oaJSON
		if stream {
			parts = f.oaStream
		}
	case kindCountTokens:
		parts, stream = f.countTokens, false
	case kindModels:
		parts, stream = f.modelList, false
	case kindCompact:
		parts, stream = f.compact, false
	case kindOpenAIModels:
		parts, stream = f.oaModelList, false
	}
	h := w.Header()
	if stream {
		h["Content-Type"] = sseContentType
		h["Cache-Control"] = noCache
	} else {
		h["Content-Type"] = jsonContentType
	}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// streamTrue reports whether a JSON body has "stream": true at some
// level, without decoding it: good enough for benchmark bodies.
func streamTrue(body []byte) bool {
	key := []byte(`"stream"`)
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return false
		}
		rest := bytes.TrimLeft(body[i+len(key):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			if bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("true")) {
				return true
			}
		}
		body = body[i+len(key):]
	}
}
