package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/events"
	"relay/events/streams"
	"relay/projections/pricing"
	"relay/store"
	"relay/store/redistest"
)

// statsCounters is the wire form of a set of counters.
type statsCounters struct {
	Requests            int64       `json:"requests"`
	InputTokens         int64       `json:"inputTokens"`
	OutputTokens        int64       `json:"outputTokens"`
	CacheCreateTokens   int64       `json:"cacheCreateTokens"`
	CacheReadTokens     int64       `json:"cacheReadTokens"`
	Cost                json.Number `json:"cost"`
	CacheCreate1hTokens int64       `json:"cacheCreate1hTokens"`
	ReasoningTokens     int64       `json:"reasoningTokens"`
	CostNanos           int64       `json:"costNanos"`
	Refused             int64       `json:"refused"`
	Errors              int64       `json:"errors"`
	AvgTTFTMs           int64       `json:"avgTtftMs"`
	Unpriced            int64       `json:"unpriced"`
}

type statsDay struct {
	Date string `json:"date"`
	statsCounters
}

type statsAnswer struct {
	Data struct {
		KeyID       string                   `json:"keyId"`
		AccountID   string                   `json:"accountId"`
		Range       string                   `json:"range"`
		Timezone    string                   `json:"timezone"`
		Total       statsCounters            `json:"total"`
		Daily       []statsDay               `json:"daily"`
		Hourly      []statsDay               `json:"hourly"`
		Monthly     []statsDay               `json:"monthly"`
		ByModel     map[string]statsCounters `json:"byModel"`
		ByKey       map[string]statsCounters `json:"byKey"`
		ByAccount   map[string]statsCounters `json:"byAccount"`
		LastUsedAt  *time.Time               `json:"lastUsedAt"`
		FirstUsedAt *time.Time               `json:"firstUsedAt"`
	} `json:"data"`
}

// statsWant sums raw events into the wire counters, independently of the
// projection: refusals apart, errors among the others, cost from the
// integer micro-dollars.
func statsWant(us []events.Usage, keep func(events.Usage) bool) statsCounters {
	var c statsCounters
	var ttftSum, ttftN int64
	for _, u := range us {
		if !keep(u) {
			continue
		}
		if u.Outcome == events.OutcomeRefused {
			c.Refused++
		} else {
			c.Requests++
			if u.Status >= 400 || u.Outcome != events.OutcomeOK {
				c.Errors++
			}
			if !u.Priced {
				c.Unpriced++
			}
			if u.TTFTMs > 0 {
				ttftSum += u.TTFTMs
				ttftN++
			}
		}
		c.InputTokens += u.InputTokens
		c.OutputTokens += u.OutputTokens
		c.CacheCreateTokens += u.CacheCreateTokens
		c.CacheCreate1hTokens += u.CacheCreate1hTokens
		c.CacheReadTokens += u.CacheReadTokens
		c.ReasoningTokens += u.ReasoningTokens
		c.CostNanos += u.CostNanos
	}
	if ttftN > 0 {
		c.AvgTTFTMs = (2*ttftSum + ttftN) / (2 * ttftN)
	}
	c.Cost = json.Number(fmt.Sprintf("%d.%09d", c.CostNanos/1_000_000_000, c.CostNanos%1_000_000_000))
	return c
}

func statsWantByModel(us []events.Usage, keep func(events.Usage) bool) map[string]statsCounters {
	out := map[string]statsCounters{}
	for _, u := range us {
		if keep(u) {
			m := u.Model
			out[m] = statsWant(us, func(v events.Usage) bool { return keep(v) && v.Model == m })
		}
	}
	return out
}

func statsSame(t *testing.T, what string, got, want map[string]statsCounters) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries %v, want %d %v", what, len(got), got, len(want), want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("%s[%s]: %+v\nwant %+v", what, k, got[k], w)
		}
	}
}

