package edge_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// Each request of these tests costs exactly 1015 µ$ on sonnet 4.5.
var pricedReply = upstreamtest.Reply{Usage: upstreamtest.Usage{InputTokens: 120, OutputTokens: 33, CacheCreation5m: 10, CacheCreation1h: 20, CacheRead: 7}}

func TestCostLimitsRefuseOnceSpent(t *testing.T) {
	for _, tc := range []struct {
		name, field, reason string
		status              int
		model               string
	}{
		{"daily", `"dailyCostLimitMicros":1500`, "daily_cost_limit", 429, "claude-sonnet-4-5-20250929"},
		{"total", `"totalCostLimitMicros":1500`, "total_cost_limit", 403, "claude-sonnet-4-5-20250929"},
		{"window", `"rateLimitCostMicros":1500,"rateLimitWindow":10`, "window_cost_limit", 429, "claude-sonnet-4-5-20250929"},
		{"weekly opus", `"weeklyOpusCostLimitMicros":2500`, "weekly_opus_cost_limit", 429, "claude-opus-4-5-20251101"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				e := newRelayEnv(t, b, 1)
				e.up.SetDefault(pricedReply)
				e.UpdateKey(t, "key1", "{"+tc.field+"}")
				body := strings.Replace(claudeBody, "claude-sonnet-4-5-20250929", tc.model, 1)
				for i := range 2 {
					if resp, b := post(t, e.Env, "/api/v1/messages", e.key, body); resp.StatusCode != 200 {
						t.Fatalf("request %d under the limit: %d %s", i, resp.StatusCode, b)
					}
					e.WaitUsageProjected(t)
				}
				resp, got := post(t, e.Env, "/api/v1/messages", e.key, body)
				if resp.StatusCode != tc.status {
					t.Fatalf("over the limit: %d %s", resp.StatusCode, got)
				}
				if tc.status == 429 {
					if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
						t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
					}
					if !strings.Contains(string(got), "rate_limit_error") {
						t.Fatalf("dialect: %s", got)
					}
				}
				if !strings.Contains(string(got), "cost limit") {
					t.Fatalf("message does not name the limit: %s", got)
				}
				// The two requests that reached the upstream are one usage
				// event each; the refusal is counted under its reason.
				us := e.UsageEvents(t)
				if len(us) != 2 || e.up.Total() != 2 {
					t.Fatalf("%d usage events, %d upstream calls; want 2 and 2", len(us), e.up.Total())
				}
				cs := e.RefusalCounts(t)
				if len(cs) != 1 || cs[0].Reason != tc.reason || cs[0].Count != 1 || cs[0].KeyID != "key1" || cs[0].Outcome != events.OutcomeRefused {
					t.Fatalf("refusal counted as %+v", cs)
				}
			})
		})
	}
}

func TestWeeklyOpusLimitIgnoresOtherModels(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.up.SetDefault(pricedReply)
		e.UpdateKey(t, "key1", `{"weeklyOpusCostLimitMicros":1}`)
		for range 3 {
			if resp, got := post(t, e.Env, "/api/v1/messages", e.key, claudeBody); resp.StatusCode != 200 {
				t.Fatalf("sonnet refused by the Opus limit: %d %s", resp.StatusCode, got)
			}
			e.WaitUsageProjected(t)
		}
	})
}

func TestRequestWindowAdmitsExactlyTheLimit(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.UpdateKey(t, "key1", `{"rateLimitWindow":5,"rateLimitRequests":4}`)
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				resp, _ := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[200] != 4 || codes[429] != 8 {
			t.Fatalf("status counts %v, want 4 admitted and 8 refused", codes)
		}
	})
}

