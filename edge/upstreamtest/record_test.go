package upstreamtest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecorderCapturesTheRequest(t *testing.T) {
	s := New(t)
	resp := post(t, s, "/v1/messages?beta=true", claudeStream,
		"x-api-key", "sk-ant-account", "anthropic-version", "2023-06-01", "X-Claude-Code-Session-Id", "abc")
	io.Copy(io.Discard, resp.Body)
	r := s.WaitDone(t, 0, time.Second)
	equal(t, "index", r.Index, 0)
	equal(t, "api", r.API, Anthropic)
	equal(t, "method", r.Method, http.MethodPost)
	equal(t, "path", r.Path, "/v1/messages")
	equal(t, "query", r.RawQuery, "beta=true")
	equal(t, "key", r.Header.Get("x-api-key"), "sk-ant-account")
	equal(t, "session", r.Header.Get("x-claude-code-session-id"), "abc")
	equal(t, "authorization", r.Header.Values("Authorization"), []string(nil))
	equal(t, "body", string(r.Body), claudeStream)
	equal(t, "model", r.Model, "claude-sonnet-4-5-20250929")
	equal(t, "stream", r.Stream, true)
	equal(t, "status", r.Status, 200)
	equal(t, "events", r.Events, 9)
	if r.Canceled || r.Aborted {
		t.Errorf("a completed request recorded canceled %v aborted %v", r.Canceled, r.Aborted)
	}
	if r.Start.IsZero() || r.End.Before(r.Start) {
		t.Errorf("start %v end %v", r.Start, r.End)
	}
	io.Copy(io.Discard, post(t, s, "/responses", codexOnce).Body)
	equal(t, "api of /responses", s.WaitDone(t, 1, time.Second).API, OpenAI)
}

func TestCountersAndInFlight(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{HeaderDelay: Forever}, Reply{HeaderDelay: Forever}, Reply{HeaderDelay: Forever})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, path := range []string{"/v1/messages", "/v1/messages", "/responses"} {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader("{}"))
			if resp, err := s.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	s.WaitRequests(t, 3, 5*time.Second)
	equal(t, "in flight", s.InFlight(), 3)
	equal(t, "max in flight", s.MaxInFlight(), 3)
	equal(t, "messages", s.Count("/v1/messages"), 2)
	equal(t, "responses", s.Count("/responses"), 1)
	equal(t, "v1/responses", s.Count("/v1/responses"), 0)
	cancel()
	wg.Wait()
	s.WaitIdle(t, time.Second)
	equal(t, "total", s.Total(), 3)
	equal(t, "max in flight after", s.MaxInFlight(), 3)
	for _, r := range s.Requests() {
		if !r.Canceled {
			t.Errorf("request %d not recorded as canceled", r.Index)
		}
	}
}

func TestRecorderIsRaceFree(t *testing.T) {
	s := New(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/messages", strings.NewReader(claudeStream))
			if resp, err := s.Client().Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
		wg.Go(func() {
			_ = s.Requests()
			_ = s.InFlight() + s.Total() + s.Count("/v1/messages")
		})
	}
	wg.Wait()
	reqs := s.WaitRequests(t, 8, 5*time.Second)
	seen := map[int]bool{}
	for _, r := range reqs {
		seen[r.Index] = true
	}
	equal(t, "distinct indexes", len(seen), 8)
}
