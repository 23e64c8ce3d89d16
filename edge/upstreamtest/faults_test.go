package upstreamtest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestErrorStatuses(t *testing.T) {
	reset := time.Unix(1900000000, 0)
	for _, c := range []struct {
		name    string
		path    string
		reply   Reply
		status  int
		errType string // Anthropic error.type, or OpenAI error.type/code
		header  string // name=value expected in the response
	}{
		{"429 anthropic", "/v1/messages", RateLimited(30*time.Second, reset), 429, "rate_limit_error", "anthropic-ratelimit-unified-reset=1900000000"},
		{"429 retry-after", "/v1/messages", RateLimited(1500*time.Millisecond, time.Time{}), 429, "rate_limit_error", "retry-after=2"},
		{"529", "/v1/messages", Overloaded(), 529, "overloaded_error", "x-should-retry=true"},
		{"401", "/v1/messages", Unauthorized(), 401, "authentication_error", ""},
		{"403", "/v1/messages", Forbidden(), 403, "permission_error", ""},
		{"500", "/v1/messages", ServerError(), 500, "api_error", ""},
		{"400 typed", "/v1/messages", Reply{Status: 400, ErrorType: "invalid_request_error", ErrorMessage: "prompt is too long"}, 400, "invalid_request_error", ""},
		{"429 openai", "/responses", Reply{Status: 429, Header: Header("retry-after", "7", "x-ratelimit-reset-requests", "7s")}, 429, "requests/rate_limit_exceeded", "x-ratelimit-reset-requests=7s"},
		{"401 openai", "/responses", Unauthorized(), 401, "invalid_request_error/invalid_api_key", ""},
		{"500 openai", "/v1/responses", ServerError(), 500, "server_error/", ""},
		{"count_tokens 401", "/v1/messages/count_tokens", Unauthorized(), 401, "authentication_error", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(t)
			s.Enqueue(c.reply)
			body := claudeStream
			if strings.Contains(c.path, "responses") {
				body = codexStream
			}
			resp := post(t, s, c.path, body)
			equal(t, "status", resp.StatusCode, c.status)
			equal(t, "content type", resp.Header.Get("Content-Type"), "application/json")
			if name, value, ok := strings.Cut(c.header, "="); ok {
				equal(t, name, resp.Header.Get(name), value)
			}
			var e struct {
				Type  string
				Error struct {
					Type, Message string
					Code          *string
				}
			}
			decode(t, readAll(t, resp.Body), &e)
			got := e.Error.Type
			if strings.Contains(c.path, "responses") {
				code := ""
				if e.Error.Code != nil {
					code = *e.Error.Code
				}
				got += "/" + code
			} else {
				equal(t, "envelope type", e.Type, "error")
			}
			equal(t, "error type", got, c.errType)
			if e.Error.Message == "" {
				t.Error("empty error message")
			}
			equal(t, "recorded status", s.WaitDone(t, 0, time.Second).Status, c.status)
		})
	}
}

func TestCustomBody(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Status: 502, Body: []byte("<html>bad gateway</html>"), Header: Header("Content-Type", "text/html")})
	resp := post(t, s, "/v1/messages", claudeOnce)
	equal(t, "status", resp.StatusCode, 502)
	equal(t, "content type", resp.Header.Get("Content-Type"), "text/html")
	equal(t, "body", readAll(t, resp.Body), "<html>bad gateway</html>")
}

func TestHangupClosesWithoutAnswer(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{Hangup: true})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/messages", strings.NewReader(claudeStream))
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want a connection error", resp.StatusCode)
	}
	r := s.WaitDone(t, 0, time.Second)
	if !r.Aborted || r.Status != 0 {
		t.Errorf("recorded aborted %v status %d", r.Aborted, r.Status)
	}
	equal(t, "next request", post(t, s, "/v1/messages", claudeOnce).StatusCode, 200)
}

func TestStallBeforeHeadersUntilClientLeaves(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{HeaderDelay: Forever})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/messages", strings.NewReader(claudeStream))
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	s.WaitRequests(t, 1, 5*time.Second)
	equal(t, "in flight", s.InFlight(), 1)
	cancel()
	left := time.Now()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	r := s.WaitCanceled(t, 0, time.Second)
	if lag := r.CanceledAt.Sub(left); lag > time.Second {
		t.Errorf("cancel reached the upstream after %v", lag)
	}
	equal(t, "status", s.WaitDone(t, 0, time.Second).Status, 0)
}

func TestHeaderDelayThenAnswer(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{HeaderDelay: 50 * time.Millisecond})
	start := time.Now()
	equal(t, "status", post(t, s, "/v1/messages", claudeOnce).StatusCode, 200)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
}

