package upstreamtest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestFastServesTheSameBytes(t *testing.T) {
	rep := Reply{Text: "benchmark answer", Model: "claude-opus-5-5", Usage: Usage{InputTokens: 1, OutputTokens: 2, CacheRead: 3}}
	fast := NewFast(t, rep)
	for _, c := range []struct{ path, body string }{
		{"/v1/messages", claudeStream},
		{"/v1/messages", claudeOnce},
		{"/v1/messages/count_tokens", claudeOnce},
	} {
		normal := New(t)
		normal.SetDefault(rep)
		want := readAll(t, post(t, normal, c.path, c.body).Body)
		resp := post(t, fast, c.path, c.body)
		equal(t, c.path+" status", resp.StatusCode, 200)
		equal(t, c.path+" body", readAll(t, resp.Body), want)
	}
	evs := events(t, post(t, fast, "/v1/responses", codexStream))
	equal(t, "openai last", evs[len(evs)-1].Name, "response.completed")
	var done struct {
		Response struct {
			Model string
			Usage oaUsageWire
		}
	}
	decode(t, evs[len(evs)-1].Data, &done)
	equal(t, "openai model", done.Response.Model, "claude-opus-5-5")
	equal(t, "openai cached", done.Response.Usage.InputTokensDetails.CachedTokens, 3)
	equal(t, "models", do(t, t.Context(), fast, http.MethodGet, "/v1/models", "").StatusCode, 200)

	equal(t, "counted", fast.Count("/v1/messages"), 2)
	equal(t, "total", fast.Total(), 5)
	equal(t, "recorded", len(fast.Requests()), 0)
	equal(t, "unknown", post(t, fast, "/nope", "{}").StatusCode, 404)
}

func TestStreamTrue(t *testing.T) {
	for body, want := range map[string]bool{
		`{"stream":true}`:                         true,
		`{"model":"x", "stream" : true}`:          true,
		`{"stream":false}`:                        false,
		`{"stream_options":{},"stream":true}`:     true,
		`{"content":"stream","stream": false}`:    false,
		`{"messages":[{"content":"\"stream\""}]}`: false,
		``: false,
	} {
		equal(t, body, streamTrue([]byte(body)), want)
	}
}

// discardWriter is a ResponseWriter that keeps nothing and allocates
// nothing, to measure the fast handler alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

func TestFastHandlerDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s := NewFast(t, Reply{})
	payload := []byte(claudeStream)
	body := bytes.NewReader(nil)
	req, _ := http.NewRequest(http.MethodPost, "/v1/messages", io.NopCloser(body))
	w := &discardWriter{h: http.Header{}}
	serve := func() {
		body.Reset(payload)
		s.ServeHTTP(w, req)
	}
	serve() // fill the header map and the body pool
	if allocs := testing.AllocsPerRun(100, serve); allocs > 0 {
		t.Errorf("%v allocations per request", allocs)
	}
}

func BenchmarkFastStream(b *testing.B) {
	s := NewFast(b, Reply{Deltas: 20, Usage: DefaultUsage})
	client := s.Client()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(s.URL+"/v1/messages", "application/json", strings.NewReader(claudeStream))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkFastHandler(b *testing.B) {
	s := NewFast(b, Reply{Deltas: 20})
	payload := []byte(claudeStream)
	body := bytes.NewReader(nil)
	req, _ := http.NewRequest(http.MethodPost, "/v1/messages", io.NopCloser(body))
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(payload)
		s.ServeHTTP(w, req)
	}
}
