//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/store"
)

// TestCluster runs one deployment (three NATS nodes, Redis, two workers,
// two edges) through the scenarios in order: they share the deployment
// because starting it is the expensive part, and the last one accounts for
// every request all of them made.
func TestCluster(t *testing.T) {
	d := startDeployment(t)
	t.Run("identity", d.testIdentity)
	t.Run("replicated streams", d.testStreams)
	accts := d.setupAccounts(t)
	t.Run("concurrency limit across edges", d.testConcurrency)
	t.Run("request window across edges", d.testWindow)
	t.Run("sticky sessions across edges", func(t *testing.T) { d.testSticky(t, accts) })
	t.Run("least recently used across edges", func(t *testing.T) { d.testLRU(t, accts) })
	t.Run("overloaded account skipped by the other edge", d.testOverloaded)
	t.Run("deleted key refused by the other edge", d.testKeyDeleted)
	t.Run("worker killed under load", d.testWorkerKilled)
	t.Run("NATS node lost under load", d.testNodeLoss)
	t.Run("one truth", d.testOneTruth)
}

// account is an upstream account of the tests.
type account struct{ id, name, apiKey string }

// newKey creates a key through edge 1's admin API and waits until edge 2
// knows it too.
func (d *deployment) newKey(t *testing.T, fields map[string]any) (id, secret string) {
	t.Helper()
	id, secret = d.admin.createKey(t, fields)
	d.liveKeys++
	d.waitCatalog(t, d.edges[1], d.liveKeys, d.liveAccounts)
	return id, secret
}

func (d *deployment) newAccount(t *testing.T, name string, priority int) account {
	t.Helper()
	a := account{name: name, apiKey: "sk-ant-clustertest-" + name}
	a.id = d.admin.createAccount(t, map[string]any{"name": name, "apiUrl": d.up.URL, "apiKey": a.apiKey, "priority": priority})
	d.liveAccounts++
	d.waitCatalog(t, d.edges[1], d.liveKeys, d.liveAccounts)
	return a
}

// setupAccounts creates three shared accounts of equal priority.
func (d *deployment) setupAccounts(t *testing.T) map[string]account {
	t.Helper()
	out := map[string]account{}
	for _, name := range []string{"a1", "a2", "a3"} {
		a := d.newAccount(t, name, 50)
		out[a.id] = a
	}
	return out
}

// testIdentity: every process names its role and instance (host/pid) in
// every log line, and each NATS node answers compose's health check.
func (d *deployment) testIdentity(t *testing.T) {
	for _, p := range append(d.workers[:], d.edges[:]...) {
		role, instance := p.identity()
		if role != p.role || !strings.HasSuffix(instance, "/"+strconv.Itoa(p.cmd.Process.Pid)) {
			t.Errorf("%s logs role %q instance %q; want %q and host/%d", p.name, role, instance, p.role, p.cmd.Process.Pid)
		}
		t.Logf("%s logs role=%s instance=%s, listens on %s", p.name, role, instance, p.base)
	}
	for _, nd := range d.nats.nodes {
		if code, err := nd.healthz(); code != http.StatusOK {
			t.Errorf("%s /healthz?js-enabled-only=true: %d %v", nd.name, code, err)
		}
	}
}

// testStreams: with NATS_REPLICAS unset (compose sets 3; unset, relay
// follows the cluster's size, up to 3) the processes, started together,
// created every stream with three replicas, all current.
func (d *deployment) testStreams(t *testing.T) {
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		info := streamInfo(t, d.js, name)
		current := 0
		for _, r := range info.Cluster.Replicas {
			if r.Current {
				current++
			}
		}
		if info.Config.Replicas != 3 || len(info.Cluster.Replicas) != 2 || current != 2 {
			t.Errorf("%s: %d replicas configured, leader %s with %d peers (%d current); want 3 replicas, all current",
				name, info.Config.Replicas, info.Cluster.Leader, len(info.Cluster.Replicas), current)
		}
		t.Logf("%s: %d replicas, leader %s, %d followers current", name, info.Config.Replicas, info.Cluster.Leader, current)
	}
}

