package workers_test

// Property 2 of GitHub issue 8: redelivery never double counts. Every name
// here starts with rd so the other test files of workers_test stay free to
// name theirs.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// rdEvents returns n usage events over several keys, accounts, models and
// outcomes, timed 2 to 20 hours ago: no bucket they touch expires while a
// test runs (second buckets are gone already, the shortest other retention
// is the accounts' 25 hours), so digests taken apart compare.
func rdEvents(n int, seed uint64) []events.Usage {
	r := rand.New(rand.NewPCG(seed, 17))
	models := []string{"claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "gpt-5", "no-price-model"}
	now := time.Now()
	out := make([]events.Usage, n)
	for i := range out {
		model := models[r.IntN(len(models))]
		platform := "claude"
		if model == "gpt-5" {
			platform = "codex"
		}
		u := events.Usage{
			ID: fmt.Sprintf("rd%030d", i+1), Time: now.Add(-2*time.Hour - time.Duration(r.Int64N(int64(18*time.Hour)))).Truncate(time.Millisecond),
			KeyID: fmt.Sprintf("key%d", r.IntN(4)), AccountID: fmt.Sprintf("acct%d", r.IntN(3)), Platform: platform,
			Model: model, Status: 200, Outcome: events.OutcomeOK, Attempts: 1, Stream: true,
		}
		switch r.IntN(10) {
		case 0:
			u.Outcome, u.Status, u.AccountID, u.Reason = events.OutcomeRefused, 429, "", "concurrency"
		case 1:
			u.Outcome, u.Status = events.OutcomeUpstreamError, 529
		}
		if u.Outcome != events.OutcomeRefused {
			u.Tokens = events.Tokens{InputTokens: r.Int64N(5000), OutputTokens: r.Int64N(800), CacheReadTokens: r.Int64N(20000), CacheCreateTokens: r.Int64N(500)}
			u.CostNanos, u.Priced = pricing.Builtin().Cost(model, u.Tokens)
			u.TTFTMs = 1 + r.Int64N(900)
		}
		out[i] = u
	}
	return out
}

var rdOpts = projections.UsageOptions{Loc: time.UTC, IsOpus: pricing.Builtin().IsOpus}

// rdReference folds us once, in order, into st: what any redelivery
// schedule must end with.
func rdReference(t *testing.T, st *store.Store, us []events.Usage) string {
	t.Helper()
	ctx := context.Background()
	for i, u := range us {
		if ok, err := st.ApplyUsage(ctx, uint64(i+1), projections.UsageDeltas(u, rdOpts), time.UTC); err != nil || !ok {
			t.Fatalf("reference apply %d: %v %v", i+1, ok, err)
		}
	}
	d, err := st.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Store level: 300 real usage events (their actual Redis ops), each
// delivered three times in a shuffled order to six concurrent appliers, a
// third of the late deliveries held back until another delivery of the
// same event has been applied (a worker that stalls past its ack wait),
// end with read models identical (digest) to applying each event once in
// order; every event is applied exactly once.
func TestRedeliveryShuffledDuplicatesMatchOneOrderedFold(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		const n = 300
		us := rdEvents(n, 1)
		want := rdReference(t, store.New(b.Client, "rdref:"), us)
		st := store.New(b.Client, "rdchaos:")

		type delivery struct {
			seq  int
			slow bool
		}
		var ds []delivery
		r := rand.New(rand.NewPCG(3, 5))
		for seq := 1; seq <= n; seq++ {
			for k := range 3 {
				ds = append(ds, delivery{seq: seq, slow: k > 0 && r.IntN(2) == 0})
			}
		}
		r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		appliedBy := make([]atomic.Int32, n+1)
		appliedCh := make([]chan struct{}, n+1)
		for i := range appliedCh {
			appliedCh[i] = make(chan struct{})
		}
		var slowNoops atomic.Int32
		work := make(chan delivery)
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for d := range work {
					// Ops are computed before the stall, as a worker that
					// read the event and then hung would have them.
					ops := st.UsageOps(projections.UsageDeltas(us[d.seq-1], rdOpts), time.UTC)
					if d.slow {
						select {
						case <-appliedCh[d.seq]:
						case <-time.After(10 * time.Second):
							t.Errorf("event %d: the earlier delivery was not applied within 10 s", d.seq)
						}
					}
					ok, err := st.Apply(ctx, store.ProjectionUsage, uint64(d.seq), ops)
					if err != nil {
						t.Error(err)
						continue
					}
					if ok {
						if appliedBy[d.seq].Add(1) == 1 {
							close(appliedCh[d.seq])
						}
					} else if d.slow {
						slowNoops.Add(1)
					}
				}
			})
		}
		dispatched := make([]int, n+1)
		for _, d := range ds {
			// Only a delivery with an earlier one of the same event in
			// someone's hands is held back: that one is never held, so
			// the wait ends as soon as it is applied.
			d.slow = d.slow && dispatched[d.seq] > 0
			dispatched[d.seq]++
			work <- d
		}
		close(work)
		wg.Wait()
		for seq := 1; seq <= n; seq++ {
			if got := appliedBy[seq].Load(); got != 1 {
				t.Errorf("property 2 (redelivery never double counts): event %d applied %d times", seq, got)
			}
		}
		if cp, _ := st.Checkpoint(ctx, store.ProjectionUsage); cp != n {
			t.Fatalf("checkpoint %d, want %d", cp, n)
		}
		if left := b.Client.SCard(ctx, "rdchaos:cp:usage:pending").Val(); left != 0 {
			t.Fatalf("%d sequences left pending", left)
		}
		got, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("property 2: read models after %d shuffled deliveries differ from one ordered fold", len(ds))
		}
		t.Logf("%d deliveries of %d events by 6 appliers (%d held back past another delivery, all no-ops): digest equals the ordered fold", len(ds), n, slowNoops.Load())
	})
}

