package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"relay/store"
	"relay/store/redistest"
)

// KeyUse reads what Admit counts, as Admit counts it, and writes nothing.
func TestKeyUseReadsWhatAdmitCounts(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		c := b.NewClient(t)
		s := store.New(c, "")
		const window = time.Minute
		for i, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second} {
			ref, err := s.Admit(ctx, store.Admission{KeyID: "k", RequestID: fmt.Sprint("r", i), Now: rtAt(at),
				LeaseTTL: 5 * time.Minute, Window: window, WindowRequests: 10})
			if err != nil || ref != nil {
				t.Fatalf("admit %d: %v %v", i, ref, err)
			}
		}
		if err := s.Release(ctx, "k", "r1"); err != nil {
			t.Fatal(err)
		}
		before := rtDump(t, c)
		cases := []struct {
			at     time.Duration
			window time.Duration
			want   store.KeyUse
		}{
			{at: 30 * time.Second, window: window, want: store.KeyUse{InFlight: 2, WindowRequests: 3, OldestInWindow: rtAt(0)}},
			// r0 leaves the window when now reaches its admission + window.
			{at: window, window: window, want: store.KeyUse{InFlight: 2, WindowRequests: 2, OldestInWindow: rtAt(10 * time.Second)}},
			{at: window + 20*time.Second, window: window, want: store.KeyUse{InFlight: 2}},
			// Without a window only leases are read; expired leases do not count.
			{at: 30 * time.Second, want: store.KeyUse{InFlight: 2}},
			{at: 5 * time.Minute, want: store.KeyUse{InFlight: 1}},
		}
		for _, tc := range cases {
			got, err := s.KeyUse(ctx, "k", tc.window, rtAt(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if got.InFlight != tc.want.InFlight || got.WindowRequests != tc.want.WindowRequests || !got.OldestInWindow.Equal(tc.want.OldestInWindow) {
				t.Fatalf("at %v window %v: %+v, want %+v", tc.at, tc.window, got, tc.want)
			}
		}
		rtSameDump(t, before, rtDump(t, c))
	})
}

// A fixed-window counter admits exactly its limit per window and per id,
// answers the time to the window's end, and a refusal counts nothing.
func TestHitCountsAFixedWindow(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		c := b.NewClient(t)
		s := store.New(c, "")
		start := time.Unix(1_700_000_040, 0) // a whole minute
		hit := func(addr, key string, at time.Duration) (bool, time.Duration) {
			t.Helper()
			ok, wait, err := s.Hit(ctx, []store.HitCounter{{Scope: "addr", ID: addr, Limit: 3}, {Scope: "key", ID: key, Limit: 4}}, time.Minute, start.Add(at))
			if err != nil {
				t.Fatal(err)
			}
			return ok, wait
		}
		for i := range 3 {
			if ok, _ := hit("a1", "k1", time.Duration(i)*time.Second); !ok {
				t.Fatalf("hit %d refused", i)
			}
		}
		before := rtDump(t, c)
		if ok, wait := hit("a1", "k1", 20500*time.Millisecond); ok || wait != 40*time.Second {
			t.Fatalf("4th hit from a1: ok %v wait %v, want a refusal for 40s", ok, wait)
		}
		rtSameDump(t, before, rtDump(t, c))
		// Another address reaches the key's own limit (4) with one more.
		if ok, _ := hit("a2", "k1", 30*time.Second); !ok {
			t.Fatal("a2's first hit refused")
		}
		if ok, wait := hit("a3", "k1", 59*time.Second+time.Millisecond); ok || wait != time.Second {
			t.Fatalf("5th hit on k1: ok %v wait %v", ok, wait)
		}
		// Another key from a2 passes; the next window starts afresh.
		if ok, _ := hit("a2", "k2", 31*time.Second); !ok {
			t.Fatal("k2 refused")
		}
		if ok, _ := hit("a1", "k1", time.Minute); !ok {
			t.Fatal("next window refused")
		}
		// Every counter expires.
		for k := range rtDump(t, c) {
			if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 2*time.Minute {
				t.Fatalf("%s ttl %v", k, ttl)
			}
		}
	})
}
