package edge_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/projections/pricing"
	"relay/store/redistest"
)

// relCatalogCaughtUp waits until env's edge has folded every CONFIG event
// there is now.
func relCatalogCaughtUp(t *testing.T, env *edgetest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := env.JS.Stream(ctx, events.StreamConfig)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Edge.Catalog().WaitConfig(ctx, info.State.LastSeq); err != nil {
		t.Fatalf("catalog did not reach CONFIG %d: %v", info.State.LastSeq, err)
	}
}

// Property 7 (HTTP level; TestRequestWindowAdmitsExactlyTheLimit covers one
// edge, store/admission_test.go the script): the request window is one
// atomic decision across edges. 40 concurrent requests spread over two
// edges sharing NATS and Redis, with rateLimitRequests 7, get exactly 7
// answers 200 and 33 answers 429 with Retry-After.
func TestReliabilityRequestWindowIsAtomicAcrossEdges(t *testing.T) {
	const n, limit = 40, 7
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		e1 := relStart(t, b, 1, edgetest.Options{NATS: ns})
		e1.UpdateKey(t, "key1", `{"rateLimitWindow":10,"rateLimitRequests":`+strconv.Itoa(limit)+`}`)
		e2 := edgetest.Start(t, b, edgetest.Options{NATS: ns, NoWorkers: true})
		relCatalogCaughtUp(t, e2)
		bases := []string{e1.HTTP.URL, e2.HTTP.URL}
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				r := relDo(context.Background(), http.DefaultClient, bases[i%2], e1.key, relBody)
				mu.Lock()
				defer mu.Unlock()
				codes[r.status]++
				if r.status == 429 && !(len(r.body) > 0) {
					t.Errorf("429 without a body")
				}
			})
		}
		close(start)
		wg.Wait()
		if codes[200] != limit || codes[429] != n-limit {
			t.Fatalf("property 7 (request window atomic across edges): status counts %v, want %d admitted and %d refused", codes, limit, n-limit)
		}
		t.Logf("%d concurrent requests over 2 edges, limit %d: %v", n, limit, codes)
	})
}

// Property 8: under a burst, a daily cost limit is overspent by no more
// than its documented bound (edge/relay_costlimits.go: the requests in
// flight when the limit is crossed plus those the usage projection has not
// counted yet). 8 clients each send requests back to back until refused;
// every request costs 1015 µ$, takes about 350 ms, and the limit is
// 5000 µ$. Checked: no request that started after the projected spend
// showed the limit reached (polled every 2 ms) was admitted; the requests
// in flight at the crossing (at most 8) plus at most one more per client
// started before the crossing was projected keep the overspend below
// 2*8 requests; afterwards every request is refused with 429 until the day
// ends.
func TestReliabilityCostLimitOverspendIsBounded(t *testing.T) {
	const clients, limit = 8, 5000
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := relStart(t, b, 1, edgetest.Options{})
		e.up.SetDefault(upstreamtest.Reply{Usage: relUsage, EventDelay: 50 * time.Millisecond})
		e.UpdateKey(t, "key1", `{"dailyCostLimitMicros":`+strconv.Itoa(limit)+`}`)
		limitNanos := pricing.MicrosToNanos(limit)
		// visible is when the projected spend first showed the limit
		// reached: no request starting after it may be admitted.
		var visible atomic.Pointer[time.Time]
		pctx, stopPoll := context.WithCancel(context.Background())
		polled := make(chan struct{})
		go func() {
			defer close(polled)
			for pctx.Err() == nil {
				sp, err := e.Store.KeySpend(pctx, "key1", time.Now(), time.UTC, 0)
				if err == nil && sp.DailyNanos >= limitNanos {
					now := time.Now()
					visible.Store(&now)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		var admitted, refused atomic.Int64
		var mu sync.Mutex
		other := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range clients {
			wg.Go(func() {
				<-start
				for range 50 {
					r := relDo(context.Background(), e.HTTP.Client(), e.HTTP.URL, e.key, relBody)
					switch {
					case r.complete:
						admitted.Add(1)
					case r.status == 429:
						refused.Add(1)
						return
					default:
						mu.Lock()
						other[r.status]++
						mu.Unlock()
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		e.WaitUsageProjected(t)
		stopPoll()
		<-polled
		vis := visible.Load()
		if vis == nil {
			t.Fatal("the projected spend never reached the limit")
		}
		var spent int64
		late := 0
		for _, u := range e.UsageEvents(t) {
			if u.Outcome == events.OutcomeOK {
				spent += u.CostNanos
				if u.Time.After(vis.Add(20 * time.Millisecond)) {
					late++
				}
			}
		}
		if late > 0 {
			t.Errorf("property 8: %d requests started after the projected spend showed the limit reached and were still admitted", late)
		}
		over := spent - limitNanos
		t.Logf("burst of %d clients: %d requests admitted, %d refused, spent %d n$ against a limit of %d n$ (overspend %d n$ = %.1f requests)",
			clients, admitted.Load(), refused.Load(), spent, limitNanos, over, float64(over)/relCost)
		if len(other) > 0 {
			t.Errorf("property 8: answers other than 200 and 429 during the burst: %v", other)
		}
		if spent < limitNanos {
			t.Fatalf("property 8: every client refused after only %d n$ of a %d n$ limit", spent, limitNanos)
		}
		if over >= 2*clients*relCost {
			t.Errorf("property 8 (cost-limit overspend within the documented bound): overspent %d n$, bound %d n$", over, 2*clients*relCost)
		}
		r := relDo(context.Background(), e.HTTP.Client(), e.HTTP.URL, e.key, relBody)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("after the burst: %d %s", r.status, r.body)
		}
		// Every refusal of the burst and the one after it is counted
		// under the daily cost limit.
		var counted int64
		for _, c := range e.RefusalCounts(t) {
			if c.Reason != "daily_cost_limit" {
				t.Fatalf("refusal counted as %+v", c)
			}
			counted += c.Count
		}
		if counted != refused.Load()+1 {
			t.Fatalf("%d refusals counted, %d answered", counted, refused.Load()+1)
		}
	})
}