func TestActivationHappensOnceUnderARace(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		key := e.CreateKey(t, events.Key{ID: "act", IsActive: true, ExpirationMode: "activation", ActivationDays: 3, ActivationUnit: "days"})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if resp, got := post(t, e.Env, "/api/v1/messages", key, claudeBody); resp.StatusCode != 200 {
					t.Errorf("%d %s", resp.StatusCode, got)
				}
			})
		}
		wg.Wait()
		stream, err := e.JS.Stream(context.Background(), events.StreamConfig)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := stream.Info(context.Background())
		activations := 0
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := stream.GetMsg(context.Background(), seq)
			if err == nil && m.Subject == events.KeySubject("act") && m.Header.Get(events.HeaderType) == events.KeyActivated {
				activations++
			}
		}
		if activations != 1 {
			t.Fatalf("%d activation events, want 1", activations)
		}
		k, err := e.Store.Key(context.Background(), "act")
		if err != nil || !k.IsActivated || k.ExpiresAt == nil || k.ExpiresAt.Sub(*k.ActivatedAt).Hours() != 72 {
			t.Fatalf("key %+v %v", k, err)
		}
	})
}

func TestAccountDailyQuotaMovesTrafficElsewhere(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnvWith(t, b, 0, edgetest.Options{Edge: func(c *edge.Config) { c.QuotaCacheFor = 0 }})
		e.CreateAccount(t, events.Account{ID: "capped", APIURL: e.up.URL, IsActive: true, Schedulable: true, Priority: 1, DailyQuotaMicros: 500}, "sk-ant-capped")
		e.CreateAccount(t, events.Account{ID: "spare", APIURL: e.up.URL, IsActive: true, Schedulable: true, Priority: 90}, "sk-ant-spare")
		e.up.SetDefault(pricedReply)
		post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if first := e.UsageEvents(t)[0]; first.AccountID != "capped" {
			t.Fatalf("priority 1 account not chosen first: %+v", first)
		}
		e.WaitUsageProjected(t)
		resp, _ := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		us := e.UsageEvents(t)
		last := us[len(us)-1]
		if last.AccountID != "spare" || last.ChosenBy != "scheduled" {
			t.Fatalf("over-quota account still chosen: %+v", last)
		}
		found := false
		for _, x := range last.Excluded {
			found = found || (x.AccountID == "capped" && x.Reason == "quota_exceeded")
		}
		if !found {
			t.Fatalf("exclusion not recorded: %+v", last.Excluded)
		}
	})
}

// A flood of refused requests is counted, not stored one by one (issue 13,
// DESIGN.md section 5): a key limited to 5 requests an hour, sent 2,005,
// grows USAGE by one usage event per admitted request plus one count per
// reason and minute (two if the flood straddles a minute), a few kilobytes
// instead of one ~880-byte event per refusal, and the key's stats still
// report every refusal once the counts are published.
func TestRefusalFloodKeepsUsageStorageBounded(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.UpdateKey(t, "key1", `{"rateLimitWindow":60,"rateLimitRequests":5}`)
		ctx := context.Background()
		stream, err := e.JS.Stream(ctx, events.StreamUsage)
		if err != nil {
			t.Fatal(err)
		}
		before, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const admitted, refused = 5, 2000
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		next := make(chan struct{})
		for range 16 {
			wg.Go(func() {
				for range next {
					resp, _ := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
					mu.Lock()
					codes[resp.StatusCode]++
					mu.Unlock()
				}
			})
		}
		for range admitted + refused {
			next <- struct{}{}
		}
		close(next)
		wg.Wait()
		if codes[200] != admitted || codes[429] != refused {
			t.Fatalf("status counts %v, want %d admitted and %d refused", codes, admitted, refused)
		}
		counts := e.RefusalCounts(t) // publishes the edge's tallies
		after, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		grew, bytes := after.State.Msgs-before.State.Msgs, after.State.Bytes-before.State.Bytes
		t.Logf("%d refused requests grew USAGE by %d messages, %d bytes (%d counts)", refused, grew, bytes, len(counts))
		if us := e.UsageEvents(t); len(us) != admitted {
			t.Fatalf("%d usage events, want one per admitted request (%d)", len(us), admitted)
		}
		if len(counts) < 1 || len(counts) > 2 || grew != uint64(admitted+len(counts)) || bytes > 16<<10 {
			t.Fatalf("USAGE grew by %d messages, %d bytes, %d counts: want %d usage events and one count per minute", grew, bytes, len(counts), admitted)
		}
		var n int64
		for _, c := range counts {
			if c.KeyID != "key1" || c.Reason != "requests" || c.Platform != "claude" {
				t.Fatalf("count %+v", c)
			}
			n += c.Count
		}
		if n != refused {
			t.Fatalf("counted %d refusals, want %d", n, refused)
		}
		// Publishing again adds nothing: every tally went out once.
		if again := e.RefusalCounts(t); len(again) != len(counts) {
			t.Fatalf("a second flush published %d counts, want none more than %d", len(again), len(counts))
		}
		e.WaitUsageProjected(t)
		a := statsGet(t, e.Env, e.AdminToken(t), "/api/v2/keys/key1/stats")
		if a.Data.Total.Refused != refused || a.Data.Total.Requests != admitted {
			t.Fatalf("key stats: refused %d, requests %d; want %d and %d", a.Data.Total.Refused, a.Data.Total.Requests, refused, admitted)
		}
	})
}

