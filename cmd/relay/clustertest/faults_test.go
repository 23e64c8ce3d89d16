//go:build cluster

package clustertest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// testWorkerKilled: the worker that applies the usage events is killed
// (SIGKILL) under load. The other takes over the shared consumers at once;
// the events the dead one had taken but not acknowledged come again after
// the consumer's ack wait, and the checkpoint applies each once ("one
// truth" checks the totals). A replacement worker then joins.
func (d *deployment) testWorkerKilled(t *testing.T) {
	_, key := d.newKey(t, map[string]any{"name": "worker-kill"})
	busy := 0
	if d.workers[1].metric(t, "relay_usage_requests_total") > d.workers[0].metric(t, "relay_usage_requests_total") {
		busy = 1
	}
	victim, survivor := d.workers[busy], d.workers[1-busy]
	survivorBefore := survivor.metric(t, "relay_usage_requests_total")
	var victimCount float64
	var killedAt time.Time
	all := d.loadAround(t, "worker kill", key, 2, 20, 2*time.Second, func() {
		victimCount = victim.metric(t, "relay_usage_requests_total")
		victim.kill()
		killedAt = time.Now()
	})
	if c := count(all); c[http.StatusOK] != len(all) {
		t.Errorf("with %s killed: statuses %v; want every request answered 200", victim.name, c)
	}
	// The survivor now applies what comes in.
	var survivorAfter float64
	// Up to the consumer's ack wait (30 s): the dead worker's unacknowledged
	// deliveries count against the usage consumer's MaxAckPending until
	// they expire.
	waitFor(t, 60*time.Second, survivor.name+" applying usage events", func() bool {
		survivorAfter = survivor.metric(t, "relay_usage_requests_total")
		return survivorAfter > survivorBefore
	})
	takeover := time.Since(killedAt)
	if code, body, err := get(survivor.base + "/ready"); code != http.StatusOK {
		t.Errorf("%s /ready after %s was killed: %d %s %v", survivor.name, victim.name, code, body, err)
	}
	replacement := startRelay(t, d.top, d.bin, "worker", victim.name+"-replacement", d.env("worker", busy+10))
	replacement.awaitListening(t)
	d.workers[busy] = replacement
	// Its /ready is not asserted: a worker whose shared consumers hand it
	// no event after it started keeps answering 503 "rebuilding" even
	// once the shared checkpoint has passed its start (workers.Runner
	// re-checks only when it applies an event itself), reported to the
	// owner of workers.
	code, body, _ := get(replacement.base + "/ready")
	t.Logf("killed %s (SIGKILL) after it had applied %v usage events, under load of %d requests (statuses %v); %s applied new events %v after the kill (%v -> %v); %s joined (/ready %d %s)",
		victim.name, victimCount, len(all), count(all), survivor.name, takeover.Round(time.Millisecond), survivorBefore, survivorAfter, replacement.name, code, body)
}

