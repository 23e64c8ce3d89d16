package upstreamtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	claudeStream = `{"model":"claude-sonnet-4-5-20250929","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	claudeOnce   = `{"model":"claude-sonnet-4-5-20250929","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	codexStream  = `{"model":"gpt-5-codex","stream":true,"input":[{"role":"user","content":"hi"}]}`
	codexOnce    = `{"model":"gpt-5-codex","input":"hi"}`
)

// do sends a request to s and returns the response; headers are name,
// value pairs.
func do(t *testing.T, ctx context.Context, s *Server, method, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func post(t *testing.T, s *Server, path, body string, headers ...string) *http.Response {
	t.Helper()
	return do(t, context.Background(), s, http.MethodPost, path, body, headers...)
}

// events reads the whole SSE body; it fails t on a broken stream.
func events(t *testing.T, resp *http.Response) []Event {
	t.Helper()
	evs, err := ReadEvents(resp.Body)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return evs
}

func decode(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
