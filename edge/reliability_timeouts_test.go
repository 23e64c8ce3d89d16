package edge_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/store/redistest"
)

// Property 11: an upstream that sends no headers within FirstByteTimeout
// costs the client nothing when another account can serve (failover), and
// ends in a 504 when none can. Either way the hung upstream call is
// cancelled and every lease is released.
func TestReliabilityFirstByteTimeoutFailsOverOr504(t *testing.T) {
	const firstByte = 300 * time.Millisecond
	short := edgetest.Options{Edge: func(c *edge.Config) { c.FirstByteTimeout = firstByte }}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		t.Run("failover", func(t *testing.T) {
			e := relStart(t, b, 2, short)
			e.up.Enqueue(upstreamtest.Reply{HeaderDelay: upstreamtest.Forever})
			start := time.Now()
			r := relDo(t.Context(), e.HTTP.Client(), e.HTTP.URL, e.key, relBody)
			took := time.Since(start)
			if !r.complete {
				t.Fatalf("client saw %d %v %s", r.status, r.err, r.body)
			}
			if took < firstByte || took > firstByte+2*time.Second {
				t.Fatalf("answered after %v; first-byte timeout %v", took, firstByte)
			}
			u := e.WaitUsage(t, 1)[0]
			if u.Attempts != 2 || len(u.AttemptLog) != 1 || u.AttemptLog[0].Error != "timeout before response headers" || u.Outcome != "ok" {
				t.Fatalf("usage %+v", u)
			}
			e.up.WaitCanceled(t, 0, 5*time.Second)
			relLeasesFree(t, e.Env, "key1", "acct0", "acct1")
			t.Logf("failover after a silent upstream: answered in %v", took)
		})
		t.Run("504", func(t *testing.T) {
			e := relStart(t, b, 1, short)
			e.up.Enqueue(upstreamtest.Reply{HeaderDelay: upstreamtest.Forever})
			start := time.Now()
			r := relDo(t.Context(), e.HTTP.Client(), e.HTTP.URL, e.key, relBody)
			took := time.Since(start)
			if r.status != http.StatusGatewayTimeout || !strings.Contains(string(r.body), `"type":"error"`) {
				t.Fatalf("property 11 (no upstream headers in time and no other account: 504): client saw %d %s", r.status, r.body)
			}
			if took < firstByte || took > firstByte+2*time.Second {
				t.Fatalf("504 after %v; first-byte timeout %v", took, firstByte)
			}
			u := e.WaitUsage(t, 1)[0]
			if u.Outcome != "timeout" || u.Status != http.StatusGatewayTimeout || u.ID != r.id {
				t.Fatalf("usage %+v", u)
			}
			e.up.WaitCanceled(t, 0, 5*time.Second)
			relLeasesFree(t, e.Env, "key1", "acct0")
			t.Logf("504 after a silent upstream: answered in %v", took)
		})
	})
}

// Property 11: a stream that stalls after its first bytes ends, after
// StreamIdleTimeout, with an error event in the route's dialect (never a
// fake clean end); usage records what was observed; the upstream call is
// cancelled and the leases released.
func TestReliabilityStalledStreamEndsWithAnErrorEvent(t *testing.T) {
	const idle = 300 * time.Millisecond
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := relStart(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) { c.StreamIdleTimeout = idle }})
		e.up.Enqueue(upstreamtest.Reply{StallAfter: 3, Usage: upstreamtest.Usage{InputTokens: 61, OutputTokens: 1}})
		req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(relBody))
		req.Header.Set("x-api-key", e.key)
		resp, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		relReadUntil(t, br, "content_block_start")
		stalled := time.Now()
		rest := relReadUntil(t, br, `"type":"error"`)
		took := time.Since(stalled)
		if !strings.Contains(rest, "upstream stream stalled") || strings.Contains(rest, "message_stop") {
			t.Fatalf("stream ended with %s", rest)
		}
		if took < idle-50*time.Millisecond || took > idle+2*time.Second {
			t.Fatalf("error event %v after the stall; idle timeout %v", took, idle)
		}
		u := e.WaitUsage(t, 1)[0]
		if u.Outcome != "timeout" || u.Tokens.InputTokens != 61 {
			t.Fatalf("usage %+v", u)
		}
		e.up.WaitCanceled(t, 0, 5*time.Second)
		relLeasesFree(t, e.Env, "key1", "acct0")
		t.Logf("stalled stream ended with an error event %v after the stall", took)
	})
}

