package edge_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

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
				us := e.UsageEvents(t)
				last := us[len(us)-1]
				if last.Outcome != "refused" || last.Reason != tc.reason || last.Status != tc.status || e.up.Total() != 2 {
					t.Fatalf("refusal recorded as %+v (upstream calls %d)", last, e.up.Total())
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
