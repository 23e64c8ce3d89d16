package store_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"relay/store"
	"relay/store/redistest"
)

func incr(key string, n int) []store.Op {
	return []store.Op{{Cmd: "HINCRBY", Args: []any{key, "n", n}}}
}

func TestApplyOnceAndInOrder(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		for _, seq := range []uint64{1, 2, 2, 1, 3} {
			if _, err := s.Apply(ctx, "p", seq, incr("relay:v2:c", int(seq))); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.Client.HGet(ctx, "relay:v2:c", "n").Val(); got != "6" {
			t.Fatalf("counter %s, want 6 (1+2+3 once each)", got)
		}
		if cp, _ := s.Checkpoint(ctx, "p"); cp != 3 {
			t.Fatalf("checkpoint %d", cp)
		}
	})
}

// Several workers share one consumer, so events arrive out of order and
// redeliveries interleave; every sequence must count exactly once and the
// watermark must end at the last one.
func TestApplyOutOfOrderConcurrentDuplicates(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		const n = 300
		var deliveries []uint64
		for seq := uint64(1); seq <= n; seq++ {
			deliveries = append(deliveries, seq, seq) // each twice
		}
		r := rand.New(rand.NewPCG(7, 9))
		r.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		var wg sync.WaitGroup
		var applied sync.Map
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < len(deliveries); i += 4 {
					seq := deliveries[i]
					ok, err := s.Apply(ctx, "p", seq, incr("relay:v2:c", int(seq)))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						if _, dup := applied.LoadOrStore(seq, true); dup {
							t.Errorf("seq %d applied twice", seq)
						}
					}
				}
			})
		}
		wg.Wait()
		if got, want := b.Client.HGet(ctx, "relay:v2:c", "n").Val(), strconv.Itoa(n*(n+1)/2); got != want {
			t.Fatalf("counter %s, want %s", got, want)
		}
		if cp, _ := s.Checkpoint(ctx, "p"); cp != n {
			t.Fatalf("checkpoint %d", cp)
		}
		if left := b.Client.SCard(ctx, "relay:v2:cp:p:pending").Val(); left != 0 {
			t.Fatalf("%d pending sequences left", left)
		}
	})
}

func TestApplyRefusesUnknownCommands(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		s := store.New(b.Client, "")
		if _, err := s.Apply(context.Background(), "p", 1, []store.Op{{Cmd: "FLUSHALL"}}); err == nil {
			t.Fatal("FLUSHALL accepted")
		}
		if cp, _ := s.Checkpoint(context.Background(), "p"); cp != 0 {
			t.Fatal("a refused batch moved the checkpoint")
		}
	})
}

func TestHMaxKeepsTheLargest(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		for i, v := range []int{5, 3, 9, 7} {
			if _, err := s.Apply(ctx, "p", uint64(i+1), []store.Op{{Cmd: "HMAX", Args: []any{"relay:v2:h", "t", v}}}); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.Client.HGet(ctx, "relay:v2:h", "t").Val(); got != "9" {
			t.Fatalf("HMAX kept %s", got)
		}
	})
}

func TestStartCheckpointAndWait(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		if err := s.StartCheckpoint(ctx, "p", 50); err != nil {
			t.Fatal(err)
		}
		if err := s.StartCheckpoint(ctx, "p", 80); err != nil {
			t.Fatal(err)
		}
		if cp, _ := s.Checkpoint(ctx, "p"); cp != 49 {
			t.Fatalf("checkpoint %d, want 49 (set once)", cp)
		}
		done := make(chan error, 1)
		go func() { done <- s.WaitCheckpoint(ctx, "p", 50) }()
		if _, err := s.Apply(ctx, "p", 50, nil); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.WaitCheckpoint(cctx, "p", 51); err == nil {
			t.Fatal("wait for an unapplied sequence returned without error")
		}
	})
}

func TestDigestAndDrop(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		write := func() {
			for seq := uint64(1); seq <= 5; seq++ {
				ops := append(incr("relay:v2:c", int(seq)),
					store.Op{Cmd: "SET", Args: []any{"relay:v2:s" + strconv.Itoa(int(seq)), "v"}},
					store.Op{Cmd: "ZADD", Args: []any{"relay:v2:z", seq, "m" + strconv.Itoa(int(seq))}},
					store.Op{Cmd: "SADD", Args: []any{"relay:v2:set", seq}})
				if _, err := s.Apply(ctx, "p", seq, ops); err != nil {
					t.Fatal(err)
				}
			}
		}
		write()
		b.Client.Set(ctx, store.RuntimePrefix+"lease", "x", 0)
		d1, err := s.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Drop(ctx)
		if err != nil || n == 0 {
			t.Fatalf("drop %d %v", n, err)
		}
		if d, _ := s.Digest(ctx); d == d1 {
			t.Fatal("digest unchanged after drop")
		}
		if b.Client.Exists(ctx, store.RuntimePrefix+"lease").Val() != 1 {
			t.Fatal("drop removed request-time state")
		}
		write()
		if d2, _ := s.Digest(ctx); d2 != d1 {
			t.Fatalf("rebuilt digest %s != %s", d2, d1)
		}
	})
}