// With no account able to take them (the pool offline, or none for the
// platform), a flood of requests is answered 503 without any upstream
// tried: counted with the refusals (reason no_account), never stored one
// usage event each, so it cannot grow USAGE either.
func TestNoAccountFloodIsCountedNotStored(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 0)
		ctx := context.Background()
		stream, err := e.JS.Stream(ctx, events.StreamUsage)
		if err != nil {
			t.Fatal(err)
		}
		before, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const n = 500
		for i := range n {
			resp, body := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "overloaded_error") {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
		}
		counts := e.RefusalCounts(t)
		after, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var counted int64
		for _, c := range counts {
			if c.KeyID != "key1" || c.Reason != events.RefusalNoAccount {
				t.Fatalf("count %+v", c)
			}
			counted += c.Count
		}
		grew := after.State.Msgs - before.State.Msgs
		if counted != n || grew != uint64(len(counts)) || grew > 2 || len(e.UsageEvents(t)) != 0 {
			t.Fatalf("%d requests: counted %d in %d events, USAGE grew by %d messages", n, counted, len(counts), grew)
		}
		e.WaitUsageProjected(t)
		a := statsGet(t, e.Env, e.AdminToken(t), "/api/v2/keys/key1/stats")
		if a.Data.Total.Refused != n || a.Data.Total.Requests != 0 {
			t.Fatalf("key stats: refused %d, requests %d; want %d and 0", a.Data.Total.Refused, a.Data.Total.Requests, n)
		}
	})
}

// Refusals counted and not yet published go out when the edge shuts down,
// the current minute's included.
func TestRefusalCountsArePublishedAtShutdown(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		// No periodic flush during the test, even across a minute.
		e := newRelayEnvWith(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) { c.RefusalFlushEvery = time.Hour }})
		e.UpdateKey(t, "key1", `{"enableModelRestriction":true,"restrictedModels":["claude-sonnet-4-5-20250929"]}`)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- e.Edge.Serve(ctx, ln) }()
		for range 7 {
			req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/api/v1/messages", strings.NewReader(claudeBody))
			req.Header.Set("x-api-key", e.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("restricted model: %d", resp.StatusCode)
			}
		}
		if cs := e.StoredRefusalCounts(t); len(cs) != 0 {
			t.Fatalf("counts published before the minute closed: %+v", cs)
		}
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, c := range e.StoredRefusalCounts(t) {
			if c.Reason != "model" || c.KeyID != "key1" {
				t.Fatalf("count %+v", c)
			}
			n += c.Count
		}
		if n != 7 {
			t.Fatalf("after shutdown %d refusals counted in USAGE, want 7", n)
		}
	})
}