// nextEvent reads one SSE event (through its blank line).
func nextEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read event: %v (so far %q)", err, b.String())
		}
		if line == "\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func TestStallMidStreamUntilClientLeaves(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{StallAfter: 2})
	ctx, cancel := context.WithCancel(t.Context())
	resp := do(t, ctx, s, http.MethodPost, "/v1/messages", claudeStream)
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"message_start", "content_block_start"} {
		if ev := nextEvent(t, br); !strings.HasPrefix(ev, "event: "+want+"\n") {
			t.Fatalf("got %q, want %s", ev, want)
		}
	}
	cancel()
	left := time.Now()
	r := s.WaitCanceled(t, 0, time.Second)
	if lag := r.CanceledAt.Sub(left); lag > time.Second {
		t.Errorf("cancel reached the upstream after %v", lag)
	}
	r = s.WaitDone(t, 0, time.Second)
	equal(t, "events written", r.Events, 2)
	equal(t, "status", r.Status, 200)
}

func TestStallForThenContinue(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{StallAfter: 3, StallFor: 60 * time.Millisecond})
	start := time.Now()
	evs := events(t, post(t, s, "/v1/messages", claudeStream))
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("stream took %v", d)
	}
	equal(t, "last", evs[len(evs)-1].Name, "message_stop")
}

func TestCutAfter(t *testing.T) {
	for _, c := range []struct {
		name   string
		path   string
		body   string
		cut    int
		events int
	}{
		{"anthropic after 4", "/v1/messages", claudeStream, 4, 4},
		{"anthropic before terminal", "/v1/messages", claudeStream, 1000, 8},
		{"anthropic after headers", "/v1/messages", claudeStream, AfterHeaders, 0},
		{"openai after 5", "/responses", codexStream, 5, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(t)
			s.Enqueue(Reply{CutAfter: c.cut})
			resp := post(t, s, c.path, c.body)
			equal(t, "status", resp.StatusCode, 200)
			evs, err := ReadEvents(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read error %v, want unexpected EOF", err)
			}
			equal(t, "events before the cut", len(evs), c.events)
			r := s.WaitDone(t, 0, time.Second)
			if !r.Aborted || r.Events != c.events {
				t.Errorf("recorded aborted %v events %d", r.Aborted, r.Events)
			}
		})
	}
	t.Run("non-stream body", func(t *testing.T) {
		s := New(t)
		s.Enqueue(Reply{CutAfter: 1})
		resp := post(t, s, "/v1/messages", claudeOnce)
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read error %v, want unexpected EOF", err)
		}
	})
}

func TestErrorEventMidStream(t *testing.T) {
	s := New(t)
	s.Enqueue(Reply{ErrorAfter: 3}, Reply{ErrorAfter: 2, ErrorType: "rate_limit_exceeded", ErrorMessage: "slow down"})
	evs := events(t, post(t, s, "/v1/messages", claudeStream))
	equal(t, "anthropic", Names(evs), []string{"message_start", "content_block_start", "ping", "error"})
	var ae struct {
		Type  string
		Error struct{ Type, Message string }
	}
	decode(t, evs[3].Data, &ae)
	equal(t, "anthropic error", ae.Type+"/"+ae.Error.Type+"/"+ae.Error.Message, "error/overloaded_error/Overloaded")

	evs = events(t, post(t, s, "/responses", codexStream))
	equal(t, "openai", Names(evs), []string{"response.created", "response.in_progress", "error"})
	var oe struct {
		Type, Code, Message string
		Sequence            int `json:"sequence_number"`
	}
	decode(t, evs[2].Data, &oe)
	equal(t, "openai error", oe.Type+"/"+oe.Code+"/"+oe.Message+"/"+strconv.Itoa(oe.Sequence), "error/rate_limit_exceeded/slow down/2")
}

func TestEventDelayDeliversEachEventPromptly(t *testing.T) {
	s := New(t)
	const delay = 50 * time.Millisecond
	s.Enqueue(Reply{Deltas: 1, EventDelay: delay}) // 7 events, 6 pauses
	start := time.Now()
	resp := post(t, s, "/v1/messages", claudeStream)
	br := bufio.NewReader(resp.Body)
	nextEvent(t, br)
	if s.Request(t, 0).Done() {
		t.Fatal("first event arrived only after the upstream finished")
	}
	rest, err := ReadEvents(br)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "events", 1+len(rest), 7)
	if d := time.Since(start); d < 6*delay {
		t.Errorf("stream took %v, want at least %v", d, 6*delay)
	}
}

func TestTrickleKeepsTheBytes(t *testing.T) {
	plain, trickled := New(t), New(t)
	trickled.Enqueue(Reply{Usage: DefaultUsage, Trickle: 7, TrickleDelay: time.Millisecond})
	want := readAll(t, post(t, plain, "/v1/messages", claudeStream).Body)
	start := time.Now()
	got := readAll(t, post(t, trickled, "/v1/messages", claudeStream).Body)
	equal(t, "trickled stream", got, want)
	if min := time.Duration(len(want)/7-10) * time.Millisecond; time.Since(start) < min {
		t.Errorf("trickle took %v, want at least %v", time.Since(start), min)
	}
}

func TestCloseEndsStalledHandlers(t *testing.T) {
	s := Start()
	s.Enqueue(Reply{HeaderDelay: Forever}, Reply{StallAfter: 1})
	for range 2 {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/messages", strings.NewReader(claudeStream))
			if resp, err := s.Client().Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	s.WaitRequests(t, 2, 5*time.Second)
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on stalled handlers")
	}
}
