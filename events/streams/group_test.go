package streams

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// startJetStream runs a SyncAlways JetStream server with the streams
// provisioned. (natstest imports this package, so its tests cannot use it.)
func startJetStream(t testing.TB) (*server.Server, jetstream.JetStream) {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, SyncAlways: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Provision(ctx, js, Defaults()); err != nil {
		t.Fatal(err)
	}
	return s, js
}

func usageEnvelope(t testing.TB, i int) (string, events.Envelope) {
	t.Helper()
	env, err := events.New(events.UsageRecorded, time.Now(), "key:k", fmt.Sprintf("req-%d", i),
		events.Usage{KeyID: "k", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return events.UsageSubject("claude", "k"), env
}

func pendingEvent(t testing.TB, i int) *pendingPublish {
	subject, env := usageEnvelope(t, i)
	return pending(t, subject, env)
}

func pending(t testing.TB, subject string, env events.Envelope) *pendingPublish {
	t.Helper()
	m, err := Msg(subject, env)
	if err != nil {
		t.Fatal(err)
	}
	return &pendingPublish{msg: m, id: env.ID, stored: make(chan struct{})}
}

// storedIDs reads the whole USAGE stream: sequence -> event id, and the
// batch id each message was stored under.
func storedIDs(t *testing.T, js jetstream.JetStream) (ids map[uint64]string, batches map[uint64]string) {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, batches = map[uint64]string{}, map[uint64]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids[seq] = m.Header.Get(events.HeaderMsgID)
		batches[seq] = m.Header.Get(headerBatchID)
	}
	return ids, batches
}

// newGroup is n fresh usage events waiting to be stored.
func newGroup(t *testing.T, n int) []*pendingPublish {
	var group []*pendingPublish
	for i := range n {
		group = append(group, pendingEvent(t, i))
	}
	return group
}

// checkStoredOnce checks that the stream holds exactly the group's events,
// each at the sequence it was given, and returns each message's batch id.
func checkStoredOnce(t *testing.T, js jetstream.JetStream, group []*pendingPublish) map[uint64]string {
	t.Helper()
	ids, batches := storedIDs(t, js)
	if len(ids) != len(group) {
		t.Fatalf("stored %d messages, want %d, each event once", len(ids), len(group))
	}
	for i, p := range group {
		if p.err != nil {
			t.Fatalf("event %d: %v", i, p.err)
		}
		if ids[p.seq] != p.id {
			t.Errorf("event %d got sequence %d, which holds %q", i, p.seq, ids[p.seq])
		}
	}
	return batches
}

func TestGroupIsStoredAsOneAtomicBatch(t *testing.T) {
	_, js := startJetStream(t)
	g := NewGroupPublisher(js, 5*time.Second)
	group := newGroup(t, minBatch+2)
	g.store(group)
	batches := checkStoredOnce(t, js, group)
	for i, p := range group {
		if i > 0 && p.seq != group[i-1].seq+1 {
			t.Errorf("event %d at %d, after %d: a batch is stored in order", i, p.seq, group[i-1].seq)
		}
		if batches[p.seq] == "" || batches[p.seq] != batches[group[0].seq] {
			t.Errorf("event %d stored under batch %q, event 0 under %q", i, batches[p.seq], batches[group[0].seq])
		}
	}
}

func TestGroupWithAStoredEventFallsBackToOneByOne(t *testing.T) {
	_, js := startJetStream(t)
	g := NewGroupPublisher(js, 5*time.Second)
	subject, dup := usageEnvelope(t, 0)
	first, err := Publish(context.Background(), js, subject, dup, nil)
	if err != nil {
		t.Fatal(err)
	}
	group := []*pendingPublish{pendingEvent(t, 1), pending(t, subject, dup)}
	for i := 2; i < minBatch+2; i++ {
		group = append(group, pendingEvent(t, i))
	}
	g.store(group)
	checkStoredOnce(t, js, group)
	if group[1].seq != first {
		t.Errorf("the republished event got %d, want its original %d", group[1].seq, first)
	}
	if g.noBatches.Load() {
		t.Error("one refused batch turned batches off")
	}
}

func TestStreamWithoutAtomicBatchesIsPublishedOneByOne(t *testing.T) {
	_, js := startJetStream(t)
	ctx := context.Background()
	cfg := Defaults().Configs()[1]
	if cfg.Name != events.StreamUsage {
		t.Fatalf("config 1 is %s", cfg.Name)
	}
	cfg.AllowAtomicPublish = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	g := NewGroupPublisher(js, 5*time.Second)
	group := newGroup(t, minBatch+1)
	g.store(group)
	checkStoredOnce(t, js, group)
	if !g.noBatches.Load() {
		t.Error("batches stay on against a stream that refuses them")
	}
}

func TestConcurrentPublishesStoreEachEventOnce(t *testing.T) {
	_, js := startJetStream(t)
	g := NewGroupPublisher(js, 5*time.Second)
	const n = 300
	seqs := make([]uint64, n)
	envs := make([]events.Envelope, n)
	var wg sync.WaitGroup
	for i := range n {
		subject, env := usageEnvelope(t, i)
		envs[i] = env
		wg.Go(func() {
			seq, err := g.Publish(context.Background(), subject, env)
			if err != nil {
				t.Errorf("event %d: %v", i, err)
			}
			seqs[i] = seq
		})
	}
	wg.Wait()
	ids, _ := storedIDs(t, js)
	if len(ids) != n {
		t.Fatalf("stored %d messages, want %d", len(ids), n)
	}
	for i, seq := range seqs {
		if ids[seq] != envs[i].ID {
			t.Errorf("event %d got sequence %d, which holds %q", i, seq, ids[seq])
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.writing || len(g.queue) != 0 {
		t.Errorf("after the last publish: writing %v, %d queued", g.writing, len(g.queue))
	}
}

func TestPublishFailsWhenNATSIsGone(t *testing.T) {
	s, js := startJetStream(t)
	g := NewGroupPublisher(js, 300*time.Millisecond)
	s.Shutdown()
	s.WaitForShutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		subject, env := usageEnvelope(t, i)
		wg.Go(func() {
			if _, err := g.Publish(ctx, subject, env); err == nil {
				t.Errorf("event %d acknowledged with NATS down", i)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Error("publishes waited for the caller's deadline instead of the publisher's timeout")
	}
}

// BenchmarkUsagePublish compares events published one acknowledgement each
// with the group publisher, from 64 goroutines on a SyncAlways store.
func BenchmarkUsagePublish(b *testing.B) {
	_, js := startJetStream(b)
	g := NewGroupPublisher(js, 5*time.Second)
	for _, c := range []struct {
		name    string
		publish func(context.Context, string, events.Envelope) (uint64, error)
	}{
		{"each", func(ctx context.Context, subject string, env events.Envelope) (uint64, error) {
			return Publish(ctx, js, subject, env, nil)
		}},
		{"group", g.Publish},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					subject, env := usageEnvelope(b, i)
					if _, err := c.publish(context.Background(), subject, env); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