// testOneTruth: everything the scenarios did is in the streams once, and
// the two workers projected all of it exactly once between them.
func (d *deployment) testOneTruth(t *testing.T) {
	d.waitSpoolsEmpty(t)
	want := d.ledger.expected(t)
	// Requests refused before any upstream was tried have no usage event:
	// the edges count them and publish the counts when each minute
	// closes, so wait until the counts cover every such answer.
	all, counts := usageEvents(t, d.js)
	refusedAnswers := func() (n int64) {
		got := byID(t, all)
		for _, a := range want {
			if _, ok := got[a.requestID]; !ok && a.status >= 400 && a.status < 500 {
				n++
			}
		}
		return n
	}
	sum := func(cs []events.RefusalsCounted) (n int64) {
		for _, c := range cs {
			n += c.Count
		}
		return n
	}
	poll(90*time.Second, func() bool {
		all, counts = usageEvents(t, d.js)
		return sum(counts) >= refusedAnswers()
	})
	got := byID(t, all)
	for id, a := range want {
		if _, ok := got[id]; !ok && (a.status < 400 || a.status >= 500) {
			t.Errorf("request %s (%d from %s) has no usage event", id, a.status, a.edge)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("usage event %s matches no request of the test", id)
		}
	}
	if n, r := sum(counts), refusedAnswers(); n != r {
		t.Errorf("USAGE counts %d refusals; the test saw %d requests refused without a usage event", n, r)
	}
	// The workers' checkpoints reach each stream's last sequence.
	ctx := context.Background()
	for proj, stream := range map[string]string{store.ProjectionConfig: events.StreamConfig, store.ProjectionUsage: events.StreamUsage, store.ProjectionState: events.StreamState} {
		last := streamInfo(t, d.js, stream).State.LastSeq
		var cp uint64
		if !poll(60*time.Second, func() bool {
			var err error
			cp, err = d.store.Checkpoint(ctx, proj)
			return err == nil && cp == last
		}) {
			t.Errorf("checkpoint relay:v2:cp:%s = %d, %s last sequence %d", proj, cp, stream, last)
		}
		t.Logf("relay:v2:cp:%s = %d = last sequence of %s", proj, cp, stream)
	}
	// What each live worker applied since it started (the killed one's
	// share died with it): the read models below are the exact proof.
	var shares []string
	for _, w := range d.workers {
		shares = append(shares, fmt.Sprintf("%s %v", w.name, w.metric(t, "relay_usage_requests_total")))
	}
	// The projected statistics equal the fold of the stream.
	refused := sum(counts)
	var requests, input, output int64
	for _, u := range all {
		if u.Outcome == events.OutcomeRefused {
			refused++ // written by an older version
		} else {
			requests++
		}
		input += u.InputTokens
		output += u.OutputTokens
	}
	o := d.admin.overview(t)
	if o.Total.Requests != requests || o.Total.Refused != refused || o.Total.InputTokens != input || o.Total.OutputTokens != output {
		t.Errorf("stats overview total: requests %d, refused %d, input %d, output %d; USAGE: %d requests, %d refused, input %d, output %d",
			o.Total.Requests, o.Total.Refused, o.Total.InputTokens, o.Total.OutputTokens, requests, refused, input, output)
	}
	var peaks []string
	for _, p := range append(append([]*proc{}, d.edges[:]...), d.workers[:]...) {
		peaks = append(peaks, fmt.Sprintf("%s %s", p.name, p.peakRSS()))
	}
	t.Logf("peak resident memory (race detector: %v, which multiplies it): %s", raceEnabled, strings.Join(peaks, ", "))
	usage := streamInfo(t, d.js, events.StreamUsage).State
	mem, _ := d.rdb.Info(ctx, "memory").Result()
	var redisPeak string
	for _, line := range strings.Split(mem, "\n") {
		if v, ok := strings.CutPrefix(line, "used_memory_peak_human:"); ok {
			redisPeak = strings.TrimSpace(v)
		}
	}
	t.Logf("sizing: USAGE holds %d events in %d bytes (%d bytes per event, per replica); Redis peak memory %s", usage.Msgs, usage.Bytes, usage.Bytes/max(usage.Msgs, 1), redisPeak)
	t.Logf("%d requests with a known key; USAGE holds exactly one event for each that passed the edge's checks and counts the %d refused; stats overview: %d requests + %d refused, %d input / %d output tokens, equal to the fold of the stream; applied by the live workers: %s",
		len(want), refused, o.Total.Requests, o.Total.Refused, o.Total.InputTokens, o.Total.OutputTokens, strings.Join(shares, ", "))
}