// testNodeLoss: four clients (two per edge) send requests while the node
// leading USAGE is shut down. Every request is still answered 200, and
// each has exactly one usage event once the edges' spools are empty.
func (d *deployment) testNodeLoss(t *testing.T) {
	keyID, key := d.newKey(t, map[string]any{"name": "node-loss"})
	leader := streamInfo(t, d.js, events.StreamUsage).Cluster.Leader
	victim := d.nats.node(t, leader)

	// An admin write answers 200 once its whole path works again (publish,
	// the workers' projection, this edge's catalog, each within the edge's
	// write wait); until then it is recorded but answered 503 (or 409 on a
	// stale version). Probes, updates of the key, start with the loss.
	ad2 := login(t, d.edges[1])
	type probeResult struct {
		n     int
		after time.Duration
		last  answer
	}
	probed := make(chan probeResult, 1)
	probe := func(killedAt time.Time) {
		r := probeResult{}
		poll(90*time.Second, func() bool {
			r.n++
			r.last = call(d.edges[1], http.MethodPut, "/api/v2/keys/"+keyID, map[string]any{"description": fmt.Sprintf("probe %d", r.n)},
				map[string]string{"Authorization": "Bearer " + ad2.token})
			return r.last.status == http.StatusOK
		})
		r.after = time.Since(killedAt)
		probed <- r
	}

	const before = 40
	all := d.loadAround(t, "node loss", key, 4, before, 8*time.Second, func() {
		killedAt := time.Now()
		victim.stop()
		go probe(killedAt)
	})
	var slowest time.Duration
	for _, a := range all {
		slowest = max(slowest, a.took)
	}
	c := count(all)
	if c[http.StatusOK] != len(all) {
		t.Errorf("with %s down: statuses %v; want every request answered 200", leader, c)
	}
	newLeader := streamInfo(t, d.js, events.StreamUsage).Cluster.Leader
	if newLeader == leader {
		t.Errorf("USAGE still led by the stopped node %s", leader)
	}
	d.waitSpoolsEmpty(t)
	spooled := 0
	for _, e := range d.edges {
		for _, line := range e.logLines() {
			if line["message"] == "usage event spooled: NATS did not acknowledge it" {
				spooled++
			}
		}
	}
	us := d.keyUsage(t, keyID, c[http.StatusOK])
	for _, a := range all {
		if _, ok := us[a.requestID]; !ok && a.status == http.StatusOK {
			t.Errorf("request %s answered 200 has no usage event", a.requestID)
		}
	}
	// Everything still works on the two remaining nodes: every process is
	// ready, and a key created through edge 2 (projection and catalogs)
	// serves on edge 1.
	for _, p := range append([]*proc{d.workers[0], d.workers[1]}, d.edges[:]...) {
		if strings.HasSuffix(p.name, "replacement") {
			continue // see testWorkerKilled
		}
		var last string
		if !poll(30*time.Second, func() bool {
			code, body, err := get(p.base + "/ready")
			last = fmt.Sprint(code, " ", string(body), err)
			return code == http.StatusOK
		}) {
			t.Errorf("%s not ready with %s down: %s", p.name, leader, last)
		}
	}
	pr := <-probed
	if pr.last.status != http.StatusOK {
		t.Fatalf("admin writes through edge-2 still fail 90s after the node loss: %d %s", pr.last.status, pr.last.body)
	}
	_, key2 := ad2.createKey(t, map[string]any{"name": "after node loss"})
	d.liveKeys++
	d.waitCatalog(t, d.edges[0], d.liveKeys, d.liveAccounts)
	if a := d.ledger.send(d.edges[0], key2, "after node loss", ""); a.status != http.StatusOK {
		t.Errorf("a key created through edge-2 after the node loss, used on edge-1: %d %s", a.status, a.body)
	}
	// The node comes back on its store and catches up: every stream has
	// its three replicas current again.
	victim.start(t)
	back := time.Now()
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		var info *jetstream.StreamInfo
		if !poll(60*time.Second, func() bool {
			info = streamInfo(t, d.js, name)
			current := 0
			for _, r := range info.Cluster.Replicas {
				if r.Current && !r.Offline {
					current++
				}
			}
			return current == 2
		}) {
			t.Errorf("%s: replicas %+v 60s after %s came back", name, info.Cluster.Replicas, leader)
		}
	}
	caughtUp := time.Since(back)
	t.Logf("stopped %s (USAGE leader) after %d requests; %d requests in all from 4 clients over 2 edges: statuses %v, slowest %v; %d usage events spooled and republished; USAGE now led by %s; all %d answered 200 have exactly one usage event; admin writes through edge-2 answered 200 again %v after the loss (probe %d); a key created through edge-2 then served on edge-1; %s restarted on its store had every stream's 3 replicas current %v later",
		leader, before, len(all), c, slowest.Round(time.Millisecond), spooled, newLeader, c[http.StatusOK], pr.after.Round(time.Millisecond), pr.n, leader, caughtUp.Round(time.Millisecond))
}

// loadAround runs clients senders of one-off requests (labelled label)
// with key, client c on edge c%2, each at most one request per 25 ms so the
// load spans the fault; once before requests are answered it calls fault,
// and the senders go on for after more. Bounded: at most 400 requests per
// client and 90 s in all.
func (d *deployment) loadAround(t *testing.T, label, key string, clients, before int, after time.Duration, fault func()) []answer {
	t.Helper()
	const maxPerClient = 400
	var sent atomic.Int64
	var faultAt atomic.Int64 // unix ns, 0 until fault returned
	deadline := time.Now().Add(90 * time.Second)
	results := make([][]answer, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			pace := time.NewTicker(25 * time.Millisecond)
			defer pace.Stop()
			for i := 0; i < maxPerClient && time.Now().Before(deadline); i++ {
				<-pace.C
				if at := faultAt.Load(); at != 0 && time.Since(time.Unix(0, at)) > after {
					return
				}
				results[c] = append(results[c], d.ledger.send(d.edges[c%2], key, fmt.Sprintf("%s %d %d", label, c, i), ""))
				sent.Add(1)
			}
		})
	}
	if poll(60*time.Second, func() bool { return sent.Load() >= int64(before) }) {
		fault()
	} else {
		t.Errorf("the load sent %d requests in 60s, want %d before the fault", sent.Load(), before)
	}
	faultAt.Store(time.Now().UnixNano())
	wg.Wait()
	var all []answer
	for _, rs := range results {
		all = append(all, rs...)
	}
	return all
}

// waitSpoolsEmpty waits until no edge holds a usage event NATS has not
// acknowledged.
func (d *deployment) waitSpoolsEmpty(t *testing.T) {
	t.Helper()
	for _, e := range d.edges {
		waitFor(t, 60*time.Second, e.name+" spool empty", func() bool { return e.metric(t, "relay_spool_depth") == 0 })
	}
}
