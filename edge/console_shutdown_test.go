package edge_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

// A browser keeping the console's live feed open does not hold the
// shutdown: Serve ends open feeds before it drains HTTP, well within the
// grace.
func TestConsoleLiveFeedDoesNotHoldShutdown(t *testing.T) {
	const grace = 20 * time.Second
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{Edge: func(c *edge.Config) { c.ShutdownGrace = grace }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- env.Edge.Serve(ctx, ln) }()

	b := newConsoleClient(t, env)
	b.base = "http://" + ln.Addr().String()
	b.signIn(edgetest.AdminPassword)
	resp, err := b.http.Get(b.base + "/console/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("live feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
		close(ended)
	}()

	start := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(grace):
		t.Fatal("Serve waited the whole grace for the open live feed")
	}
	if took := time.Since(start); took > grace/2 {
		t.Fatalf("shutdown took %v with a live feed open", took)
	} else {
		t.Logf("shutdown with a live feed open took %v", took.Round(time.Millisecond))
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the live feed was not ended")
	}
}