// rdSlow wraps the real usage projector: the first delivery of every tenth
// event stalls longer than the consumer's AckWait, so JetStream redelivers
// it (to the other runner) while the first delivery is still in hand.
type rdSlow struct {
	*workers.UsageProjector
	stall      time.Duration
	first      sync.Map // seq -> struct{}
	deliveries atomic.Int64
}

// ApplyBatch declines every batch, so each event goes through the slow
// Apply one by one (the embedded projector would otherwise merge them).
func (p *rdSlow) ApplyBatch(context.Context, []events.Envelope) (bool, error) { return false, nil }

func (p *rdSlow) Apply(ctx context.Context, env events.Envelope) error {
	p.deliveries.Add(1)
	if _, seen := p.first.LoadOrStore(env.Seq, struct{}{}); !seen && env.Seq%10 == 0 {
		select {
		case <-time.After(p.stall):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.UsageProjector.Apply(ctx, env)
}

// Real JetStream redelivery: two workers.Runners share the usage consumer
// with AckWait 200 ms. Slow first deliveries are redelivered and applied
// twice over; the read models still equal one
// ordered fold, the checkpoint is the stream's last sequence, and the
// projector's metrics count each event once.
func TestRedeliveryWithShortAckWaitNeverDoubleCounts(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		const n = 120
		us := rdEvents(n, 2)
		want := rdReference(t, store.New(b.Client, "rdref:"), us)
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		for _, u := range us {
			env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := streams.Publish(ctx, js, events.UsageSubject(u.Platform, u.KeyID), env, nil); err != nil {
				t.Fatal(err)
			}
		}
		stream, err := js.Stream(ctx, events.StreamUsage)
		if err != nil {
			t.Fatal(err)
		}
		st := store.New(b.Client, "")
		reg := prometheus.NewRegistry()
		p := &rdSlow{UsageProjector: workers.NewUsageProjector(st, rdOpts, reg), stall: 500 * time.Millisecond}
		m := workers.NewMetrics(reg)
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range 2 {
			r := workers.NewRunner(p, js, st, zerolog.Nop(), m)
			r.AckWait = 200 * time.Millisecond
			wg.Go(func() {
				if err := r.Run(rctx); err != nil {
					t.Error(err)
				}
			})
		}
		t.Cleanup(func() { cancel(); wg.Wait() })
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		if err := st.WaitCheckpoint(wctx, store.ProjectionUsage, n); err != nil {
			t.Fatalf("checkpoint did not reach %d: %v", n, err)
		}
		// Wait until JetStream holds nothing unacknowledged, so every
		// redelivery has been handled before the read models are compared.
		cons, err := stream.Consumer(ctx, "proj_"+store.ProjectionUsage)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			ci, err := cons.Info(ctx)
			if err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer still holds unacknowledged events: %+v %v", ci, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		got, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("property 2 (redelivery never double counts): read models after %d deliveries of %d events differ from one ordered fold", p.deliveries.Load(), n)
		}
		if p.deliveries.Load() <= n {
			t.Fatalf("%d deliveries of %d events: no redelivery happened", p.deliveries.Load(), n)
		}
		if got := rdCounter(t, reg, "relay_usage_requests_total"); got != n {
			t.Fatalf("property 2: the projector's metrics counted %v events of %d", got, n)
		}
		t.Logf("%d deliveries of %d events (AckWait 200ms, every tenth first delivery stalled 500ms, 2 runners): read models equal one ordered fold, metrics count %d",
			p.deliveries.Load(), n, n)
	})
}

// rdCounter sums every series of a counter family.
func rdCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
