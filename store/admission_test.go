package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"relay/store"
	"relay/store/redistest"
)

// rtT0 is the clock the request-time tests start from; they move time by
// passing later values, never by sleeping.
var rtT0 = time.UnixMilli(1_700_000_000_000)

func rtAt(d time.Duration) time.Time { return rtT0.Add(d) }

// rtDump returns every request-time key with its content (not its TTL),
// to prove that a refusal wrote nothing. A refusal may drop expired
// leases, so tests that compare dumps keep every lease alive.
func rtDump(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, store.RuntimePrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		switch typ := c.Type(ctx, k).Val(); typ {
		case "zset":
			out[k] = fmt.Sprint(c.ZRangeWithScores(ctx, k, 0, -1).Val())
		case "string":
			out[k] = c.Get(ctx, k).Val()
		default:
			out[k] = typ
		}
	}
	return out
}

func rtSameDump(t *testing.T, before, after map[string]string) {
	t.Helper()
	if !maps.Equal(before, after) {
		t.Fatalf("state changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestAdmitWindowExactUnderConcurrency(t *testing.T) {
	cases := []struct{ limit, requests, clients int }{
		{limit: 1, requests: 20, clients: 20},
		{limit: 10, requests: 50, clients: 8},
		{limit: 25, requests: 100, clients: 16},
	}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("L%d_N%d_C%d", tc.limit, tc.requests, tc.clients), func(t *testing.T) {
				ctx := context.Background()
				keyID := fmt.Sprintf("k%d", tc.limit)
				var admitted, refused int
				var mu sync.Mutex // protects admitted, refused
				next := make(chan int)
				var wg sync.WaitGroup
				for range tc.clients {
					s := store.New(b.NewClient(t), "") // one edge each
					wg.Go(func() {
						for i := range next {
							r, err := s.Admit(ctx, store.Admission{
								KeyID: keyID, RequestID: fmt.Sprint("r", i),
								Now: rtAt(time.Duration(i) * time.Millisecond), LeaseTTL: time.Minute,
								Window: time.Hour, WindowRequests: tc.limit,
							})
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							if r == nil {
								admitted++
							} else {
								refused++
								if r.Limit != store.LimitRequests || r.RetryAfter < 59*time.Minute {
									t.Errorf("refusal %+v, want requests for about an hour", r)
								}
							}
							mu.Unlock()
						}
					})
				}
				for i := range tc.requests {
					next <- i
				}
				close(next)
				wg.Wait()
				if admitted != tc.limit || refused != tc.requests-tc.limit {
					t.Fatalf("admitted %d refused %d of %d, want exactly %d admitted", admitted, refused, tc.requests, tc.limit)
				}
			})
		}
	})
}

func TestAdmitConcurrencyLimitOneOfTwo(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		edges := []*store.Store{store.New(b.NewClient(t), ""), store.New(b.NewClient(t), "")}
		for round := range 20 {
			keyID := fmt.Sprint("k", round)
			refusals := make([]*store.Refusal, len(edges))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, s := range edges {
				wg.Go(func() {
					<-start
					r, err := s.Admit(ctx, store.Admission{
						KeyID: keyID, RequestID: fmt.Sprint("r", i), Now: rtT0,
						ConcurrencyLimit: 1, LeaseTTL: 90 * time.Second,
					})
					if err != nil {
						t.Error(err)
					}
					refusals[i] = r
				})
			}
			close(start)
			wg.Wait()
			var got []*store.Refusal
			for _, r := range refusals {
				if r != nil {
					got = append(got, r)
				}
			}
			if len(got) != 1 {
				t.Fatalf("round %d: %d refused, want exactly 1", round, len(got))
			}
			if *got[0] != (store.Refusal{Limit: store.LimitConcurrency, RetryAfter: 90 * time.Second}) {
				t.Fatalf("refusal %+v", *got[0])
			}
		}
	})
}