func statsGet(t *testing.T, env *edgetest.Env, tok, path string) statsAnswer {
	t.Helper()
	r := env.Do(t, http.MethodGet, path, tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var a statsAnswer
	r.JSON(t, &a)
	return a
}

// statsSeed creates two keys and two accounts and publishes usage events
// over the last 40 days, the newest a few seconds old; it returns them once
// the usage projection has counted them.
func statsSeed(t *testing.T, env *edgetest.Env) []events.Usage {
	t.Helper()
	env.CreateKey(t, events.Key{ID: "kst1", Name: "alpha", IsActive: true})
	env.CreateKey(t, events.Key{ID: "kst2", Name: "beta", IsActive: true})
	env.CreateAccount(t, events.Account{ID: "ast1", Name: "claude one", IsActive: true, Schedulable: true}, "sk-ant-api03-statstest")
	env.CreateAccount(t, events.Account{ID: "ast2", Platform: events.PlatformCodex, Name: "codex one", IsActive: true}, "sk-statstest")

	now := time.Now()
	tab := pricing.Builtin()
	var us []events.Usage
	for i := range 60 {
		u := events.Usage{
			ID: fmt.Sprintf("%032x", 0xabc000+i), KeyID: []string{"kst1", "kst2"}[i%2],
			AccountID: "ast1", Platform: events.PlatformClaudeConsole, Model: "claude-sonnet-4-5-20250929",
			Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
			Tokens: events.Tokens{InputTokens: int64(100 + i), OutputTokens: int64(10 * i), CacheCreateTokens: int64(i), CacheCreate1hTokens: int64(i / 2), CacheReadTokens: int64(1000 * i)},
			TTFTMs: int64(200 + i),
		}
		switch {
		case i < 12:
			u.Time = now.Add(-time.Duration(2+i) * time.Second) // inside the last minute
		default:
			u.Time = now.Add(-time.Duration(i-11) * 16 * time.Hour) // back to about 32 days
		}
		switch i % 6 {
		case 1:
			u.Model = "claude-opus-4-5-20251101"
		case 2:
			u.AccountID, u.Platform, u.Model, u.ReasoningTokens = "ast2", events.PlatformCodex, "gpt-6.1-sol", 7 // unpriced
		case 3:
			u.AccountID, u.Outcome, u.Status, u.Tokens, u.TTFTMs, u.Reason = "", events.OutcomeRefused, 429, events.Tokens{}, 0, "daily_cost"
		case 4:
			u.Outcome, u.Status = events.OutcomeUpstreamError, 502
		}
		u.CostNanos, u.Priced = tab.Cost(u.Model, u.Tokens)
		if u.Outcome == events.OutcomeRefused {
			u.CostNanos, u.Priced = 0, false
		}
		us = append(us, u)
	}
	ctx := context.Background()
	var last uint64
	for _, u := range us {
		env2, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "", u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if last, err = streams.Publish(ctx, env.JS, events.UsageSubject(u.Platform, u.KeyID), env2, nil); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := env.Store.WaitCheckpoint(wctx, store.ProjectionUsage, last); err != nil {
		t.Fatal(err)
	}
	return us
}

func TestStatsKeyAndAccount(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		us := statsSeed(t, env)
		day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }
		now := time.Now()
		since := func(days int) func(events.Usage) bool {
			y, m, d := now.UTC().Date()
			from := time.Date(y, m, d-(days-1), 0, 0, 0, 0, time.UTC)
			return func(u events.Usage) bool { return !u.Time.Before(from) }
		}
		ranges := []struct {
			q    string
			name string
			keep func(events.Usage) bool
			days int
		}{
			{"", "all", func(events.Usage) bool { return true }, 0},
			{"?range=all", "all", func(events.Usage) bool { return true }, 0},
			{"?range=today", "today", since(1), 1},
			{"?range=7d", "7d", since(7), 7},
			{"?range=30d", "30d", since(30), 30},
		}
		for _, rg := range ranges {
			for _, k := range []string{"kst1", "kst2"} {
				a := statsGet(t, env, tok, "/api/v2/keys/"+k+"/stats"+rg.q)
				of := func(u events.Usage) bool { return u.KeyID == k && rg.keep(u) }
				if a.Data.KeyID != k || a.Data.Range != rg.name || a.Data.Timezone != "UTC" {
					t.Fatalf("key %s%s: id %q range %q zone %q", k, rg.q, a.Data.KeyID, a.Data.Range, a.Data.Timezone)
				}
				if want := statsWant(us, of); a.Data.Total != want {
					t.Fatalf("key %s%s total %+v\nwant %+v", k, rg.q, a.Data.Total, want)
				}
				statsSame(t, "key "+k+rg.q+" byModel", a.Data.ByModel, statsWantByModel(us, of))
				if rg.days > 0 && len(a.Data.Daily) != rg.days {
					t.Fatalf("key %s%s: %d days", k, rg.q, len(a.Data.Daily))
				}
				for _, d := range a.Data.Daily {
					if want := statsWant(us, func(u events.Usage) bool { return u.KeyID == k && day(u.Time) == d.Date }); d.statsCounters != want {
						t.Fatalf("key %s%s day %s: %+v\nwant %+v", k, rg.q, d.Date, d.statsCounters, want)
					}
				}
				if a.Data.LastUsedAt == nil || a.Data.FirstUsedAt == nil {
					t.Fatalf("key %s: no first or last use", k)
				}
			}
			for _, acct := range []struct{ platform, id string }{{"claude-console", "ast1"}, {"codex", "ast2"}} {
				a := statsGet(t, env, tok, "/api/v2/accounts/"+acct.platform+"/"+acct.id+"/stats"+rg.q)
				of := func(u events.Usage) bool { return u.AccountID == acct.id && rg.keep(u) }
				if want := statsWant(us, of); a.Data.Total != want || a.Data.AccountID != acct.id {
					t.Fatalf("account %s%s total %+v\nwant %+v", acct.id, rg.q, a.Data.Total, want)
				}
				statsSame(t, "account "+acct.id+rg.q+" byModel", a.Data.ByModel, statsWantByModel(us, of))
			}
		}
		// The all-time daily series starts at the first use.
		a := statsGet(t, env, tok, "/api/v2/keys/kst1/stats")
		if first := a.Data.Daily[0].Date; first != day(*a.Data.FirstUsedAt) || a.Data.Daily[len(a.Data.Daily)-1].Date != day(now) {
			t.Fatalf("all-time days %s..%s, first use %v", first, a.Data.Daily[len(a.Data.Daily)-1].Date, a.Data.FirstUsedAt)
		}
		// A key without usage has zero counters, not an error.
		env.CreateKey(t, events.Key{ID: "kst-idle", Name: "idle", IsActive: true})
		idle := statsGet(t, env, tok, "/api/v2/keys/kst-idle/stats")
		if idle.Data.Total != statsWant(nil, nil) || len(idle.Data.Daily) != 0 || len(idle.Data.ByModel) != 0 || idle.Data.LastUsedAt != nil {
			t.Fatalf("idle key: %+v", idle.Data)
		}

		for _, tc := range []struct {
			path   string
			tok    string
			status int
			field  string
		}{
			{"/api/v2/keys/kst1/stats?range=1y", tok, 400, "range"},
			{"/api/v2/accounts/codex/ast2/stats?range=week", tok, 400, "range"},
			{"/api/v2/keys/nope/stats", tok, 404, ""},
			{"/api/v2/keys/kst1/stats", "", 401, ""},
			{"/api/v2/accounts/codex/ast1/stats", tok, 404, ""},
			{"/api/v2/accounts/gemini/ast1/stats", tok, 404, ""},
			{"/api/v2/accounts/claude-console/nope/stats", tok, 404, ""},
		} {
			statsWantError(t, env.Do(t, http.MethodGet, tc.path, tc.tok, nil), tc.status, tc.field)
		}
	})
}

