package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"relay/store"
	"relay/store/redistest"
)

func TestGenerationPrefixes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Generation() != 0 || s.Prefix() != store.DefaultPrefix {
			t.Fatalf("fresh Redis: generation %d prefix %q", s.Generation(), s.Prefix())
		}
		if got := s.AtGeneration(7).Prefix(); got != "relay:v2:g7:" {
			t.Fatalf("generation 7 prefix %q", got)
		}
		b.Client.Set(ctx, "relay:v2:gen", "3", 0)
		if err := s.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Generation() != 3 || s.Prefix() != "relay:v2:g3:" {
			t.Fatalf("after the pointer moved: generation %d prefix %q", s.Generation(), s.Prefix())
		}
		if _, err := s.Apply(ctx, "p", 1, incr("relay:v2:g3:c", 1)); err != nil {
			t.Fatal(err)
		}
		if cp, _ := s.AtGeneration(3).Checkpoint(ctx, "p"); cp != 1 {
			t.Fatalf("generation 3 checkpoint %d", cp)
		}
	})
}

// A following store never writes ops prepared for a generation that is not
// live: neither when its own cache moved on, nor when the pointer moved
// behind its back.
func TestApplyRefusesAnotherGeneration(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		live := store.New(b.Client, "")
		rebuilder := store.New(b.NewClient(t), "")
		if err := errors.Join(live.Ping(ctx), rebuilder.Ping(ctx)); err != nil {
			t.Fatal(err)
		}
		// The pointer moves behind live's back: its cache still says 0.
		if ok, err := rebuilder.SwitchGeneration(ctx, 0, 1, nil); !ok || err != nil {
			t.Fatalf("switch: %v %v", ok, err)
		}
		_, err := live.Apply(ctx, "p", 1, incr("relay:v2:c", 1))
		if !errors.Is(err, store.ErrGenerationMoved) {
			t.Fatalf("apply on a stale generation: %v", err)
		}
		if live.Generation() != 1 {
			t.Fatalf("live did not re-read the pointer: %d", live.Generation())
		}
		// Ops prepared before the refresh are still refused.
		if _, err := live.Apply(ctx, "p", 1, incr("relay:v2:c", 1)); !errors.Is(err, store.ErrGenerationMoved) {
			t.Fatalf("stale ops: %v", err)
		}
		if n := b.Client.Exists(ctx, "relay:v2:c", "relay:v2:cp:p", "relay:v2:g1:cp:p").Val(); n != 0 {
			t.Fatalf("%d keys written by refused applies", n)
		}
		// Prepared again for generation 1, it applies.
		if ok, err := live.Apply(ctx, "p", 1, incr("relay:v2:g1:c", 1)); !ok || err != nil {
			t.Fatalf("apply: %v %v", ok, err)
		}
		// A pinned store writes where it is pinned, whatever the pointer.
		if ok, err := live.AtGeneration(2).Apply(ctx, "p", 1, incr("relay:v2:g2:c", 1)); !ok || err != nil {
			t.Fatalf("pinned apply: %v %v", ok, err)
		}
	})
}

func TestSwitchGenerationWaitsForTheNextToCatchUp(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		live, next := s.AtGeneration(0), s.AtGeneration(1)
		for _, seq := range []uint64{1, 2, 3, 5} { // 5 out of order: pending
			if _, err := live.Apply(ctx, "a", seq, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, seq := range []uint64{1, 2, 3, 4} {
			if _, err := next.Apply(ctx, "a", seq, nil); err != nil {
				t.Fatal(err)
			}
		}
		names := []string{"a", "b"}
		if ok, err := s.SwitchGeneration(ctx, 0, 1, names); ok || err != nil {
			t.Fatalf("switched while the live generation had applied 5: %v %v", ok, err)
		}
		if _, err := next.Apply(ctx, "a", 5, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := live.Apply(ctx, "b", 1, nil); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.SwitchGeneration(ctx, 0, 1, names); ok || err != nil {
			t.Fatalf("switched while projection b lagged: %v %v", ok, err)
		}
		if _, err := next.Apply(ctx, "b", 1, nil); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.SwitchGeneration(ctx, 0, 1, names); !ok || err != nil {
			t.Fatalf("switch: %v %v", ok, err)
		}
		if s.Generation() != 1 {
			t.Fatalf("generation %d after the switch", s.Generation())
		}
		if _, err := s.SwitchGeneration(ctx, 0, 2, names); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("switch from a generation no longer live: %v", err)
		}
	})
}

// Generation 0 shares its prefix with the pointer and the other
// generations; its Digest and Drop leave them alone.
func TestGenerationZeroDigestAndDropLeaveOthersAlone(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		g0, g2 := s.AtGeneration(0), s.AtGeneration(2)
		if _, err := g0.Apply(ctx, "p", 1, incr("relay:v2:c", 1)); err != nil {
			t.Fatal(err)
		}
		d0, err := g0.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g2.Apply(ctx, "p", 1, incr("relay:v2:g2:c", 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LockRebuild(ctx, "me", time.Minute); err != nil {
			t.Fatal(err)
		}
		b.Client.Set(ctx, "relay:v2:gen", "0", 0)
		if d, _ := g0.Digest(ctx); d != d0 {
			t.Fatal("generation 0's digest changed with another generation's writes")
		}
		d2, _ := g2.Digest(ctx)
		if n, err := g0.Drop(ctx); err != nil || n != 2 {
			t.Fatalf("drop generation 0: %d keys, %v (want its counter and checkpoint)", n, err)
		}
		if b.Client.Exists(ctx, "relay:v2:gen", "relay:v2:gen:lock", "relay:v2:g2:c").Val() != 3 {
			t.Fatal("dropping generation 0 removed the pointer, the lock or generation 2")
		}
		if d, _ := g2.Digest(ctx); d != d2 {
			t.Fatal("generation 2 changed")
		}
		// The same events in two generations give the same digest.
		if _, err := g0.Apply(ctx, "p", 1, incr("relay:v2:c", 1)); err != nil {
			t.Fatal(err)
		}
		if d, _ := g0.Digest(ctx); d != d2 {
			t.Fatal("generations 0 and 2 hold the same fold but digest differently")
		}
	})
}

// A following store notices a switch made elsewhere within RefreshEvery.
func TestFollowingStoreRefreshes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		b.Client.Set(ctx, "relay:v2:gen", "4", 0)
		deadline := time.Now().Add(10 * store.RefreshEvery)
		for s.Prefix() != "relay:v2:g4:" { // polls: the refresh runs in the background
			if time.Now().After(deadline) {
				t.Fatalf("still on generation %d", s.Generation())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestRebuildLock(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		steps := []struct {
			owner string
			op    string
			want  bool
		}{
			{"a", "lock", true}, {"b", "lock", false}, {"a", "lock", true},
			{"b", "unlock", true}, {"b", "lock", false}, {"a", "unlock", true}, {"b", "lock", true},
		}
		for i, st := range steps {
			var got bool
			var err error
			if st.op == "lock" {
				got, err = s.LockRebuild(ctx, st.owner, time.Minute)
			} else {
				got, err = true, s.UnlockRebuild(ctx, st.owner)
			}
			if err != nil || got != st.want {
				t.Fatalf("step %d %s %s: %v %v", i, st.owner, st.op, got, err)
			}
		}
	})
}