// An edge that dies never releases; its leases must come back after the
// lease TTL, measured on the caller's clock.
func TestAdmitKilledEdgeLeasesExpire(t *testing.T) {
	cases := []struct {
		name  string
		ttl   time.Duration
		limit int
	}{
		{"limit 1", 30 * time.Second, 1},
		{"limit 3", 5 * time.Minute, 3},
	}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				s := store.New(b.Client, "")
				keyID := "k-" + tc.name
				admit := func(req string, at time.Duration) *store.Refusal {
					t.Helper()
					r, err := s.Admit(ctx, store.Admission{KeyID: keyID, RequestID: req, Now: rtAt(at), ConcurrencyLimit: tc.limit, LeaseTTL: tc.ttl})
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				for i := range tc.limit { // the dead edge's requests
					if r := admit(fmt.Sprint("dead", i), 0); r != nil {
						t.Fatalf("dead%d refused: %+v", i, r)
					}
				}
				if r := admit("early", tc.ttl-time.Millisecond); r == nil || r.Limit != store.LimitConcurrency || r.RetryAfter != time.Second {
					t.Fatalf("1ms before expiry: %+v, want concurrency refusal, retry 1s", r)
				}
				if r := admit("late", tc.ttl); r != nil {
					t.Fatalf("at expiry: refused %+v", r)
				}
				if n, err := s.KeyInFlight(ctx, keyID, rtAt(tc.ttl)); err != nil || n != 1 {
					t.Fatalf("in flight %d, %v; want 1", n, err)
				}
			})
		}
	})
}

func TestRenewKeepsSlotPastTTL(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		ttl := 10 * time.Second
		a := store.Admission{KeyID: "k", RequestID: "long", Now: rtT0, ConcurrencyLimit: 1, LeaseTTL: ttl}
		if r, err := s.Admit(ctx, a); r != nil || err != nil {
			t.Fatal(r, err)
		}
		// A 20-minute stream renews every ttl/2.
		for at := ttl / 2; at <= 20*time.Minute; at += ttl / 2 {
			if err := s.Renew(ctx, "k", "long", "", ttl, rtAt(at)); err != nil {
				t.Fatalf("renew at %v: %v", at, err)
			}
		}
		last := 20 * time.Minute
		other := a
		other.RequestID, other.Now = "other", rtAt(last+ttl-1500*time.Millisecond)
		if r, err := s.Admit(ctx, other); err != nil || r == nil || r.RetryAfter != 2*time.Second {
			t.Fatalf("while renewed: %+v, %v; want refusal, retry 2s", r, err)
		}
		other.Now = rtAt(last + ttl)
		if r, err := s.Admit(ctx, other); r != nil || err != nil {
			t.Fatalf("after the renewals stop: %+v, %v", r, err)
		}
		// The renewed lease expired and its slot was given away: Renew
		// must not bring it back.
		if err := s.Renew(ctx, "k", "long", "", ttl, rtAt(last+ttl)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("renewing a lost lease: %v, want ErrNotFound", err)
		}
		if n, _ := s.KeyInFlight(ctx, "k", rtAt(last+ttl)); n != 1 {
			t.Fatalf("in flight %d, want 1", n)
		}
	})
}

