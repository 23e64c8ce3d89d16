package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"relay/store"
	"relay/store/redistest"
)

func rtEqual(ids ...string) []store.Candidate {
	cs := make([]store.Candidate, len(ids))
	for i, id := range ids {
		cs[i] = store.Candidate{ID: id, Priority: 50}
	}
	return cs
}

// rtChooser chooses with a clock that moves 1ms per call, and releases at
// once unless told to keep the lease.
type rtChooser struct {
	t   *testing.T
	s   *store.Store
	seq int
}

func (c *rtChooser) choose(ch store.Choice, keep bool) (store.Chosen, error) {
	c.t.Helper()
	c.seq++
	ch.RequestID = fmt.Sprint("r", c.seq)
	ch.Now = rtAt(time.Duration(c.seq) * time.Millisecond)
	ch.Platform = "claude-console"
	if ch.LeaseTTL == 0 {
		ch.LeaseTTL = time.Minute
	}
	if ch.StickyKey != "" {
		ch.StickyTTL = time.Hour
	}
	got, err := c.s.Choose(context.Background(), ch)
	if err == nil && !keep {
		if err := c.s.Release(context.Background(), "", ch.RequestID, got.AccountID); err != nil {
			c.t.Fatal(err)
		}
	}
	return got, err
}

func (c *rtChooser) mustChoose(ch store.Choice, keep bool) store.Chosen {
	c.t.Helper()
	got, err := c.choose(ch, keep)
	if err != nil {
		c.t.Fatal(err)
	}
	return got
}

func TestChooseStickySessionStays(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c := &rtChooser{t: t, s: store.New(b.Client, "")}
		session := store.Choice{StickyKey: store.SessionKey("k1", "claude-console", "s1"), Candidates: rtEqual("a", "b", "c")}
		first := c.mustChoose(session, false)
		if first.By != store.ByScheduled {
			t.Fatalf("first choice %+v, want scheduled", first)
		}
		for i := range 20 {
			// Other sessions keep moving the LRU order meanwhile.
			c.mustChoose(store.Choice{Candidates: rtEqual("a", "b", "c")}, false)
			if got := c.mustChoose(session, false); got.AccountID != first.AccountID || got.By != store.BySticky {
				t.Fatalf("choice %d: %+v, want sticky %s", i, got, first.AccountID)
			}
		}
	})
}

func TestChooseLRUSpreadsSessions(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c := &rtChooser{t: t, s: store.New(b.Client, "")}
		uses := map[string]int{}
		for i := range 30 {
			got := c.mustChoose(store.Choice{StickyKey: store.SessionKey("k", "p", fmt.Sprint(i)), Candidates: rtEqual("c", "a", "b")}, false)
			uses[got.AccountID]++
			if i < 3 && got.AccountID != []string{"a", "b", "c"}[i] {
				t.Fatalf("choice %d: %s; never-used accounts go first, in id order", i, got.AccountID)
			}
		}
		if uses["a"] != 10 || uses["b"] != 10 || uses["c"] != 10 {
			t.Fatalf("uses %v, want 10 each", uses)
		}
	})
}

func TestChooseUnavailableStickyIsRebound(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c := &rtChooser{t: t, s: store.New(b.Client, "")}
		key := store.SessionKey("k", "p", "s")
		bound := c.mustChoose(store.Choice{StickyKey: key, Candidates: rtEqual("a", "b")}, false).AccountID
		var others []string
		for _, id := range []string{"a", "b"} {
			if id != bound {
				others = append(others, id)
			}
		}
		// bound is rate limited now: the caller leaves it out.
		got := c.mustChoose(store.Choice{StickyKey: key, Candidates: rtEqual(others...)}, false)
		if got.AccountID != others[0] || got.By != store.ByScheduled {
			t.Fatalf("without %s: %+v", bound, got)
		}
		// It is back, but the session stays where it was rebound.
		if again := c.mustChoose(store.Choice{StickyKey: key, Candidates: rtEqual("a", "b")}, false); again.AccountID != others[0] || again.By != store.BySticky {
			t.Fatalf("after rebinding: %+v, want sticky %s", again, others[0])
		}
		// Another key's session of the same id has a binding of its own.
		other := store.SessionKey("k2", "p", "s")
		if other == key {
			t.Fatal("session keys of two API keys collide")
		}
		if got := c.mustChoose(store.Choice{StickyKey: other, Candidates: rtEqual("a", "b")}, false); got.By != store.ByScheduled {
			t.Fatalf("other key's session: %+v, want scheduled", got)
		}
		// Unbind forgets the binding: the next choice schedules.
		if err := c.s.Unbind(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		if got := c.mustChoose(store.Choice{StickyKey: key, Candidates: rtEqual("a", "b")}, false); got.By != store.ByScheduled {
			t.Fatalf("after Unbind: %+v, want scheduled", got)
		}
	})
}

