//go:build cluster

package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/store"
)

// testConcurrency: a key with concurrencyLimit 1 admits one stream across
// both edges. Ten streams start at once, five on each edge; the fake
// upstream holds whichever was admitted until the other nine have their
// answer.
func (d *deployment) testConcurrency(t *testing.T) {
	_, key := d.newKey(t, map[string]any{"name": "concurrency", "concurrencyLimit": 1})
	const n = 10
	results := make(chan answer, n)
	for i := range n {
		go func() { results <- d.ledger.send(d.edges[i%2], key, fmt.Sprintf("%s %d", holdMarker, i), "") }()
	}
	var early []answer
	timeout := time.After(20 * time.Second)
	for len(early) < n-1 {
		select {
		case a := <-results:
			early = append(early, a)
		case <-timeout:
			t.Fatalf("%d of %d answers while the admitted stream is held (%d held upstream):\n%s", len(early), n-1, d.heldCalls(), describe(early))
		}
	}
	waitFor(t, 10*time.Second, "the admitted stream reaching the upstream", func() bool { return d.heldCalls() == 1 })
	perEdge := map[string]int{}
	for _, a := range early {
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Fatalf("a refused stream got %d (Retry-After %q), want 429 with Retry-After: %s", a.status, a.header.Get("Retry-After"), a.body)
		}
		perEdge[a.edge]++
	}
	d.fake.releaseHeld()
	var admitted answer
	select {
	case admitted = <-results:
	case <-time.After(requestTimeout):
		t.Fatal("the admitted stream did not finish after its release")
	}
	if admitted.status != http.StatusOK {
		t.Fatalf("the admitted stream got %d: %s", admitted.status, admitted.body)
	}
	// Its lease is gone on both edges: one more stream on each is admitted.
	for _, e := range d.edges {
		if a := d.ledger.send(e, key, "after the held stream", ""); a.status != http.StatusOK {
			t.Fatalf("%s after the release: %d %s", e.name, a.status, a.body)
		}
	}
	t.Logf("concurrencyLimit 1, %d simultaneous streams over 2 edges: 1 admitted (via %s), %d refused with 429 (%v), upstream saw %d; then 1 more admitted on each edge",
		n, admitted.edge, len(early), perEdge, d.heldCalls())
}

// testWindow: rateLimitRequests 5 per 1-minute window admits exactly 5 of
// 12 simultaneous requests, 6 sent to each edge.
func (d *deployment) testWindow(t *testing.T) {
	const n, limit = 12, 5
	_, key := d.newKey(t, map[string]any{"name": "window", "rateLimitWindow": 1, "rateLimitRequests": limit})
	as := d.concurrently(n, func(i int) answer {
		return d.ledger.send(d.edges[i%2], key, fmt.Sprintf("window request %d", i), "")
	})
	c := count(as)
	admittedBy := map[string]int{}
	for _, a := range as {
		if a.status == http.StatusOK {
			admittedBy[a.edge]++
		}
	}
	if c[http.StatusOK] != limit || c[http.StatusTooManyRequests] != n-limit {
		t.Fatalf("window of %d: statuses %v; want %d x 200 and %d x 429:\n%s", limit, c, limit, n-limit, describe(as))
	}
	t.Logf("rateLimitRequests %d per window, %d simultaneous requests over 2 edges: %d admitted %v, %d refused with 429",
		limit, n, c[http.StatusOK], admittedBy, c[http.StatusTooManyRequests])
}

// testSticky: requests of one session alternate between the edges and all
// land on the account the session's first request got.
func (d *deployment) testSticky(t *testing.T, accts map[string]account) {
	const sessions, perSession = 4, 6
	keyID, key := d.newKey(t, map[string]any{"name": "sticky"})
	ids := make([][]string, sessions)
	for s := range sessions {
		sid := fmt.Sprintf("7c9e6679-7425-40de-944b-e07fc1f9%04d", s)
		for i := range perSession {
			a := d.ledger.send(d.edges[i%2], key, fmt.Sprintf("sticky session %d request %d", s, i), sid)
			if a.status != http.StatusOK {
				t.Fatalf("session %d request %d on %s: %d %s", s, i, a.edge, a.status, a.body)
			}
			ids[s] = append(ids[s], a.requestID)
		}
	}
	us := d.keyUsage(t, keyID, sessions*perSession)
	var summary []string
	for s := range sessions {
		first := us[ids[s][0]]
		for i, id := range ids[s] {
			u := us[id]
			if u.AccountID != first.AccountID {
				t.Errorf("session %d request %d (edge-%d) went to %s, its first went to %s", s, i, i%2+1, accts[u.AccountID].name, accts[first.AccountID].name)
			}
			if want := map[bool]string{true: store.ByScheduled, false: store.BySticky}[i == 0]; u.ChosenBy != want {
				t.Errorf("session %d request %d chosen by %q, want %q", s, i, u.ChosenBy, want)
			}
		}
		summary = append(summary, fmt.Sprintf("session %d -> %s", s+1, accts[first.AccountID].name))
	}
	t.Logf("%d sessions x %d requests alternating edges, each session on one account: %s", sessions, perSession, strings.Join(summary, ", "))
}

// testLRU: one-off requests (no session in common) alternating between
// the edges rotate through the three accounts: the least recently used
// order is shared, so each account serves exactly a third and never twice
// in a row.
func (d *deployment) testLRU(t *testing.T, accts map[string]account) {
	const n = 12
	keyID, key := d.newKey(t, map[string]any{"name": "lru"})
	var order []string
	for i := range n {
		a := d.ledger.send(d.edges[i%2], key, fmt.Sprintf("lru request %d", i), "")
		if a.status != http.StatusOK {
			t.Fatalf("request %d on %s: %d %s", i, a.edge, a.status, a.body)
		}
		order = append(order, a.requestID)
	}
	us := d.keyUsage(t, keyID, n)
	perAccount := map[string]int{}
	var seq []string
	for i, id := range order {
		name := accts[us[id].AccountID].name
		seq = append(seq, name)
		perAccount[name]++
		if i > 0 && seq[i] == seq[i-1] {
			t.Errorf("requests %d and %d (different edges) both went to %s", i-1, i, name)
		}
	}
	for _, a := range accts {
		if perAccount[a.name] != n/len(accts) {
			t.Errorf("account %s served %d of %d requests, want %d", a.name, perAccount[a.name], n, n/len(accts))
		}
	}
	t.Logf("%d requests alternating edges: accounts in order %s; per account %v", n, strings.Join(seq, " "), perAccount)
}

// concurrently runs n calls of fn at once and returns their answers.
func (d *deployment) concurrently(n int, fn func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = fn(i) })
	}
	wg.Wait()
	return out
}