func TestAdmitRefusal(t *testing.T) {
	type step struct {
		at  time.Duration
		req string
	}
	cases := []struct {
		name     string
		a        store.Admission
		admitted []step // admitted, never released
		lowered  int    // the window limit lowered to this before the refusal
		at       time.Duration
		want     store.Refusal
	}{
		{
			name:     "concurrency",
			a:        store.Admission{ConcurrencyLimit: 2, LeaseTTL: time.Minute},
			admitted: []step{{0, "a"}, {10 * time.Second, "b"}},
			at:       20 * time.Second,
			want:     store.Refusal{Limit: store.LimitConcurrency, RetryAfter: 40 * time.Second},
		},
		{
			name:     "requests: the oldest leaves the window",
			a:        store.Admission{LeaseTTL: time.Hour, Window: time.Minute, WindowRequests: 2},
			admitted: []step{{0, "a"}, {20 * time.Second, "b"}},
			at:       30 * time.Second,
			want:     store.Refusal{Limit: store.LimitRequests, RetryAfter: 30 * time.Second},
		},
		{
			name:     "requests: under a second rounds up",
			a:        store.Admission{LeaseTTL: time.Hour, Window: time.Minute, WindowRequests: 2},
			admitted: []step{{0, "a"}, {20 * time.Second, "b"}},
			at:       59*time.Second + 500*time.Millisecond,
			want:     store.Refusal{Limit: store.LimitRequests, RetryAfter: time.Second},
		},
		{
			name:     "requests: a lowered limit waits for enough to leave",
			a:        store.Admission{LeaseTTL: time.Hour, Window: time.Minute, WindowRequests: 3},
			admitted: []step{{0, "a"}, {10 * time.Second, "b"}, {20 * time.Second, "c"}},
			lowered:  2,
			at:       30 * time.Second,
			want:     store.Refusal{Limit: store.LimitRequests, RetryAfter: 40 * time.Second},
		},
		{
			name:     "both: the longer wait is named",
			a:        store.Admission{ConcurrencyLimit: 1, LeaseTTL: time.Minute, Window: time.Hour, WindowRequests: 1},
			admitted: []step{{0, "a"}},
			at:       time.Second,
			want:     store.Refusal{Limit: store.LimitRequests, RetryAfter: time.Hour - time.Second},
		},
		{
			name:     "both: concurrency when it lasts longer",
			a:        store.Admission{ConcurrencyLimit: 1, LeaseTTL: time.Hour, Window: time.Minute, WindowRequests: 1},
			admitted: []step{{0, "a"}},
			at:       time.Second,
			want:     store.Refusal{Limit: store.LimitConcurrency, RetryAfter: time.Hour - time.Second},
		},
	}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				a := tc.a
				a.KeyID = tc.name
				for _, st := range tc.admitted {
					a.RequestID, a.Now = st.req, rtAt(st.at)
					if r, err := s.Admit(ctx, a); r != nil || err != nil {
						t.Fatalf("%s: %+v, %v", st.req, r, err)
					}
				}
				if tc.lowered > 0 {
					a.WindowRequests = tc.lowered
				}
				before := rtDump(t, b.Client)
				a.RequestID, a.Now = "refused", rtAt(tc.at)
				r, err := s.Admit(ctx, a)
				if err != nil || r == nil || *r != tc.want {
					t.Fatalf("got %+v, %v; want %+v", r, err, tc.want)
				}
				rtSameDump(t, before, rtDump(t, b.Client))
				a.Now = rtAt(tc.at + tc.want.RetryAfter)
				if r, err := s.Admit(ctx, a); r != nil || err != nil {
					t.Fatalf("after RetryAfter: %+v, %v", r, err)
				}
			})
		}
	})
}

func TestAdmitInvalid(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { c.Close() })
	s := store.New(c, "")
	for _, a := range []store.Admission{
		{RequestID: "r", LeaseTTL: time.Second},
		{KeyID: "k", LeaseTTL: time.Second},
		{KeyID: "k", RequestID: "r"},
	} {
		if _, err := s.Admit(context.Background(), a); err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("%+v: %v, want a validation error", a, err)
		}
	}
}

// rtKeys lists the request-time keys, sorted.
func rtKeys(t *testing.T, c *redis.Client) []string {
	return slices.Sorted(maps.Keys(rtDump(t, c)))
}

func BenchmarkAdmit(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := store.New(be.Client, "")
			ctx := context.Background()
			be.Client.FlushDB(ctx) // -count reruns on the same backend
			a := store.Admission{KeyID: "k", ConcurrencyLimit: 1000, LeaseTTL: 500 * time.Millisecond, Window: time.Minute, WindowRequests: 1000}
			i := 0
			for b.Loop() {
				i++
				// 100ms apart (a busy key): about 5 live leases and 600
				// logged requests, none refused.
				a.RequestID, a.Now = "r"+strconv.Itoa(i), rtAt(time.Duration(i)*100*time.Millisecond)
				if r, err := s.Admit(ctx, a); r != nil || err != nil {
					b.Fatal(r, err)
				}
			}
		})
	}
}
