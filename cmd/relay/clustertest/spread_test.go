//go:build cluster

package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testOverloaded: edge 1 meets a 529 from the preferred account, marks it
// overloaded and fails over; edge 2 learns the state through STATE and
// never sends it a request.
func (d *deployment) testOverloaded(t *testing.T) {
	ao := d.newAccount(t, "preferred", 10)
	d.fake.mu.Lock()
	d.fake.overloaded = ao.apiKey
	d.fake.mu.Unlock()
	keyID, key := d.newKey(t, map[string]any{"name": "overload"})

	first := d.ledger.send(d.edges[0], key, "overload first", "")
	marked := time.Now()
	if first.status != http.StatusOK {
		t.Fatalf("edge-1: %d %s", first.status, first.body)
	}
	var reasons []string
	waitFor(t, 5*time.Second, "edge-2 seeing the account overloaded", func() bool {
		var ok bool
		ok, reasons = d.availability(t, d.edges[1], ao.id)
		return !ok && len(reasons) > 0 && strings.HasPrefix(reasons[0], "overloaded")
	})
	lag := time.Since(marked)
	if lag > 2*time.Second {
		t.Errorf("edge-2 learned the overloaded state %v after edge-1 answered; want within 2s", lag)
	}
	u := d.keyUsage(t, keyID, 1)[first.requestID]
	if u.Attempts != 2 || len(u.AttemptLog) != 1 || u.AttemptLog[0].AccountID != ao.id || u.AttemptLog[0].Status != 529 || u.AccountID == ao.id {
		t.Fatalf("first request: %d attempts %+v, served by %s; want a 529 from %s, then another account", u.Attempts, u.AttemptLog, u.AccountID, ao.id)
	}
	const more = 8
	var ids []string
	for i := range more {
		a := d.ledger.send(d.edges[(i+1)%2], key, fmt.Sprintf("overload after %d", i), "")
		if a.status != http.StatusOK {
			t.Fatalf("request %d on %s: %d %s", i, a.edge, a.status, a.body)
		}
		ids = append(ids, a.requestID)
	}
	us := d.keyUsage(t, keyID, 1+more)
	for _, id := range ids {
		if u := us[id]; u.Attempts != 1 || u.AccountID == ao.id {
			t.Errorf("request %s: %d attempts, account %s; want one attempt on another account", id, u.Attempts, u.AccountID)
		}
	}
	if n := d.upstreamCalls(ao.apiKey); n != 1 {
		t.Errorf("the overloaded account got %d upstream requests, want 1 (the one that found it overloaded)", n)
	}
	t.Logf("edge-1 marked %s overloaded (%s); edge-2 saw it after %v; the next %d requests (both edges) took 1 attempt each, none on it",
		ao.name, reasons[0], lag.Round(time.Millisecond), more)
}

// testKeyDeleted: a key deleted through edge 1 is refused there at once
// and by edge 2 within 2 s.
func (d *deployment) testKeyDeleted(t *testing.T) {
	id, key := d.newKey(t, map[string]any{"name": "deleted"})
	for _, e := range d.edges {
		if a := d.ledger.send(e, key, "before delete", ""); a.status != http.StatusOK {
			t.Fatalf("%s before delete: %d %s", e.name, a.status, a.body)
		}
	}
	d.admin.do(t, http.MethodDelete, "/api/v2/keys/"+id, nil, nil)
	deleted := time.Now()
	d.liveKeys--
	if a := d.ledger.send(d.edges[0], key, "after delete", ""); a.status != http.StatusUnauthorized {
		t.Fatalf("edge-1 right after the delete: %d, want 401", a.status)
	}
	polls := 0
	waitFor(t, 2*time.Second, "edge-2 refusing the deleted key", func() bool {
		polls++
		return d.ledger.send(d.edges[1], key, fmt.Sprintf("after delete %d", polls), "").status == http.StatusUnauthorized
	})
	t.Logf("key deleted through edge-1: refused there at once, by edge-2 %v later (request %d)", time.Since(deleted).Round(time.Millisecond), polls)
}
