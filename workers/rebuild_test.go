package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// rbPublish publishes one event and returns its sequence.
func rbPublish(t testing.TB, js jetstream.JetStream, subject, typ string, at time.Time, p any) uint64 {
	t.Helper()
	env, err := events.New(typ, at, "test", "", p)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := streams.Publish(context.Background(), js, subject, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// rbHistory publishes round i of a history touching every projection:
// keys created, renamed and deleted, an account, a health mark, usage.
// It returns the last CONFIG, STATE and USAGE sequences.
func rbHistory(t testing.TB, js jetstream.JetStream, i int, now time.Time) (cfg, state, usage uint64) {
	t.Helper()
	id := fmt.Sprintf("k%04d", i)
	cfg = rbPublish(t, js, events.KeySubject(id), events.KeyCreated, now, events.Key{ID: id, Name: "key " + id, KeyHash: fmt.Sprintf("%064d", i), IsActive: true})
	if i%3 == 0 {
		cfg = rbPublish(t, js, events.KeySubject(id), events.KeyUpdated, now, events.KeyUpdatedData{ID: id, Changes: json.RawMessage(`{"name":"renamed"}`)})
	}
	if i%5 == 0 {
		cfg = rbPublish(t, js, events.KeySubject(id), events.KeyDeleted, now, events.KeyDeletedData{ID: id})
	}
	acct := fmt.Sprintf("a%d", i%4)
	if i < 4 {
		cfg = rbPublish(t, js, events.AccountSubject(acct), events.AccountCreated, now, events.Account{ID: acct, Platform: events.PlatformCodex, Priority: 50})
	}
	state = rbPublish(t, js, events.AccountStateSubject(acct), events.AccountStateMarked, now,
		events.AccountStateMarkedData{AccountID: acct, State: events.StateOverloaded, Until: now.Add(time.Hour + time.Duration(i)*time.Second)})
	for j := range 3 {
		u := events.Usage{
			// Within the last minutes: the shortest-lived counters (per
			// second, kept 5 minutes) must not expire between two folds
			// a test compares.
			ID: fmt.Sprintf("r%04d-%d", i, j), Time: now.Add(-time.Duration(i*j) * time.Second), KeyID: id, AccountID: acct,
			Platform: events.PlatformCodex, Model: "gpt-5", Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
			Tokens:    events.Tokens{InputTokens: int64(100 * (i + j)), OutputTokens: int64(10 * i), CacheReadTokens: int64(j)},
			CostNanos: int64(1000*i + j), Priced: true, TTFTMs: int64(j),
		}
		if j == 2 {
			u.Outcome, u.Status, u.Tokens, u.CostNanos = events.OutcomeRefused, 429, events.Tokens{}, 0
		}
		usage = rbPublish(t, js, events.UsageSubject(u.Platform, u.KeyID), events.UsageRecorded, u.Time, u)
	}
	return cfg, state, usage
}

// rbRun runs the live workers on st until the returned stop is called (or
// the test ends).
func rbRun(t *testing.T, js jetstream.JetStream, st *store.Store) (stop func()) {
	t.Helper()
	g := workers.NewGroupWith(js, st, zerolog.Nop(), prometheus.NewRegistry(), workers.Options{Location: time.UTC})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func rbWait(t *testing.T, st *store.Store, cfg, state, usage uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p, seq := range map[string]uint64{store.ProjectionConfig: cfg, store.ProjectionState: state, store.ProjectionUsage: usage} {
		if err := st.WaitCheckpoint(ctx, p, seq); err != nil {
			t.Fatalf("%s did not reach %d: %v", p, seq, err)
		}
	}
}

func rbRebuild(t *testing.T, js jetstream.JetStream, st *store.Store, nc *nats.Conn) workers.RebuildResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := workers.Rebuild(ctx, js, st, workers.RebuildOptions{Options: workers.Options{Location: time.UTC}, NC: nc, Grace: time.Millisecond,
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Progress: func(p workers.RebuildProgress) { t.Logf("rebuild %s after %s: %+v", p.Phase, p.Elapsed, p.Projections) }})
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	return res
}

// After Redis loses everything, and again with the read models in place, a
// rebuild produces the same read models, in a new generation that
// replaces the old one.
func TestRebuildGenerationSameDigest(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		nc, js := ns.Connect(t)
		ctx := context.Background()
		st := store.New(b.Client, "")
		now := time.Now().UTC()
		stop := rbRun(t, js, st)
		var cfg, state, usage uint64
		for i := range 30 {
			cfg, state, usage = rbHistory(t, js, i, now)
		}
		// A poison event on each stream: skipped by both, counted as applied.
		for _, subj := range []string{events.KeySubject("bad"), events.UsageSubject(events.PlatformCodex, "bad")} {
			m := nats.NewMsg(subj)
			m.Data = []byte(`not an envelope`)
			ack, err := js.PublishMsg(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if subj == events.KeySubject("bad") {
				cfg = ack.Sequence
			} else {
				usage = ack.Sequence
			}
		}
		rbWait(t, st, cfg, state, usage)
		stop()
		before, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}

		if err := b.Client.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		res := rbRebuild(t, js, st, nc)
		if res.From != 0 || res.To != 1 || st.Generation() != 1 {
			t.Fatalf("rebuild %d -> %d, store on %d", res.From, res.To, st.Generation())
		}
		if after, _ := st.Digest(ctx); after != before {
			t.Fatalf("digest after FLUSHALL and rebuild %s, want %s", after, before)
		}

		res = rbRebuild(t, js, st, nc) // over existing read models
		if res.From != 1 || res.To != 2 || st.Generation() != 2 || res.Dropped == 0 {
			t.Fatalf("second rebuild %+v, store on %d", res, st.Generation())
		}
		if after, _ := st.Digest(ctx); after != before {
			t.Fatal("digest changed by a second rebuild")
		}
		if n := len(b.Client.Keys(ctx, "relay:v2:g1:*").Val()); n != 0 {
			t.Fatalf("%d keys of the old generation left", n)
		}
		for _, r := range res.Projections {
			if r.Checkpoint < r.Target {
				t.Fatalf("projection %+v behind its target", r)
			}
		}
	})
}

