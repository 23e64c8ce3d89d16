package main

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// A worker that stops with usage events in hand does not make the edge
// refuse keys with cost limits: the edge refuses them (503) once its usage
// events wait more than 5 s to be counted, and JetStream hands the stopped
// worker's events to the other worker after the consumers' AckWait, which is
// shorter. The worker is frozen (SIGSTOP) rather than killed, so that it
// surely holds events: its open pull request keeps taking them without
// acknowledging any, as a dead worker's last pull does. Load runs on for 7 s
// after the freeze, past the edge's bound, against a key with a daily cost
// limit far above what the test spends.
func TestChaosStoppedWorkerDoesNotRefuseCostLimitedKeys(t *testing.T) {
	chaosLong(t)
	const clients = 4
	js, rb, env := chaosSplit(t)
	st := store.New(rb.Client, "")
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage, EventDelay: 2 * time.Millisecond})
	key := chaosSeed(t, js, up.URL, 2)
	limit, err := events.New(events.KeyUpdated, time.Now(), "test", "", events.KeyUpdatedData{ID: "chaoskey", Changes: json.RawMessage(`{"dailyCostLimitMicros":1000000000}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(context.Background(), js, events.KeySubject("chaoskey"), limit, nil); err != nil {
		t.Fatal(err)
	}
	victim := chaosStart(t, "worker", "worker1", env)
	chaosStart(t, "worker", "worker2", env)
	edge := chaosStart(t, "edge", "edge", env)
	edge.awaitListening(t)
	chaosWaitProjected(t, js, st, 30*time.Second)

	ledger := &chaosLedger{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for !stop.Load() {
				ledger.add(chaosDo(edge.base, key))
			}
		})
	}
	chaosWait(t, 30*time.Second, "100 answers", func() bool { return ledger.len() >= 100 })
	if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer victim.kill()
	killedAt := ledger.len()
	// The load's length, not a wait for anything: past the edge's 5 s.
	<-time.After(7 * time.Second)
	stop.Store(true)
	wg.Wait()
	statuses := map[int]int{}
	for _, r := range ledger.all() {
		statuses[r.status]++
	}
	after := ledger.len() - killedAt
	if statuses[200] != ledger.len() || after < 50 {
		t.Errorf("answers %v (%d after the freeze): a stopped worker's events must move on before the edge refuses cost-limited keys", statuses, after)
	}
	chaosWaitProjected(t, js, st, 30*time.Second)
	t.Logf("%d answers %v, %d of them in the 7 s after worker1's SIGSTOP", ledger.len(), statuses, after)
}
