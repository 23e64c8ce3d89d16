package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

// relEndless is a request body that never ends: a JSON object whose string
// value goes on forever. It counts the bytes read from it.
type relEndless struct {
	prefix []byte
	read   atomic.Int64
}

func (r *relEndless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		off := r.read.Load()
		if off < int64(len(r.prefix)) {
			c := copy(p[n:], r.prefix[off:])
			n += c
			r.read.Add(int64(c))
			continue
		}
		p[n] = 'a'
		n++
		r.read.Add(1)
	}
	return n, nil
}

// Property 14: a body over the configured limit gets 413 in the route's
// dialect after relay has read at most a little more than the limit (one
// read buffer), whether the client declared its length or streams it
// chunked. Measured by counting the bytes the handler pulls from the body.
func TestReliabilityBodyOverLimitIs413AfterReadingLittle(t *testing.T) {
	const limit = 4096
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := relStart(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) { c.BodyLimit = limit }})
		tok := e.AdminToken(t)
		for _, tc := range []struct {
			name, path, auth, prefix, want string
		}{
			{"claude", "/api/v1/messages", "x-api-key:" + e.key, `{"model":"` + relModel + `","messages":[{"role":"user","content":"`, `"type":"request_too_large"`},
			{"codex", "/openai/responses", "Authorization:Bearer " + e.key, `{"model":"gpt-5","input":"`, `"code":"request_too_large"`},
			{"login", "/api/v2/auth/admin/login", "", `{"username":"admin","password":"`, `"code":"payload_too_large"`},
			{"admin write", "/api/v2/keys", "Authorization:Bearer " + tok, `{"name":"`, `"code":"payload_too_large"`},
		} {
			for _, declared := range []bool{false, true} {
				name := tc.name + "/chunked"
				if declared {
					name = tc.name + "/declared"
				}
				t.Run(name, func(t *testing.T) {
					body := &relEndless{prefix: []byte(tc.prefix)}
					req := httptest.NewRequest(http.MethodPost, tc.path, io.NopCloser(body))
					req.ContentLength = -1
					if declared {
						req.ContentLength = 64 << 20
					}
					req.Header.Set("Content-Type", "application/json")
					if k, v, ok := strings.Cut(tc.auth, ":"); ok {
						req.Header.Set(k, v)
					}
					rec := httptest.NewRecorder()
					e.Edge.Handler().ServeHTTP(rec, req)
					read := body.read.Load()
					if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), tc.want) {
						t.Errorf("property 14 (over-limit body gets 413): %s got %d %s after reading %d bytes", tc.path, rec.Code, rec.Body, read)
					}
					if max := int64(limit + 64<<10); read > max {
						t.Errorf("read %d bytes of an endless body with a %d-byte limit", read, limit)
					}
					if declared && read != 0 {
						t.Errorf("read %d bytes of a body declared larger than the limit", read)
					}
					t.Logf("%s: %d after reading %d bytes (limit %d)", tc.path, rec.Code, read, limit)
				})
			}
		}
		// The same over a real connection: the client gets the 413.
		body := &relEndless{prefix: []byte(`{"model":"` + relModel + `","messages":"`)}
		req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/api/v1/messages", io.LimitReader(body, 32<<20))
		req.Header.Set("x-api-key", e.key)
		resp, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatalf("over the wire: %v (after sending %d bytes)", err, body.read.Load())
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("over the wire: %d", resp.StatusCode)
		}
		if e.up.Total() != 0 {
			t.Fatal("an over-limit request reached the upstream")
		}
	})
}

// Property 14: deeply nested JSON is refused with a 400 in the route's
// dialect, without exhausting the stack (a stack overflow would kill the
// test binary), on the relay routes and on admin routes.
func TestReliabilityDeeplyNestedJSONIsRefused(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := relStart(t, b, 1, edgetest.Options{})
		tok := e.AdminToken(t)
		const depth = 100_000
		nests := map[string]string{
			"arrays":  strings.Repeat("[", depth) + strings.Repeat("]", depth),
			"objects": strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth),
			// Nested inside a field relay reads (the messages).
			"in messages": `{"model":"` + relModel + `","stream":true,"messages":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`,
			"unclosed":    `{"model":"` + relModel + `","metadata":` + strings.Repeat(`{"a":[`, depth),
		}
		for _, rt := range []struct{ path, auth, want string }{
			{"/api/v1/messages", "x-api-key:" + e.key, `"type":"invalid_request_error"`},
			{"/openai/responses", "Authorization:Bearer " + e.key, `"type":"invalid_request_error"`},
			{"/api/v2/auth/admin/login", "", `"code":"validation_error"`},
			{"/api/v2/keys", "Authorization:Bearer " + tok, `"code":"validation_error"`},
		} {
			for name, body := range nests {
				req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+rt.path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if k, v, ok := strings.Cut(rt.auth, ":"); ok {
					req.Header.Set(k, v)
				}
				resp, err := e.HTTP.Client().Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", rt.path, name, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), rt.want) {
					t.Errorf("property 14 (deeply nested JSON refused): %s %s: %d %.200s", rt.path, name, resp.StatusCode, got)
				}
			}
		}
		if e.up.Total() != 0 {
			t.Errorf("%d nested requests reached the upstream", e.up.Total())
		}
	})
}

// Property 14: a client that sends its request headers slowly (or not at
// all) is cut off by the HTTP server's ReadHeaderTimeout (10 s, fixed in
// edge.Server.Serve) rather than holding a connection forever. Tested over
// a real listener served by Server.Serve.
func TestReliabilitySlowHeadersAreCutOff(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("waits for the 10 s ReadHeaderTimeout; runs without -short (and always in CI)")
	}
	t.Parallel()
	const readHeaderTimeout = 10 * time.Second
	e := relStart(t, redistest.Embedded(t), 1, edgetest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.Edge.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	type result struct {
		name string
		took time.Duration
		got  string
	}
	results := make(chan result, 2)
	for _, trickle := range []bool{false, true} {
		name := "silent"
		if trickle {
			name = "trickling"
		}
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				results <- result{name: name, got: err.Error()}
				return
			}
			defer c.Close()
			start := time.Now()
			head := "POST /api/v1/messages HTTP/1.1\r\nHost: relay\r\nx-api-key: cr_"
			_, _ = c.Write([]byte(head))
			closed := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(bufio.NewReader(c))
				closed <- string(b)
			}()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(3 * readHeaderTimeout)
			for {
				select {
				case got := <-closed:
					results <- result{name: name, took: time.Since(start), got: got}
					return
				case <-tick.C:
					if trickle {
						_, _ = c.Write([]byte("a")) // one more header byte, never the end
					}
				case <-giveUp:
					results <- result{name: name, took: time.Since(start), got: "still open"}
					return
				}
			}
		}()
	}
	for range 2 {
		r := <-results
		if r.took < readHeaderTimeout-time.Second || r.took > readHeaderTimeout+5*time.Second {
			t.Errorf("property 14 (slow headers are cut off): %s client cut after %v (%q), want about %v", r.name, r.took, r.got, readHeaderTimeout)
			continue
		}
		// net/http answers a header timeout with at most a 408 before
		// closing; it never reaches relay's handlers.
		if r.got != "" && !bytes.HasPrefix([]byte(r.got), []byte("HTTP/1.1 408")) {
			t.Errorf("%s client got %q", r.name, r.got)
		}
		t.Logf("%s client cut off after %v", r.name, r.took)
	}
}