// Property 10 (addition to TestClientDisconnectCancelsUpstreamAndIsRecordedOnce,
// which checks the key's lease): a client that goes away releases every
// lease it took, the key's and the account's, whether it leaves while
// relay waits for the upstream's headers or in the middle of the stream.
func TestReliabilityClientDisconnectReleasesEveryLease(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		for _, tc := range []struct {
			name  string
			reply upstreamtest.Reply
		}{
			{"before headers", upstreamtest.Reply{HeaderDelay: upstreamtest.Forever}},
			{"mid-stream", upstreamtest.Reply{StallAfter: 3}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := relStart(t, b, 2, edgetest.Options{})
				e.up.Enqueue(tc.reply)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(relBody))
				req.Header.Set("x-api-key", e.key)
				done, streaming, leave := make(chan struct{}), make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					resp, err := e.HTTP.Client().Do(req)
					if err == nil {
						bufio.NewReader(resp.Body).ReadString('\n')
						close(streaming)
						<-leave
						cancel()
						resp.Body.Close()
					}
				}()
				first := e.up.WaitRequests(t, 1, 5*time.Second)[0]
				midStream := tc.reply.HeaderDelay == 0
				if midStream {
					<-streaming
				}
				inFlight, err := e.Store.AccountInFlight(ctx, time.Now(), "acct0", "acct1")
				if err != nil || inFlight["acct0"]+inFlight["acct1"] != 1 {
					t.Fatalf("account leases while the request runs: %v %v", inFlight, err)
				}
				close(leave)
				if !midStream {
					cancel()
				}
				<-done
				e.up.WaitCanceled(t, first.Index, 5*time.Second)
				relLeasesFree(t, e.Env, "key1", "acct0", "acct1")
				if u := e.WaitUsage(t, 1)[0]; u.Outcome != "client_closed" {
					t.Fatalf("usage %+v", u)
				}
			})
		}
	})
}

// Property 11: a client that stops reading a stream (its connection open,
// its receive window full) must not hold a goroutine, an upstream call and
// its concurrency leases forever. relay has no client write deadline, so
// the bound tested is StreamIdleTimeout plus slack: a client silent for as
// long as an upstream may be silent is gone.
func TestReliabilityClientThatStopsReadingIsCutOff(t *testing.T) {
	const idle = 500 * time.Millisecond
	b := redistest.Embedded(t)
	e := relStart(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) { c.StreamIdleTimeout = idle }})
	// About 4 MB of SSE, far more than the socket buffers between relay
	// and a client whose receive buffer is 4 KB.
	e.up.Enqueue(upstreamtest.Reply{Text: strings.Repeat("relay reliability ", 240_000), Deltas: 1000, Usage: relUsage})
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(relBody))
	req.Header.Set("x-api-key", e.key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever happens, the connection closes before the test's cleanup,
	// which waits for every handler.
	defer resp.Body.Close()
	stopped := time.Now()
	// The client reads nothing more. Within the bound relay must give up.
	deadline := stopped.Add(idle + 5*time.Second)
	for {
		n, err := e.Store.KeyInFlight(context.Background(), "key1", time.Now())
		if err == nil && n == 0 && e.up.InFlight() == 0 {
			t.Logf("stalled client cut off %v after it stopped reading", time.Since(stopped))
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("property 11 (a client that stops reading does not hold resources forever): %v after the client stopped reading, the key still holds %d lease(s) and the upstream %d call(s): the handler is blocked writing to the client (no write deadline) while its lease renewer keeps the slots",
				time.Since(stopped), n, e.up.InFlight())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Property 11: after timeouts, stalls and disconnects, and once the relay
// and the upstream are closed, the process runs no more goroutines than
// before: nothing is left blocked.
func TestReliabilityTimeoutsLeaveNoGoroutines(t *testing.T) {
	runtime.GC()
	before := runtime.NumGoroutine()
	t.Run("scenarios", func(t *testing.T) {
		b := redistest.Embedded(t)
		// Failed accounts rest for a minute: four leave room for both
		// failovers.
		e := relStart(t, b, 4, edgetest.Options{Edge: func(c *edge.Config) {
			c.FirstByteTimeout, c.StreamIdleTimeout = 200*time.Millisecond, 200*time.Millisecond
		}})
		e.up.Enqueue(
			upstreamtest.Reply{HeaderDelay: upstreamtest.Forever}, // first-byte timeout, failover
			upstreamtest.Reply{Usage: relUsage},
			upstreamtest.Reply{StallAfter: 3}, // stalled stream
			upstreamtest.Reply{CutAfter: 4},   // mid-stream cut
			upstreamtest.Reply{Hangup: true},  // connection failure, failover
			upstreamtest.Reply{Usage: relUsage},
			upstreamtest.Reply{StallAfter: 2, StallFor: time.Hour}, // client disconnect
		)
		for range 4 {
			relDo(t.Context(), e.HTTP.Client(), e.HTTP.URL, e.key, relBody)
		}
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(relBody))
		req.Header.Set("x-api-key", e.key)
		resp, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(resp.Body).ReadString('\n')
		cancel()
		resp.Body.Close()
		e.WaitUsage(t, 5)
		e.up.WaitIdle(t, 5*time.Second)
		relLeasesFree(t, e.Env, "key1", "acct0", "acct1", "acct2", "acct3")
		e.HTTP.Client().CloseIdleConnections()
	})
	// Everything the subtest started is closed by its cleanups now.
	relGoroutinesBack(t, before, 10*time.Second)
}