// The live handover: workers and writers keep going while a rebuild runs;
// the workers carry on in the new generation, which ends up exactly what a
// fresh fold of the streams gives.
func TestRebuildGenerationWhileLiveWorkersRun(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		nc, js := ns.Connect(t)
		ctx := context.Background()
		st := store.New(b.Client, "")
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		rbRun(t, js, st)
		// A second worker process on its own client, as in production.
		rbRun(t, js, store.New(b.NewClient(t), ""))
		for i := range 20 {
			rbHistory(t, js, i, now)
		}

		// Writers keep publishing through the whole rebuild, each round once
		// the live workers have projected the one before (as fast as they
		// keep up, which the embedded Redis under -race barely does).
		pctx, stopWriters := context.WithCancel(ctx)
		type last struct{ cfg, state, usage uint64 }
		lastc := make(chan last, 1)
		var rounds atomic.Int64
		go func() {
			var l last
			for i := 20; pctx.Err() == nil || i < 25; i++ {
				l.cfg, l.state, l.usage = rbHistory(t, js, i, now)
				rounds.Add(1)
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_ = st.WaitCheckpoint(wctx, store.ProjectionUsage, l.usage)
				cancel()
			}
			lastc <- l
		}()
		res := rbRebuild(t, js, st, nc)
		during := rounds.Load()
		stopWriters()
		l := <-lastc
		if during == 0 {
			t.Fatal("no event was published while the rebuild ran")
		}
		t.Logf("%d rounds of events published during the rebuild", during)
		if res.To != 1 || st.Generation() != 1 {
			t.Fatalf("rebuild %+v, store on %d", res, st.Generation())
		}
		rbWait(t, st, l.cfg, l.state, l.usage) // the live workers, in generation 1

		got, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fresh := store.New(b.Client, "check:")
		stop := rbRun(t, js, fresh)
		rbWait(t, fresh, l.cfg, l.state, l.usage)
		stop()
		want, _ := fresh.Digest(ctx)
		if got != want {
			rbDiff(t, b, "relay:v2:g1:", "check:")
			t.Fatal("the live generation after the handover differs from a fresh fold of the streams")
		}
		if n := len(b.Client.Keys(ctx, "relay:v2:key:*").Val()); n != 0 {
			t.Fatalf("%d documents of generation 0 left after the switch", n)
		}
	})
}

func TestRebuildGenerationOneAtATime(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		ctx := context.Background()
		st := store.New(b.Client, "")
		if held, err := st.LockRebuild(ctx, "someone else", time.Minute); !held || err != nil {
			t.Fatal(held, err)
		}
		_, err := workers.Rebuild(ctx, js, st, workers.RebuildOptions{})
		if !errors.Is(err, workers.ErrRebuildRunning) {
			t.Fatalf("rebuild while another holds the lock: %v", err)
		}
		if st.Generation() != 0 {
			t.Fatal("generation moved")
		}
	})
}

// A store whose process watches GenerationSubject follows a switch the
// rebuild announces.
func TestWatchGeneration(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		nc, _ := ns.Connect(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := store.New(b.Client, "")
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := workers.WatchGeneration(ctx, nc, st); err != nil {
			t.Fatal(err)
		}
		if ok, err := store.New(b.NewClient(t), "").SwitchGeneration(ctx, 0, 1, nil); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if err := nc.Publish(workers.GenerationSubject, []byte("1")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for st.Generation() != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the store did not follow the announced switch")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// rbDiff logs the keys whose values differ between two prefixes.
func rbDiff(t *testing.T, b redistest.Backend, p1, p2 string) {
	ctx := context.Background()
	dump := func(prefix string) map[string]string {
		out := map[string]string{}
		for _, k := range b.Client.Keys(ctx, prefix+"*").Val() {
			var v any
			switch b.Client.Type(ctx, k).Val() {
			case "string":
				v = b.Client.Get(ctx, k).Val()
			case "hash":
				v = b.Client.HGetAll(ctx, k).Val()
			case "set":
				v = b.Client.SMembers(ctx, k).Val()
			case "zset":
				v = b.Client.ZRangeWithScores(ctx, k, 0, -1).Val()
			}
			out[k[len(prefix):]] = fmt.Sprint(v)
		}
		return out
	}
	a, c := dump(p1), dump(p2)
	for k, v := range a {
		if c[k] != v {
			t.Logf("%s: %s%s = %.300s, %s%s = %.300s", k, p1, k, v, p2, k, c[k])
		}
	}
	for k := range c {
		if _, ok := a[k]; !ok {
			t.Logf("%s: only under %s", k, p2)
		}
	}
}
