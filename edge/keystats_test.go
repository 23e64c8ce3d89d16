package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/streams"
	"relay/projections/pricing"
	"relay/store/redistest"
)

// keyStatsDo posts body to a key holder's route, from the client address
// xff when set (the test edge trusts loopback proxies then).
func keyStatsDo(t *testing.T, env *edgetest.Env, path, body, xff string) edgetest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return edgetest.Response{Status: resp.StatusCode, Header: resp.Header, Body: buf.Bytes()}
}

func apiKeyBody(secret string) string {
	b, _ := json.Marshal(map[string]string{"apiKey": secret})
	return string(b)
}

// keyStatsOf reads /api/v2/key-stats as generic JSON.
func keyStatsOf(t *testing.T, env *edgetest.Env, secret string) map[string]any {
	t.Helper()
	r := keyStatsDo(t, env, "/api/v2/key-stats", apiKeyBody(secret), "")
	if r.Status != http.StatusOK {
		t.Fatalf("key-stats: %d %s", r.Status, r.Body)
	}
	var out struct {
		Success bool           `json:"success"`
		Data    map[string]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || !out.Success {
		t.Fatalf("key-stats body %s: %v", r.Body, err)
	}
	return out.Data
}

// adminJSON reads an admin route's data as generic JSON.
func adminJSON(t *testing.T, env *edgetest.Env, tok, path string) map[string]any {
	t.Helper()
	r := env.Do(t, http.MethodGet, path, tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", path, r.Status, r.Body)
	}
	var out struct {
		Data map[string]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// withoutHitRate drops the cache hit rate a usage part adds to the admin
// counters.
func withoutHitRate(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", v)
	}
	out := map[string]any{}
	for k, x := range m {
		if k != "cacheHitRate" {
			out[k] = x
		}
	}
	return out
}

func publishUsage(t *testing.T, env *edgetest.Env, us ...events.Usage) {
	t.Helper()
	ctx := context.Background()
	for _, u := range us {
		e, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "", u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, env.JS, events.UsageSubject(u.Platform, u.KeyID), e, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// The key holder's JSON is the admin's statistics of the key, to the
// field: usage all time, today and by model, the daily series of 30 days;
// and its limits are the key's configuration with the spend the admin sees.
func TestKeyStatsEqualTheAdminStatsAndLimits(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.UpdateKey(t, "key1", `{"totalCostLimitMicros":50000000,"dailyCostLimitMicros":20000000,"weeklyOpusCostLimitMicros":9000000,`+
			`"rateLimitWindow":60,"rateLimitRequests":1000,"rateLimitCostMicros":10000000,"concurrencyLimit":4}`)
		e.up.SetDefault(upstreamtest.Reply{Text: "ok", Usage: upstreamtest.Usage{InputTokens: 1200, OutputTokens: 300, CacheCreation5m: 40, CacheRead: 900}})
		const relayed = 6
		for i := range relayed {
			body := claudeBody
			if i%3 == 0 {
				body = strings.Replace(claudeBody, "claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", 1)
			}
			resp, got := post(t, e.Env, "/api/v1/messages", e.key, body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("relay %d: %d %s", i, resp.StatusCode, got)
			}
		}
		// Older days of the key, for the daily series.
		now := time.Now()
		tab := pricing.Builtin()
		var old []events.Usage
		for i, ago := range []int{3, 12, 29, 45} {
			u := events.Usage{ID: fmt.Sprintf("%032x", 0xfeed00+i), KeyID: "key1", AccountID: "acct0", Platform: events.PlatformClaudeConsole,
				Model: "claude-sonnet-4-5-20250929", Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
				Tokens: events.Tokens{InputTokens: int64(500 * (i + 1)), OutputTokens: 50}, Time: now.AddDate(0, 0, -ago)}
			u.CostNanos, u.Priced = tab.Cost(u.Model, u.Tokens)
			old = append(old, u)
		}
		publishUsage(t, e.Env, old...)
		e.WaitUsage(t, relayed+len(old))
		e.WaitUsageProjected(t)

		tok := e.AdminToken(t)
		ks := keyStatsOf(t, e.Env, e.key)
		all := adminJSON(t, e.Env, tok, "/api/v2/keys/key1/stats")
		today := adminJSON(t, e.Env, tok, "/api/v2/keys/key1/stats?range=today")
		days := adminJSON(t, e.Env, tok, "/api/v2/keys/key1/stats?range=30d")
		key := adminJSON(t, e.Env, tok, "/api/v2/keys/key1")
		usage := ks["usage"].(map[string]any)
		same := func(what string, got, want any) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\nkey holder %v\nadmin      %v", what, got, want)
			}
		}
		same("all", withoutHitRate(t, usage["all"]), all["total"])
		same("today", withoutHitRate(t, usage["today"]), today["total"])
		same("byModel", ks["byModel"], all["byModel"])
		same("daily", ks["daily"], days["daily"])
		same("timezone", ks["timezone"], all["timezone"])
		same("firstUsedAt", ks["firstUsedAt"], all["firstUsedAt"])
		same("lastUsedAt", ks["lastUsedAt"], all["lastUsedAt"])
		if n := len(ks["daily"].([]any)); n != 30 {
			t.Fatalf("%d days", n)
		}
		for _, f := range []string{"name", "permissions", "isActive", "expiresAt", "expirationMode", "isActivated"} {
			want := key[f]
			if f == "expirationMode" && want == "" {
				want = "fixed"
			}
			same(f, ks[f], want)
		}
		// The month: every event of this calendar month (UTC here).
		var monthCost int64
		var monthReqs int64
		for _, u := range e.UsageEvents(t) {
			if u.Time.UTC().Format("2006-01") == now.UTC().Format("2006-01") && u.Outcome != events.OutcomeRefused {
				monthCost += u.CostNanos
				monthReqs++
			}
		}
		month := usage["month"].(map[string]any)
		if month["costNanos"] != json.Number(strconv.FormatInt(monthCost, 10)) || month["requests"] != json.Number(strconv.FormatInt(monthReqs, 10)) {
			t.Fatalf("month %v, want %d requests costing %d", month, monthReqs, monthCost)
		}
		if usage["all"].(map[string]any)["cacheHitRate"] == json.Number("0") {
			t.Fatalf("no cache hit rate in %v", usage["all"])
		}

		// Limits: the admin's configuration, used as the admin's counters
		// count it; the relay's opus requests are this week's.
		var opusWeek int64
		for _, u := range e.UsageEvents(t) {
			if strings.Contains(u.Model, "opus") {
				opusWeek += u.CostNanos
			}
		}
		costOf := func(v any) string { return v.(map[string]any)["cost"].(json.Number).String() }
		usd := func(f string) string {
			n, err := key[f].(json.Number).Float64()
			if err != nil {
				t.Fatal(err)
			}
			return pricing.FormatUSD(int64(n*1e6+0.5) * 1000)
		}
		want := map[string][2]string{
			"totalCost":      {usd("totalCostLimit"), costOf(all["total"])},
			"dailyCost":      {usd("dailyCostLimit"), costOf(today["total"])},
			"weeklyOpusCost": {usd("weeklyOpusCostLimit"), pricing.FormatUSD(opusWeek)},
			// The window holds the relayed requests, not the older events.
			"windowCost":     {usd("rateLimitCost"), costOf(today["total"])},
			"windowRequests": {key["rateLimitRequests"].(json.Number).String(), strconv.Itoa(relayed)},
			"concurrency":    {key["concurrencyLimit"].(json.Number).String(), "0"},
		}
		limits := ks["limits"].([]any)
		var kinds []string
		for _, l := range limits {
			m := l.(map[string]any)
			kind := m["kind"].(string)
			kinds = append(kinds, kind)
			w, ok := want[kind]
			if !ok {
				t.Fatalf("unexpected limit %v", m)
			}
			if m["limit"].(json.Number).String() != w[0] || m["used"].(json.Number).String() != w[1] || m["reached"] != false {
				t.Fatalf("limit %s: %v, want limit %s used %s", kind, m, w[0], w[1])
			}
		}
		if got := strings.Join(kinds, ","); got != "totalCost,dailyCost,weeklyOpusCost,windowCost,windowRequests,concurrency" {
			t.Fatalf("limits in order %s", got)
		}
		if ks["nearestLimit"].(map[string]any)["kind"] == nil {
			t.Fatalf("no nearest limit: %v", ks["nearestLimit"])
		}
	})
}