// statsMarkState puts account id in state for an hour, as the edge sees it.
func statsMarkState(t *testing.T, env *edgetest.Env, id, state string) {
	t.Helper()
	e, err := events.New(events.AccountStateMarked, time.Now(), "relay", "", events.AccountStateMarkedData{AccountID: id, State: state, Until: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := streams.Publish(ctx, env.JS, events.AccountStateSubject(id), e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Edge.Catalog().WaitState(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

func statsWantError(t *testing.T, r edgetest.Response, status int, field string) {
	t.Helper()
	var e struct {
		Success bool `json:"success"`
		Error   struct {
			Code, Message, Field string
		} `json:"error"`
	}
	r.JSON(t, &e)
	if r.Status != status || e.Success || e.Error.Message == "" || e.Error.Field != field {
		t.Fatalf("status %d (want %d), field %q (want %q): %s", r.Status, status, e.Error.Field, field, r.Body)
	}
}

func TestStatsOverview(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		us := statsSeed(t, env)
		statsMarkState(t, env, "ast2", events.StateRateLimited)
		r := env.Do(t, http.MethodGet, "/api/v2/stats/overview", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		now := time.Now()
		var o struct {
			Data struct {
				Today, Total                statsCounters
				RequestsPerMinute           int64
				TokensPerMinute             int64
				TopKeys, TopKeysAllTime     []struct{ ID, Name string }
				TopModels, TopModelsAllTime []struct{ Model string }
				Accounts                    struct {
					Total, Inactive, Unschedulable int
					ByPlatform, ByState            map[string]int
				}
				Keys       struct{ Total, Active int }
				Projection struct{ Checkpoint uint64 }
				Platforms  struct{ Total map[string]statsCounters }
			}
		}
		r.JSON(t, &o)
		today := now.UTC().Format(time.DateOnly)
		if want := statsWant(us, func(u events.Usage) bool { return u.Time.UTC().Format(time.DateOnly) == today }); o.Data.Today != want {
			t.Fatalf("today %+v\nwant %+v", o.Data.Today, want)
		}
		if want := statsWant(us, func(events.Usage) bool { return true }); o.Data.Total != want {
			t.Fatalf("total %+v\nwant %+v", o.Data.Total, want)
		}
		var rpm, tpm int64
		for _, u := range us {
			if now.Sub(u.Time) < 59*time.Second { // the answer was computed a moment before now
				if u.Outcome != events.OutcomeRefused {
					rpm++
				}
				tpm += u.InputTokens + u.OutputTokens + u.CacheCreateTokens
				if u.Platform != events.PlatformCodex {
					tpm += u.CacheReadTokens
				}
			}
		}
		if o.Data.RequestsPerMinute != rpm || o.Data.TokensPerMinute != tpm || rpm == 0 {
			t.Fatalf("per minute: %d requests, %d tokens; want %d, %d", o.Data.RequestsPerMinute, o.Data.TokensPerMinute, rpm, tpm)
		}
		statsSame(t, "platforms", o.Data.Platforms.Total, map[string]statsCounters{
			"claude-console": statsWant(us, func(u events.Usage) bool { return u.Platform == events.PlatformClaudeConsole }),
			"codex":          statsWant(us, func(u events.Usage) bool { return u.Platform == events.PlatformCodex }),
		})
		if len(o.Data.TopKeysAllTime) != 2 || o.Data.TopKeysAllTime[0].Name == "" {
			t.Fatalf("top keys %+v", o.Data.TopKeysAllTime)
		}
		costOf := func(k string) int64 {
			return statsWant(us, func(u events.Usage) bool { return u.KeyID == k }).CostNanos
		}
		if top := o.Data.TopKeysAllTime[0].ID; costOf(top) < costOf(o.Data.TopKeysAllTime[1].ID) {
			t.Fatalf("top keys not by cost: %+v", o.Data.TopKeysAllTime)
		}
		if len(o.Data.TopModelsAllTime) != 3 || len(o.Data.TopModels) == 0 {
			t.Fatalf("top models %+v / today %+v", o.Data.TopModelsAllTime, o.Data.TopModels)
		}
		a := o.Data.Accounts
		if a.Total != 2 || a.ByPlatform["codex"] != 1 || a.ByPlatform["claude-console"] != 1 || a.ByState["active"] != 1 || a.ByState[events.StateRateLimited] != 1 || a.Unschedulable != 1 {
			t.Fatalf("accounts %+v", a)
		}
		if o.Data.Keys.Total != 2 || o.Data.Keys.Active != 2 || o.Data.Projection.Checkpoint != uint64(len(us)) {
			t.Fatalf("keys %+v, projection %+v", o.Data.Keys, o.Data.Projection)
		}
	})
}

func TestStatsUsage(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		us := statsSeed(t, env)
		now := time.Now().UTC()
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		day := func(t time.Time) string { return t.UTC().Format(time.DateOnly) }

		type query struct {
			name, q string
			from    time.Time // first bucket's start
			to      time.Time // last bucket's end
			match   func(events.Usage) bool
			points  string // daily, hourly or monthly
		}
		all := func(events.Usage) bool { return true }
		hour := now.Truncate(time.Hour)
		queries := []query{
			{"default: 7 days by day", "", today.AddDate(0, 0, -6), today.AddDate(0, 0, 1), all, "daily"},
			{"dates", "?from=" + day(today.AddDate(0, 0, -29)) + "&to=" + day(today), today.AddDate(0, 0, -29), today.AddDate(0, 0, 1), all, "daily"},
			{"RFC 3339 with a key", "?groupBy=day&keyId=kst2&from=" + today.AddDate(0, 0, -10).Add(5*time.Hour).Format(time.RFC3339) + "&to=" + now.Format(time.RFC3339),
				today.AddDate(0, 0, -10), today.AddDate(0, 0, 1), func(u events.Usage) bool { return u.KeyID == "kst2" }, "daily"},
			{"account and model", "?from=" + day(today.AddDate(0, 0, -40)) + "&accountId=ast1&model=claude-opus-4-5-20251101", today.AddDate(0, 0, -40), today.AddDate(0, 0, 1),
				func(u events.Usage) bool { return u.AccountID == "ast1" && u.Model == "claude-opus-4-5-20251101" }, "daily"},
			{"model", "?from=" + day(today.AddDate(0, 0, -40)) + "&model=gpt-6.1-sol", today.AddDate(0, 0, -40), today.AddDate(0, 0, 1),
				func(u events.Usage) bool { return u.Model == "gpt-6.1-sol" }, "daily"},
			{"months", "?groupBy=month&from=" + day(today.AddDate(0, 0, -40)), time.Date(today.AddDate(0, 0, -40).Year(), today.AddDate(0, 0, -40).Month(), 1, 0, 0, 0, 0, time.UTC),
				time.Date(today.Year(), today.Month()+1, 1, 0, 0, 0, 0, time.UTC), all, "monthly"},
			{"default: 24 hours by hour", "?groupBy=hour", hour.Add(-23 * time.Hour), hour.Add(time.Hour), all, "hourly"},
			{"hours of a key", "?groupBy=hour&keyId=kst1&from=" + hour.Add(-72*time.Hour).Format(time.RFC3339), hour.Add(-72 * time.Hour), hour.Add(time.Hour),
				func(u events.Usage) bool { return u.KeyID == "kst1" }, "hourly"},
		}
		for _, q := range queries {
			a := statsGet(t, env, tok, "/api/v2/stats/usage"+q.q)
			in := func(u events.Usage) bool { return q.match(u) && !u.Time.Before(q.from) && u.Time.Before(q.to) }
			if want := statsWant(us, in); a.Data.Total != want {
				t.Fatalf("%s: total %+v\nwant %+v", q.name, a.Data.Total, want)
			}
			points := map[string][]statsDay{"daily": a.Data.Daily, "hourly": a.Data.Hourly, "monthly": a.Data.Monthly}[q.points]
			var n int64
			for _, p := range points {
				n += p.Requests
			}
			if n != a.Data.Total.Requests || len(points) == 0 {
				t.Fatalf("%s: %d points summing to %d requests, total %d", q.name, len(points), n, a.Data.Total.Requests)
			}
			if q.points == "daily" && (points[0].Date != day(q.from) || points[len(points)-1].Date != day(today)) {
				t.Fatalf("%s: days %s..%s", q.name, points[0].Date, points[len(points)-1].Date)
			}
		}

		// Breakdowns per key, account and model.
		from := "?from=" + day(today.AddDate(0, 0, -40))
		inRange := func(u events.Usage) bool { return !u.Time.Before(today.AddDate(0, 0, -40)) }
		byKey := statsGet(t, env, tok, "/api/v2/stats/usage"+from+"&groupBy=key")
		statsSame(t, "byKey", byKey.Data.ByKey, map[string]statsCounters{
			"kst1": statsWant(us, func(u events.Usage) bool { return inRange(u) && u.KeyID == "kst1" }),
			"kst2": statsWant(us, func(u events.Usage) bool { return inRange(u) && u.KeyID == "kst2" }),
		})
		byAccount := statsGet(t, env, tok, "/api/v2/stats/usage"+from+"&groupBy=account&model=gpt-6.1-sol")
		statsSame(t, "byAccount", byAccount.Data.ByAccount, map[string]statsCounters{
			"ast2": statsWant(us, func(u events.Usage) bool { return inRange(u) && u.AccountID == "ast2" && u.Model == "gpt-6.1-sol" }),
		})
		byModel := statsGet(t, env, tok, "/api/v2/stats/usage"+from+"&groupBy=model&keyId=kst1")
		statsSame(t, "byModel", byModel.Data.ByModel, statsWantByModel(us, func(u events.Usage) bool { return inRange(u) && u.KeyID == "kst1" }))

		for _, tc := range []struct{ q, field string }{
			{"groupBy=week", "groupBy"},
			{"from=yesterday", "from"},
			{"to=2026-13-01", "to"},
			{"from=" + url.QueryEscape(now.Format(time.RFC3339)) + "&to=" + day(today.AddDate(0, 0, -1)), "from"},
			{"keyId=nope", "keyId"},
			{"accountId=nope", "accountId"},
			{"keyId=kst1&accountId=ast1", "accountId"},
			{"groupBy=key&accountId=ast1", "groupBy"},
			{"groupBy=account&keyId=kst1", "groupBy"},
			{"from=2000-01-01", "from"},
			{"groupBy=hour&from=" + day(today.AddDate(0, 0, -50)), "from"},
			{"model=" + strings.Repeat("m", 300), "model"},
		} {
			statsWantError(t, env.Do(t, http.MethodGet, "/api/v2/stats/usage?"+tc.q, tok, nil), http.StatusBadRequest, tc.field)
		}
		statsWantError(t, env.Do(t, http.MethodGet, "/api/v2/stats/usage", "", nil), http.StatusUnauthorized, "")
		statsWantError(t, env.Do(t, http.MethodGet, "/api/v2/stats/overview", "", nil), http.StatusUnauthorized, "")
	})
}