func TestChoosePriority(t *testing.T) {
	cases := []struct {
		name  string
		cands []store.Candidate
		want  []string // successive choices, each kept in flight
		busy  [][]string
	}{
		{
			name:  "lower priority wins even when used more recently",
			cands: []store.Candidate{{ID: "z", Priority: 1}, {ID: "a", Priority: 2}},
			want:  []string{"z", "z", "z"},
		},
		{
			name:  "least recently used within the best priority",
			cands: []store.Candidate{{ID: "b", Priority: 10}, {ID: "a", Priority: 10}, {ID: "c", Priority: 20}},
			want:  []string{"a", "b", "a", "b"},
		},
		{
			name: "full best priority falls to the next",
			cands: []store.Candidate{
				{ID: "a", Priority: 1, MaxConcurrency: 1}, {ID: "b", Priority: 1, MaxConcurrency: 1},
				{ID: "c", Priority: 2, MaxConcurrency: 2}, {ID: "d", Priority: 3},
			},
			want: []string{"a", "b", "c", "c", "d"},
			busy: [][]string{nil, {"a"}, {"a", "b"}, {"a", "b"}, {"a", "b", "c"}},
		},
	}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b.Client.FlushDB(context.Background())
				c := &rtChooser{t: t, s: store.New(b.Client, "")}
				for i, want := range tc.want {
					got := c.mustChoose(store.Choice{Candidates: tc.cands}, true)
					if got.AccountID != want || got.By != store.ByScheduled {
						t.Fatalf("choice %d: %+v, want %s", i, got, want)
					}
					if tc.busy != nil && !slices.Equal(got.Busy, tc.busy[i]) {
						t.Fatalf("choice %d: busy %v, want %v", i, got.Busy, tc.busy[i])
					}
				}
			})
		}
	})
}

func TestChooseStickyAtMaxConcurrency(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c := &rtChooser{t: t, s: store.New(b.Client, "")}
		cands := []store.Candidate{{ID: "a", Priority: 1, MaxConcurrency: 1}, {ID: "b", Priority: 1, MaxConcurrency: 1}}
		key := store.SessionKey("k", "p", "s")
		first := c.mustChoose(store.Choice{StickyKey: key, Candidates: cands}, true)
		got := c.mustChoose(store.Choice{StickyKey: key, Candidates: cands}, true)
		if got.AccountID == first.AccountID || got.By != store.ByScheduled || !slices.Equal(got.Busy, []string{first.AccountID}) {
			t.Fatalf("sticky account full: %+v, want the other one, busy [%s]", got, first.AccountID)
		}
		_, err := c.choose(store.Choice{StickyKey: key, Candidates: cands}, true)
		if !errors.Is(err, store.ErrNoAccount) {
			t.Fatalf("both full: %v, want ErrNoAccount", err)
		}
	})
}

func TestChooseNoAccountWritesNothing(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		c := &rtChooser{t: t, s: store.New(b.Client, "")}
		cands := []store.Candidate{{ID: "a", Priority: 1, MaxConcurrency: 1}, {ID: "b", Priority: 2, MaxConcurrency: 1}}
		c.mustChoose(store.Choice{Candidates: cands}, true)
		c.mustChoose(store.Choice{Candidates: cands}, true)
		before := rtDump(t, b.Client)
		got, err := c.choose(store.Choice{StickyKey: "k:p:s", Candidates: cands}, true)
		if !errors.Is(err, store.ErrNoAccount) || !slices.Equal(got.Busy, []string{"a", "b"}) || got.AccountID != "" {
			t.Fatalf("%+v, %v; want ErrNoAccount with busy [a b]", got, err)
		}
		rtSameDump(t, before, rtDump(t, b.Client))
		if _, err := c.choose(store.Choice{}, true); !errors.Is(err, store.ErrNoAccount) {
			t.Fatalf("no candidates: %v", err)
		}
	})
}

