package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// runGroup runs every projector on st until the test ends and returns the
// group.
func runGroup(t *testing.T, js jetstream.JetStream, st *store.Store) *workers.Group {
	t.Helper()
	g := workers.NewGroup(js, st, zerolog.Nop(), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return g
}

func publish(t *testing.T, js jetstream.JetStream, subject, typ string, p any) uint64 {
	t.Helper()
	env, err := events.New(typ, time.Now(), "test", "", p)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := streams.Publish(context.Background(), js, subject, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func waitCheckpoint(t *testing.T, st *store.Store, projection string, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.WaitCheckpoint(ctx, projection, seq); err != nil {
		t.Fatalf("%s did not reach %d: %v", projection, seq, err)
	}
}

// seedConfig publishes a configuration history and returns the last CONFIG
// and STATE sequences.
func seedConfig(t *testing.T, js jetstream.JetStream, n int) (cfg, state uint64) {
	t.Helper()
	publish(t, js, events.AdminSubject("admin"), events.AdminCreated, events.AdminCreatedData{Username: "admin", PasswordHash: "h"})
	for i := range n {
		id := fmt.Sprintf("k%03d", i)
		cfg = publish(t, js, events.KeySubject(id), events.KeyCreated, events.Key{ID: id, Name: "key " + id, KeyHash: fmt.Sprintf("%064d", i), IsActive: true})
		if i%3 == 0 {
			cfg = publish(t, js, events.KeySubject(id), events.KeyUpdated, events.KeyUpdatedData{ID: id, Changes: json.RawMessage(`{"name":"renamed"}`)})
		}
		if i%5 == 0 {
			cfg = publish(t, js, events.KeySubject(id), events.KeyDeleted, events.KeyDeletedData{ID: id})
		}
	}
	cfg = publish(t, js, events.AccountSubject("a1"), events.AccountCreated, events.Account{ID: "a1", Platform: events.PlatformCodex, Priority: 50})
	state = publish(t, js, events.AccountStateSubject("a1"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a1", State: events.StateOverloaded, Until: time.Now().Add(time.Hour)})
	return cfg, state
}

func TestProjectsConfigAndState(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		st := store.New(b.Client, "")
		runGroup(t, js, st)
		cfg, state := seedConfig(t, js, 20)
		waitCheckpoint(t, st, store.ProjectionConfig, cfg)
		waitCheckpoint(t, st, store.ProjectionState, state)
		ctx := context.Background()
		k, err := st.Key(ctx, "k003")
		if err != nil || k.Name != "renamed" || k.IsDeleted {
			t.Fatalf("k003 %+v %v", k, err)
		}
		if k, _ := st.Key(ctx, "k005"); !k.IsDeleted {
			t.Fatalf("k005 not deleted: %+v", k)
		}
		if s, _ := st.AccountState(ctx, "a1"); s.State != events.StateOverloaded {
			t.Fatalf("state %+v", s)
		}
		if a, err := st.Admin(ctx, "admin"); err != nil || a.PasswordHash != "h" {
			t.Fatalf("admin %+v %v", a, err)
		}
	})
}

// The streams are the truth: after Redis loses everything, the projectors
// rebuild the same read models, byte for byte.
func TestRebuildAfterRedisLossGivesTheSameDigest(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		st := store.New(b.Client, "")
		ctx := context.Background()

		stop := startGroup(t, js, st)
		cfg, state := seedConfig(t, js, 60)
		waitCheckpoint(t, st, store.ProjectionConfig, cfg)
		waitCheckpoint(t, st, store.ProjectionState, state)
		stop()
		before, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}

		for round := range 2 {
			if err := b.Client.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			stop := startGroup(t, js, st)
			waitCheckpoint(t, st, store.ProjectionConfig, cfg)
			waitCheckpoint(t, st, store.ProjectionState, state)
			stop()
			after, err := st.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("rebuild %d: digest %s, want %s", round+1, after, before)
			}
		}
	})
}

func startGroup(t *testing.T, js jetstream.JetStream, st *store.Store) (stop func()) {
	t.Helper()
	g := workers.NewGroup(js, st, zerolog.Nop(), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// An event that can never be applied is skipped, counted, and does not stall
// the events after it.
func TestPoisonEventIsSkipped(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		nc, js := ns.Connect(t)
		st := store.New(b.Client, "")
		runGroup(t, js, st)
		m := nats.NewMsg(events.KeySubject("bad"))
		m.Data = []byte(`{"id":"x1","type":"key.exploded","time":"2026-01-01T00:00:00Z","data":{}}`)
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		m2 := nats.NewMsg(events.KeySubject("bad2"))
		m2.Data = []byte(`not an envelope`)
		if _, err := js.PublishMsg(context.Background(), m2); err != nil {
			t.Fatal(err)
		}
		seq := publish(t, js, events.KeySubject("good"), events.KeyCreated, events.Key{ID: "good", KeyHash: "h"})
		waitCheckpoint(t, st, store.ProjectionConfig, seq)
		if _, err := st.Key(context.Background(), "good"); err != nil {
			t.Fatalf("event after the poison not applied: %v", err)
		}
		_ = nc
	})
}

// Two worker processes share each consumer; CONFIG stays in order and every
// event is applied once.
func TestTwoWorkersShareTheConsumers(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		_, js1 := ns.Connect(t)
		_, js2 := ns.Connect(t)
		st1 := store.New(b.Client, "")
		st2 := store.New(b.NewClient(t), "")
		stop1 := startGroup(t, js1, st1)
		stop2 := startGroup(t, js2, st2)
		cfg, state := seedConfig(t, js1, 40)
		waitCheckpoint(t, st1, store.ProjectionConfig, cfg)
		waitCheckpoint(t, st1, store.ProjectionState, state)
		stop1()
		stop2()
		one, _ := st1.Digest(context.Background())

		// A single worker folding the same streams into a fresh Redis
		// (it rebuilds from sequence 1) agrees.
		b2 := redistest.Embedded(t)
		solo := store.New(b2.Client, "")
		stop := startGroup(t, js1, solo)
		waitCheckpoint(t, solo, store.ProjectionConfig, cfg)
		waitCheckpoint(t, solo, store.ProjectionState, state)
		stop()
		two, _ := solo.Digest(context.Background())
		if one != two {
			t.Fatal("two workers produced different read models than one")
		}
	})
}

// A consumer left by an older relay with a longer AckWait is brought to the
// runner's, so a dead worker's events move on within the edges' 5 s bound.
func TestRunnerBringsAnExistingConsumerToItsAckWait(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		st := store.New(b.Client, "")
		stream, err := js.Stream(ctx, events.StreamUsage)
		if err != nil {
			t.Fatal(err)
		}
		durable := "proj_" + store.ProjectionUsage
		if _, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 10 * time.Second,
			MaxAckPending: workers.UsageInFlight, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
		}); err != nil {
			t.Fatal(err)
		}
		runGroup(t, js, st)
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := stream.Consumer(ctx, durable)
			if err == nil && c.CachedInfo().Config.AckWait == workers.DefaultAckWait {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer AckWait still not %v: %v", workers.DefaultAckWait, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if workers.DefaultAckWait >= 5*time.Second {
			t.Fatalf("DefaultAckWait %v is not below the edges' 5 s spend-lag bound", workers.DefaultAckWait)
		}
	})
}