// Claude Relay Service's clients decode user-stats into these types: the
// answer must decode with no field missing, none extra, none of another
// type.
type crsUserStats struct {
	Success bool `json:"success"`
	Data    struct {
		ID             string  `json:"id"`
		Name           string  `json:"name"`
		Description    string  `json:"description"`
		IsActive       bool    `json:"isActive"`
		CreatedAt      string  `json:"createdAt"`
		ExpiresAt      *string `json:"expiresAt"`
		ExpirationMode string  `json:"expirationMode"`
		IsActivated    bool    `json:"isActivated"`
		ActivationDays int     `json:"activationDays"`
		ActivatedAt    *string `json:"activatedAt"`
		Permissions    string  `json:"permissions"`
		Usage          struct {
			Total struct {
				Requests          int64   `json:"requests"`
				Tokens            int64   `json:"tokens"`
				AllTokens         int64   `json:"allTokens"`
				InputTokens       int64   `json:"inputTokens"`
				OutputTokens      int64   `json:"outputTokens"`
				CacheCreateTokens int64   `json:"cacheCreateTokens"`
				CacheReadTokens   int64   `json:"cacheReadTokens"`
				Cost              float64 `json:"cost"`
				FormattedCost     string  `json:"formattedCost"`
			} `json:"total"`
		} `json:"usage"`
		Limits struct {
			TokenLimit             int64   `json:"tokenLimit"`
			ConcurrencyLimit       int     `json:"concurrencyLimit"`
			RateLimitWindow        int     `json:"rateLimitWindow"`
			RateLimitRequests      int     `json:"rateLimitRequests"`
			RateLimitCost          float64 `json:"rateLimitCost"`
			DailyCostLimit         float64 `json:"dailyCostLimit"`
			TotalCostLimit         float64 `json:"totalCostLimit"`
			WeeklyOpusCostLimit    float64 `json:"weeklyOpusCostLimit"`
			WeeklyResetDay         int     `json:"weeklyResetDay"`
			WeeklyResetHour        int     `json:"weeklyResetHour"`
			CurrentWindowRequests  int64   `json:"currentWindowRequests"`
			CurrentWindowTokens    int64   `json:"currentWindowTokens"`
			CurrentWindowCost      float64 `json:"currentWindowCost"`
			CurrentDailyCost       float64 `json:"currentDailyCost"`
			CurrentTotalCost       float64 `json:"currentTotalCost"`
			WeeklyOpusCost         float64 `json:"weeklyOpusCost"`
			WindowStartTime        *int64  `json:"windowStartTime"`
			WindowEndTime          *int64  `json:"windowEndTime"`
			WindowRemainingSeconds *int64  `json:"windowRemainingSeconds"`
		} `json:"limits"`
		Accounts struct {
			ClaudeAccountID *string `json:"claudeAccountId"`
			GeminiAccountID *string `json:"geminiAccountId"`
			OpenAIAccountID *string `json:"openaiAccountId"`
			Details         any     `json:"details"`
		} `json:"accounts"`
		Restrictions struct {
			EnableModelRestriction  bool     `json:"enableModelRestriction"`
			RestrictedModels        []string `json:"restrictedModels"`
			EnableClientRestriction bool     `json:"enableClientRestriction"`
			AllowedClients          []string `json:"allowedClients"`
		} `json:"restrictions"`
		ServiceRates map[string]any `json:"serviceRates"`
	} `json:"data"`
}

