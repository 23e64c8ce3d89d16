package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/store/redistest"
)

// rawRequest writes head (request line and headers, without the blank
// line) and the first part of a body on a fresh connection, and returns the
// connection and a reader of its answers. The test's own patience is
// patience: a server that does not answer within it fails the test.
func rawRequest(t *testing.T, env *edgetest.Env, head, partial string, patience time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", env.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head+"\r\nHost: relay\r\n\r\n"+partial); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(patience))
	return conn, bufio.NewReader(conn)
}

// TestSlowBodyIsCut: a login body trickled a byte at a time is answered 408
// in the admin format once the body bound passes, and the connection
// closes. Before, relay waited for the body as long as bytes kept coming
// (240 s measured at a byte every 5 s).
func TestSlowBodyIsCut(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{NoWorkers: true, Edge: func(c *edge.Config) {
		c.BodyTimeout = 300 * time.Millisecond
	}})
	conn, br := rawRequest(t, env, "POST /api/v2/auth/admin/login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 4096", `{"username":`, 20*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the slowloris: one byte every 50 ms, far below any bound
		for ctx.Err() == nil {
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer while the body trickled: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Success bool
		Error   struct{ Code string }
	}
	if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal(body, &out) != nil || out.Success || out.Error.Code != "request_timeout" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the connection stays open after a cut body")
	}
}

// TestRefusedBeforeTheBody: a request without a valid key (or token) gets
// its 401 while its body is still on the way: the test sends the headers
// and a part of the body, never the rest, and reads the answer. The body
// bound is an hour here, so only an answer that does not wait for the body
// arrives. Before, net/http read the rest of the body before the 401 left.
func TestRefusedBeforeTheBody(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{NoWorkers: true, Edge: func(c *edge.Config) {
		c.BodyTimeout = time.Hour
	}})
	unknown := "cr_" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, head, want string
	}{
		{"claude without key", "POST /api/v1/messages HTTP/1.1\r\nContent-Length: 100000", `"authentication_error"`},
		{"claude unknown key", "POST /api/v1/messages HTTP/1.1\r\nx-api-key: " + unknown + "\r\nContent-Length: 100000", `"authentication_error"`},
		{"claude foreign key", "POST /claude/v1/messages HTTP/1.1\r\nx-api-key: sk-ant-api03-foreign\r\nTransfer-Encoding: chunked", `"authentication_error"`},
		{"codex unknown key", "POST /openai/v1/responses HTTP/1.1\r\nAuthorization: Bearer " + unknown + "\r\nContent-Length: 100000", `"invalid_api_key"`},
		{"admin without token", "POST /api/v2/keys HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100000", `"unauthorized"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			partial := `{"model":"claude-sonnet-4-5-20250929","messages":[`
			if strings.Contains(tc.head, "chunked") {
				partial = "400\r\n" + partial
			}
			_, br := rawRequest(t, env, tc.head, partial, 10*time.Second)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body ended: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(body, []byte(tc.want)) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if !resp.Close {
				t.Error("the connection stays open with a body half sent")
			}
		})
	}
}

// TestBodyBoundGrowsWithTheBody: a body that takes longer than BodyTimeout
// but arrives at a good rate is read whole (the bound grows by a second per
// BodyMinRate bytes), and a stream longer than BodyTimeout is not cut by
// the read deadline once the body is in.
func TestBodyBoundGrowsWithTheBody(t *testing.T) {
	e := newRelayEnvWith(t, redistest.Embedded(t), 1, edgetest.Options{Edge: func(c *edge.Config) {
		c.BodyTimeout = 500 * time.Millisecond
		c.BodyMinRate = 16 << 10
	}})
	e.up.SetDefault(upstreamtest.Reply{Deltas: 6, EventDelay: 150 * time.Millisecond})
	// About 160 KiB in 10 pieces 120 ms apart: 1.2 s, over BodyTimeout
	// alone; the bound at the end is 0.5 s + 10 s.
	pad := strings.Repeat("x", 16<<10)
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, `{"model":"claude-sonnet-4-5-20250929","max_tokens":100,"stream":true,"messages":[`)
		for i := range 10 {
			if i > 0 {
				io.WriteString(pw, ",")
			}
			io.WriteString(pw, `{"role":"user","content":"`+pad+`"}`)
			time.Sleep(120 * time.Millisecond)
		}
		io.WriteString(pw, `]}`)
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/api/v1/messages", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", e.key)
	start := time.Now()
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil || !bytes.Contains(body, []byte("message_stop")) {
		t.Fatalf("%d %v %s", resp.StatusCode, err, body)
	}
	t.Logf("body and stream took %v", time.Since(start).Round(time.Millisecond))
	// The same stream after a body sent with its length at once.
	resp2, body2 := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
	if resp2.StatusCode != http.StatusOK || !bytes.Contains(body2, []byte("message_stop")) {
		t.Fatalf("declared body: %d %s", resp2.StatusCode, body2)
	}
}