// Edges choosing at once never put more requests on an account than its
// max concurrency.
func TestChooseConcurrentEdgesRespectMax(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		cands := []store.Candidate{{ID: "a", Priority: 1, MaxConcurrency: 2}, {ID: "b", Priority: 1, MaxConcurrency: 2}, {ID: "c", Priority: 2, MaxConcurrency: 2}}
		const edges, perEdge = 6, 4
		var mu sync.Mutex // protects per
		per := map[string]int{}
		var wg sync.WaitGroup
		for e := range edges {
			s := store.New(b.NewClient(t), "")
			wg.Go(func() {
				for i := range perEdge {
					got, err := s.Choose(context.Background(), store.Choice{
						RequestID: fmt.Sprintf("e%d-%d", e, i), Now: rtT0, LeaseTTL: time.Minute,
						Platform: "p", Candidates: cands,
					})
					if errors.Is(err, store.ErrNoAccount) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					per[got.AccountID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if per["a"] != 2 || per["b"] != 2 || per["c"] != 2 {
			t.Fatalf("in flight %v, want 2 on each", per)
		}
		got, err := store.New(b.Client, "").AccountInFlight(context.Background(), rtT0, "a", "b", "c", "idle")
		if err != nil || got["a"] != 2 || got["b"] != 2 || got["c"] != 2 || got["idle"] != 0 {
			t.Fatalf("AccountInFlight %v, %v", got, err)
		}
	})
}

func TestAccountLeaseOfKilledEdgeExpires(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		ch := store.Choice{RequestID: "dead", Now: rtT0, LeaseTTL: 30 * time.Second, Platform: "p",
			Candidates: []store.Candidate{{ID: "a", MaxConcurrency: 1}}}
		if _, err := s.Choose(ctx, ch); err != nil {
			t.Fatal(err)
		}
		ch.RequestID, ch.Now = "next", rtAt(30*time.Second-time.Millisecond)
		if _, err := s.Choose(ctx, ch); !errors.Is(err, store.ErrNoAccount) {
			t.Fatalf("before expiry: %v, want ErrNoAccount", err)
		}
		// A renewed account lease holds on.
		if err := s.Renew(ctx, "", "dead", "a", 30*time.Second, rtAt(20*time.Second)); err != nil {
			t.Fatal(err)
		}
		ch.Now = rtAt(30 * time.Second)
		if _, err := s.Choose(ctx, ch); !errors.Is(err, store.ErrNoAccount) {
			t.Fatalf("after renewal: %v, want ErrNoAccount", err)
		}
		ch.Now = rtAt(50 * time.Second)
		if got, err := s.Choose(ctx, ch); err != nil || got.AccountID != "a" {
			t.Fatalf("after expiry: %+v, %v", got, err)
		}
	})
}

func TestAdmitAndChoose(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		adm := func(req string, at time.Duration) store.Admission {
			return store.Admission{KeyID: "k", RequestID: req, Now: rtAt(at), ConcurrencyLimit: 1, LeaseTTL: time.Minute, Window: time.Hour, WindowRequests: 3}
		}
		cho := store.Choice{Platform: "p", StickyKey: store.SessionKey("k", "p", "s"), StickyTTL: time.Hour,
			Candidates: []store.Candidate{{ID: "a", Priority: 1, MaxConcurrency: 1}, {ID: "b", Priority: 2, MaxConcurrency: 1}}}

		r, got, err := s.AdmitAndChoose(ctx, adm("r1", 0), cho)
		if r != nil || err != nil || got.AccountID != "a" || got.By != store.ByScheduled {
			t.Fatalf("first: %+v %+v %v", r, got, err)
		}
		// Key at its concurrency: refused, nothing chosen or written.
		before := rtDump(t, b.Client)
		r, got, err = s.AdmitAndChoose(ctx, adm("r2", time.Second), cho)
		if err != nil || r == nil || r.Limit != store.LimitConcurrency || got.AccountID != "" {
			t.Fatalf("second: %+v %+v %v; want a concurrency refusal", r, got, err)
		}
		rtSameDump(t, before, rtDump(t, b.Client))

		// Release frees the key's and the account's lease.
		if err := s.Release(ctx, "k", "r1", "a"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.KeyInFlight(ctx, "k", rtAt(time.Second)); n != 0 || err != nil {
			t.Fatalf("key in flight %d, %v", n, err)
		}
		if m, err := s.AccountInFlight(ctx, rtAt(time.Second), "a"); m["a"] != 0 || err != nil {
			t.Fatalf("account in flight %v, %v", m, err)
		}
		r, got, err = s.AdmitAndChoose(ctx, adm("r3", 2*time.Second), cho)
		if r != nil || err != nil || got.AccountID != "a" || got.By != store.BySticky {
			t.Fatalf("after release: %+v %+v %v", r, got, err)
		}

		// No account free: ErrNoAccount, and the request is not admitted
		// either (no lease, no window entry).
		if err := s.Release(ctx, "k", "r3"); err != nil {
			t.Fatal(err)
		}
		full := cho
		full.Candidates = cho.Candidates[:1] // a still holds r3's lease
		before = rtDump(t, b.Client)
		r, got, err = s.AdmitAndChoose(ctx, adm("r4", 3*time.Second), full)
		if r != nil || !errors.Is(err, store.ErrNoAccount) || !slices.Equal(got.Busy, []string{"a"}) {
			t.Fatalf("no account: %+v %+v %v", r, got, err)
		}
		rtSameDump(t, before, rtDump(t, b.Client))

		// The window (3 per hour) counts r1 and r3 only: one more passes,
		// then the window refuses and still writes nothing.
		if err := s.Release(ctx, "", "r3", "a"); err != nil {
			t.Fatal(err)
		}
		if r, _, err := s.AdmitAndChoose(ctx, adm("r5", 4*time.Second), cho); r != nil || err != nil {
			t.Fatalf("third in window: %+v %v", r, err)
		}
		if err := s.Release(ctx, "k", "r5", "a"); err != nil {
			t.Fatal(err)
		}
		before = rtDump(t, b.Client)
		r, _, err = s.AdmitAndChoose(ctx, adm("r6", 5*time.Second), cho)
		if err != nil || r == nil || *r != (store.Refusal{Limit: store.LimitRequests, RetryAfter: time.Hour - 5*time.Second}) {
			t.Fatalf("fourth in window: %+v %v", r, err)
		}
		rtSameDump(t, before, rtDump(t, b.Client))
	})
}