func TestUserStatsParsesAsClaudeRelayServices(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.UpdateKey(t, "key1", `{"dailyCostLimitMicros":20000000,"rateLimitWindow":30,"rateLimitRequests":100,"concurrencyLimit":2,"permissions":"codex"}`)
		e.UpdateKey(t, "key1", `{"permissions":"all"}`)
		e.up.SetDefault(upstreamtest.Reply{Text: "ok", Usage: upstreamtest.Usage{InputTokens: 1000, OutputTokens: 200, CacheRead: 50}})
		for range 3 {
			if resp, got := post(t, e.Env, "/api/v1/messages", e.key, claudeBody); resp.StatusCode != http.StatusOK {
				t.Fatalf("relay: %d %s", resp.StatusCode, got)
			}
		}
		e.WaitUsage(t, 3)
		e.WaitUsageProjected(t)
		r := keyStatsDo(t, e.Env, "/apiStats/api/user-stats", apiKeyBody(e.key), "")
		if r.Status != http.StatusOK {
			t.Fatalf("user-stats: %d %s", r.Status, r.Body)
		}
		var got crsUserStats
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("user-stats does not decode as CRS's: %v\n%s", err, r.Body)
		}
		// Every field CRS sends is there (a missing one would decode as
		// its zero value without complaint).
		var raw struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		r.JSON(t, &raw)
		for _, f := range strings.Fields("id name description isActive createdAt expiresAt expirationMode isActivated activationDays activatedAt permissions usage limits accounts restrictions serviceRates") {
			if _, ok := raw.Data[f]; !ok {
				t.Fatalf("field %s missing from %s", f, r.Body)
			}
		}
		var lim map[string]json.RawMessage
		if err := json.Unmarshal(raw.Data["limits"], &lim); err != nil || len(lim) != 19 {
			t.Fatalf("limits %s: %v", raw.Data["limits"], err)
		}
		d := got.Data
		us := e.UsageEvents(t)
		var cost int64
		var in, out, cr int64
		for _, u := range us {
			cost += u.CostNanos
			in, out, cr = in+u.Tokens.InputTokens, out+u.Tokens.OutputTokens, cr+u.Tokens.CacheReadTokens
		}
		costUSD, _ := strconv.ParseFloat(pricing.FormatUSD(cost), 64)
		total := d.Usage.Total
		if !got.Success || d.ID != "key1" || d.Name != "k" || !d.IsActive || d.Permissions != "all" || d.ExpirationMode != "fixed" {
			t.Fatalf("user-stats %+v", d)
		}
		if total.Requests != 3 || total.InputTokens != in || total.OutputTokens != out || total.CacheReadTokens != cr ||
			total.AllTokens != in+out+cr+total.CacheCreateTokens || total.Cost != costUSD || !strings.HasPrefix(total.FormattedCost, "$") {
			t.Fatalf("usage %+v, want 3 requests, %d/%d/%d tokens, cost %v", total, in, out, cr, costUSD)
		}
		l := d.Limits
		if l.DailyCostLimit != 20 || l.CurrentDailyCost != costUSD || l.CurrentTotalCost != costUSD || l.ConcurrencyLimit != 2 ||
			l.RateLimitWindow != 30 || l.RateLimitRequests != 100 || l.CurrentWindowRequests != 3 || l.CurrentWindowCost != costUSD || l.WeeklyResetDay != 1 {
			t.Fatalf("limits %+v", l)
		}
		if l.WindowStartTime == nil || l.WindowEndTime == nil || *l.WindowEndTime-*l.WindowStartTime != 30*60*1000 ||
			l.WindowRemainingSeconds == nil || *l.WindowRemainingSeconds < 29*60 || *l.WindowRemainingSeconds > 30*60 {
			t.Fatalf("window %v %v %v", l.WindowStartTime, l.WindowEndTime, l.WindowRemainingSeconds)
		}
		if d.Restrictions.RestrictedModels == nil || d.Restrictions.AllowedClients == nil || d.ServiceRates == nil {
			t.Fatalf("CRS sends arrays and objects, not null: %s", r.Body)
		}
	})
}

