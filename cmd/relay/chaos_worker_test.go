package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/store"
)

// Properties 1 and 6 at process level. Topology: JetStream (natstest, over
// TCP), a real redis-server, one `relay edge` process and `relay worker`
// processes. 300 streaming requests with known usage (the 2,000
// scaled down) from 6 clients, while workers are SIGKILLed 6 times (the
// issue's 20 scaled down) at random points of the load and restarted; once
// all of them were killed together. Afterwards every projection's
// checkpoint equals its stream's last sequence; every request the client
// received in full has exactly one usage event with the tokens the
// upstream reported; the key's counters in Redis equal the fold of the
// stream. Then Redis is lost twice (FLUSHALL) and a fresh worker rebuilds
// read models with the same digest as the ones built under chaos.
func TestChaosWorkerCrashesLoseNothing(t *testing.T) {
	chaosLong(t)
	const total, clients, kills = 300, 6, 6
	js, rb, env := chaosSplit(t)
	st := store.New(rb.Client, "")
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage, EventDelay: 2 * time.Millisecond})
	// A few upstream faults feed STATE (failovers marking accounts) and
	// incomplete answers (cuts) into the mix.
	up.SetScript(func(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
		switch r.Index {
		case 50, 150, 250:
			return upstreamtest.ServerError(), true
		case 100, 200:
			return upstreamtest.Reply{CutAfter: 4, Usage: chaosUsage}, true
		}
		return upstreamtest.Reply{}, false
	})
	key := chaosSeed(t, js, up.URL, 4)
	started := 0
	startWorker := func() *chaosProc {
		started++
		return chaosStart(t, "worker", fmt.Sprintf("worker%d", started), env)
	}
	running := []*chaosProc{startWorker(), startWorker()}
	edge := chaosStart(t, "edge", "edge", env)
	edge.awaitListening(t)
	chaosWaitProjected(t, js, st, 30*time.Second)

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 8))
	var at []int
	for range kills {
		at = append(at, total/10+rng.IntN(total*8/10))
	}
	slices.Sort(at)
	t.Logf("seed %d: kills after %v answers", seed, at)

	ledger := &chaosLedger{}
	var issued atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for issued.Add(1) <= total {
				ledger.add(chaosDo(edge.base, key))
			}
		})
	}
	killed, pending := 0, 0
	for i, n := range at {
		chaosWait(t, 60*time.Second, fmt.Sprintf("%d answers", n), func() bool { return ledger.len() >= n })
		for ; pending > 0; pending-- {
			running = append(running, startWorker())
		}
		if i == kills/2 {
			// Every worker at once: the projection stops until the next
			// kill point.
			for _, w := range running {
				w.kill()
				killed++
			}
			running, pending = nil, 2
			continue
		}
		v := rng.IntN(len(running))
		running[v].kill()
		killed++
		running[v] = startWorker()
	}
	for ; pending > 0; pending-- {
		running = append(running, startWorker())
	}
	wg.Wait()
	loadDone := time.Now()

	// A killed worker's unacknowledged events come back after the
	// consumers' AckWait (workers.Runner's ackWait).
	chaosWaitProjected(t, js, st, 90*time.Second)
	caughtUp := time.Since(loadDone)
	ctx := context.Background()
	for _, p := range []string{store.ProjectionConfig, store.ProjectionState, store.ProjectionUsage} {
		if n := rb.Client.SCard(ctx, "relay:v2:cp:"+p+":pending").Val(); n != 0 {
			t.Errorf("property 1: %s holds %d sequences above its watermark", p, n)
		}
	}
	us := chaosUsageEvents(t, js)
	complete := ledger.complete()
	chaosCheckLedger(t, "property 1 (worker crashes lose nothing)", us, complete)
	stats, err := st.KeyStats(ctx, "chaoskey", store.StatsRange{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := edgetest.ProjectedTotals(stats.Total), edgetest.FoldUsage(us); got != want {
		t.Errorf("property 1: the key's counters in Redis %+v, the fold of the stream %+v", got, want)
	}
	answers := ledger.all()
	statuses := map[int]int{}
	for _, r := range answers {
		statuses[r.status]++
	}
	t.Logf("%d answers %v (%d complete), %d usage events; %d worker SIGKILLs (%d worker processes in all); projections caught up %v after the load",
		len(answers), statuses, len(complete), len(us), killed, started, caughtUp.Round(time.Millisecond))

	// Property 6 at process level: Redis lost, twice.
	for _, w := range running {
		if code := w.term(t, 30*time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM", w.name, code)
		}
	}
	live, err := st.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		if err := rb.Client.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		w := startWorker()
		chaosWaitProjected(t, js, st, 60*time.Second)
		if code := w.term(t, 30*time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM", w.name, code)
		}
		got, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != live {
			t.Fatalf("property 6 (Redis lost: rebuild gives the same digest): rebuild %d by a fresh worker differs from the read models built under chaos", round)
		}
		t.Logf("FLUSHALL %d: a fresh worker rebuilt the read models of %d usage events in %v, digest identical", round, len(us), time.Since(start).Round(time.Millisecond))
	}
}