// Nothing request-time may live forever.
func TestRuntimeKeysExpire(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		_, _, err := s.AdmitAndChoose(ctx,
			store.Admission{KeyID: "k", RequestID: "r", Now: rtT0, LeaseTTL: time.Minute, Window: time.Hour, WindowRequests: 5},
			store.Choice{Platform: "p", StickyKey: "k:p:s", StickyTTL: time.Hour, Candidates: rtEqual("a")})
		if err != nil {
			t.Fatal(err)
		}
		keys := rtKeys(t, b.Client)
		if len(keys) != 5 { // key lease, account lease, window, LRU, binding
			t.Fatalf("keys %v", keys)
		}
		for _, k := range keys {
			if ttl := b.Client.PTTL(ctx, k).Val(); ttl <= 0 {
				t.Errorf("%s has no TTL (%v)", k, ttl)
			}
		}
	})
}

// rtBenchCandidates are five accounts in two priorities, roomy enough
// that the benchmarks never run out.
var rtBenchCandidates = []store.Candidate{
	{ID: "acct-1", Priority: 10, MaxConcurrency: 100}, {ID: "acct-2", Priority: 10, MaxConcurrency: 100},
	{ID: "acct-3", Priority: 10, MaxConcurrency: 100}, {ID: "acct-4", Priority: 20}, {ID: "acct-5", Priority: 20},
}

func BenchmarkChoose(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := store.New(be.Client, "")
			ctx := context.Background()
			be.Client.FlushDB(ctx) // -count reruns on the same backend
			c := store.Choice{LeaseTTL: 500 * time.Millisecond, Platform: "p", StickyTTL: time.Hour, Candidates: rtBenchCandidates}
			i := 0
			for b.Loop() {
				i++
				// 100 sessions: mostly sticky hits after the first round.
				c.RequestID, c.Now = "r"+strconv.Itoa(i), rtAt(time.Duration(i)*100*time.Millisecond)
				c.StickyKey = store.SessionKey("k", "p", strconv.Itoa(i%100))
				if _, err := s.Choose(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAdmitAndChoose(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := store.New(be.Client, "")
			ctx := context.Background()
			be.Client.FlushDB(ctx) // -count reruns on the same backend
			a := store.Admission{KeyID: "k", ConcurrencyLimit: 1000, LeaseTTL: 500 * time.Millisecond, Window: time.Minute, WindowRequests: 1000}
			c := store.Choice{Platform: "p", StickyTTL: time.Hour, Candidates: rtBenchCandidates}
			i := 0
			for b.Loop() {
				i++
				a.RequestID, a.Now = "r"+strconv.Itoa(i), rtAt(time.Duration(i)*100*time.Millisecond)
				c.StickyKey = store.SessionKey("k", "p", strconv.Itoa(i%100))
				if r, _, err := s.AdmitAndChoose(ctx, a, c); r != nil || err != nil {
					b.Fatal(r, err)
				}
			}
		})
	}
}