// Every kind of bad key gets the same 401, byte for byte, on each route;
// id lookups too on CRS's.
func TestKeyStatsBadKeysGetOneIdentical401(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		past := time.Now().Add(-time.Hour)
		deleted := env.CreateKey(t, events.Key{ID: "kdel", Name: "d", IsActive: true})
		env.DeleteKey(t, "kdel")
		disabled := env.CreateKey(t, events.Key{ID: "kdis", Name: "x", IsActive: false})
		expired := env.CreateKey(t, events.Key{ID: "kexp", Name: "e", IsActive: true, ExpiresAt: &past})
		good := env.CreateKey(t, events.Key{ID: "kok", Name: "ok", IsActive: true})
		if r := keyStatsDo(t, env, "/api/v2/key-stats", apiKeyBody(good), ""); r.Status != http.StatusOK {
			t.Fatalf("good key: %d %s", r.Status, r.Body)
		}
		unknown := "cr_" + strings.Repeat("ab", 32)
		bad := map[string]string{
			"unknown": apiKeyBody(unknown), "deleted": apiKeyBody(deleted), "disabled": apiKeyBody(disabled),
			"expired": apiKeyBody(expired), "malformed": apiKeyBody("sk-not-a-relay-key"),
		}
		for _, route := range []struct{ path, want string }{
			{"/api/v2/key-stats", `{"error":{"code":"unauthorized","message":"invalid API key"},"success":false}`},
			{"/apiStats/api/user-stats", `{"error":"Invalid API key","message":"invalid API key"}`},
		} {
			cases := bad
			if strings.HasPrefix(route.path, "/apiStats/") {
				cases = map[string]string{"apiId": `{"apiId":"kok"}`, "apiId and key": `{"apiId":"kok","apiKey":"` + good + `"}`}
				for k, v := range bad {
					cases[k] = v
				}
			}
			for name, body := range cases {
				r := keyStatsDo(t, env, route.path, body, "")
				if r.Status != http.StatusUnauthorized || strings.TrimSpace(string(r.Body)) != route.want {
					t.Fatalf("%s %s: %d %s, want 401 %s", route.path, name, r.Status, r.Body, route.want)
				}
			}
			// Not JSON: 415, in the route's own dialect.
			req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+route.path, strings.NewReader("apiKey="+good))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := env.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || body["error"] == nil {
				t.Fatalf("%s form body: %d %v", route.path, resp.StatusCode, body)
			}
		}
	})
}

// Looking at an activation-mode key never starts its countdown: it stays
// unactivated, and no activation is recorded; its first relayed request
// does start it.
func TestKeyStatsNeverActivatesAKey(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		secret := e.CreateKey(t, events.Key{ID: "kact", Name: "act", IsActive: true, ExpirationMode: "activation", ActivationDays: 3, ActivationUnit: "days"})
		var ks map[string]any
		for range 3 {
			ks = keyStatsOf(t, e.Env, secret)
			if r := keyStatsDo(t, e.Env, "/apiStats/api/user-stats", apiKeyBody(secret), ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"isActivated":false`) {
				t.Fatalf("user-stats: %d %s", r.Status, r.Body)
			}
		}
		if ks["isActivated"] != false || ks["expiresAt"] != nil || ks["expiresInSeconds"] != nil || ks["expirationMode"] != "activation" ||
			ks["activationDays"] != json.Number("3") || ks["activationUnit"] != "days" {
			t.Fatalf("after looking: %v", ks)
		}
		activations := func() int {
			ctx := context.Background()
			stream, err := e.JS.Stream(ctx, events.StreamConfig)
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
				m, err := stream.GetMsg(ctx, seq)
				if err == nil && m.Subject == events.KeySubject("kact") && strings.Contains(string(m.Data), events.KeyActivated) {
					n++
				}
			}
			return n
		}
		if n := activations(); n != 0 {
			t.Fatalf("%d activations recorded by looking", n)
		}
		tok := e.AdminToken(t)
		if k := adminJSON(t, e.Env, tok, "/api/v2/keys/kact"); k["isActivated"] != false {
			t.Fatalf("admin sees %v", k)
		}
		// The first relayed request activates it, and the holder sees the
		// countdown.
		if resp, got := post(t, e.Env, "/api/v1/messages", secret, claudeBody); resp.StatusCode != http.StatusOK {
			t.Fatalf("relay: %d %s", resp.StatusCode, got)
		}
		ks = keyStatsOf(t, e.Env, secret)
		secs, _ := ks["expiresInSeconds"].(json.Number).Int64()
		if ks["isActivated"] != true || ks["expiresAt"] == nil || secs <= 3*86400-60 || secs > 3*86400 || activations() != 1 {
			t.Fatalf("after the first request: %v", ks)
		}
	})
}

// Looking is limited per address and per key, in fixed minutes, and a
// refused look leaves the key's relay traffic alone.
func TestKeyStatsRateLimitLeavesRelayTrafficAlone(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnvWith(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.1/32"))
		}})
		// Were looks counted as relay requests, the relay would refuse
		// this key after 5.
		e.UpdateKey(t, "key1", `{"rateLimitWindow":60,"rateLimitRequests":5}`)
		// A run counts in one fixed minute; one that straddles two is run
		// again from fresh addresses and a fresh key.
		inOneMinute := func(run func(attempt int) bool) {
			t.Helper()
			for attempt := range 3 {
				start := time.Now()
				ok := run(attempt)
				if start.Truncate(time.Minute).Equal(time.Now().Truncate(time.Minute)) {
					if !ok {
						t.Fatal("run failed")
					}
					return
				}
			}
			t.Fatal("three runs straddled a minute")
		}
		tooMany := func(r edgetest.Response, what string) bool {
			t.Helper()
			ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if r.Status != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 60 || !strings.Contains(string(r.Body), "rate_limited") {
				t.Logf("%s: %d %q %s, want 429 with Retry-After", what, r.Status, r.Header.Get("Retry-After"), r.Body)
				return false
			}
			return true
		}
		relayOK := func(secret string) {
			t.Helper()
			if resp, got := post(t, e.Env, "/api/v1/messages", secret, claudeBody); resp.StatusCode != http.StatusOK {
				t.Fatalf("relay while looking is limited: %d %s", resp.StatusCode, got)
			}
		}
		// Per address: 30 looks, then 429, whatever the key; CRS's route
		// shares the count.
		inOneMinute(func(attempt int) bool {
			addr := fmt.Sprintf("203.0.113.%d", attempt+1)
			for i := range 30 {
				path := "/api/v2/key-stats"
				if i%2 == 1 {
					path = "/apiStats/api/user-stats"
				}
				if r := keyStatsDo(t, e.Env, path, apiKeyBody(e.key), addr); r.Status != http.StatusOK {
					t.Logf("look %d from %s: %d %s", i, addr, r.Status, r.Body)
					return false
				}
			}
			r := keyStatsDo(t, e.Env, "/api/v2/key-stats", apiKeyBody("cr_"+strings.Repeat("0", 64)), addr)
			crs := keyStatsDo(t, e.Env, "/apiStats/api/user-stats", apiKeyBody(e.key), addr)
			if !tooMany(r, "31st look") || crs.Status != http.StatusTooManyRequests || !strings.Contains(string(crs.Body), `"error":"Too many requests"`) {
				return false
			}
			relayOK(e.key)
			return true
		})
		// Per key: 60 looks from three addresses, then 429 from a fourth.
		inOneMinute(func(attempt int) bool {
			secret := e.CreateKey(t, events.Key{Name: fmt.Sprint("per-key ", attempt), IsActive: true})
			for i := range 60 {
				addr := fmt.Sprintf("198.51.100.%d", 10*attempt+i%3)
				if r := keyStatsDo(t, e.Env, "/api/v2/key-stats", apiKeyBody(secret), addr); r.Status != http.StatusOK {
					t.Logf("look %d from %s: %d %s", i, addr, r.Status, r.Body)
					return false
				}
			}
			fresh := fmt.Sprintf("2001:db8:%d::1", attempt+1)
			if !tooMany(keyStatsDo(t, e.Env, "/api/v2/key-stats", apiKeyBody(secret), fresh), "61st look at a key") {
				return false
			}
			// The address is not spent: another key looks fine from it.
			if r := keyStatsDo(t, e.Env, "/api/v2/key-stats", apiKeyBody(e.key), fresh); r.Status != http.StatusOK {
				t.Logf("other key from %s: %d %s", fresh, r.Status, r.Body)
				return false
			}
			relayOK(secret)
			return true
		})
		// Only the relayed requests are in the key's request window.
		use, err := e.Store.KeyUse(context.Background(), "key1", time.Hour, time.Now())
		if err != nil || use.WindowRequests < 1 || use.WindowRequests > 3 {
			t.Fatalf("key1's request window %+v %v", use, err)
		}
	})
}
