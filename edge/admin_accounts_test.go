package edge_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/secrets"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
	"relay/store/redistest"
)

type apiProxy struct {
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Auth     *struct {
		Username    string `json:"username"`
		HasPassword bool   `json:"hasPassword"`
	} `json:"auth"`
}

type apiAccount struct {
	ID                string            `json:"id"`
	Platform          string            `json:"platform"`
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	APIURL            string            `json:"apiUrl"`
	APIKey            string            `json:"apiKey"`
	UserAgent         string            `json:"userAgent"`
	SupportedModels   map[string]string `json:"supportedModels"`
	Priority          int               `json:"priority"`
	Schedulable       bool              `json:"schedulable"`
	IsActive          bool              `json:"isActive"`
	AccountType       string            `json:"accountType"`
	Proxy             *apiProxy         `json:"proxy"`
	RateLimitDuration int               `json:"rateLimitDuration"`
	DailyQuota        float64           `json:"dailyQuota"`
	QuotaResetTime    string            `json:"quotaResetTime"`
	MaxConcurrency    int               `json:"maxConcurrency"`
	Status            string            `json:"status"`
	StatusUntil       *time.Time        `json:"statusUntil"`
	IsDeleted         bool              `json:"isDeleted"`
	LastUsedAt        *time.Time        `json:"lastUsedAt"`
	Version           uint64            `json:"version"`
}

type apiAvailability struct {
	Available bool     `json:"available"`
	Reasons   []string `json:"reasons"`
}

func claudeAccountBody(key string) map[string]any {
	return map[string]any{"name": "Console main", "apiUrl": "https://api.anthropic.com/", "apiKey": key}
}

func codexAccountBody(key string) map[string]any {
	return map[string]any{"name": "Codex main", "apiUrl": "https://api.openai.com/v1", "apiKey": key}
}

func accountPath(a apiAccount, suffix string) string {
	return "/api/v2/accounts/" + a.Platform + "/" + a.ID + suffix
}

func TestAccountLifecycle(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		box, err := secrets.NewBox([]byte(edgetest.EncryptionKey))
		if err != nil {
			t.Fatal(err)
		}
		const key1 = "sk-ant-api03-lifecycle-first-key-0000000a9c"
		a, r := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok, claudeAccountBody(key1))
		if a.Platform != "claude-console" || a.APIKey != "sk-ant-...a9c" || a.APIURL != "https://api.anthropic.com" ||
			a.Priority != 50 || !a.Schedulable || !a.IsActive || a.AccountType != "shared" || a.RateLimitDuration != 60 ||
			a.QuotaResetTime != "00:00" || a.Status != "active" || a.Proxy != nil || len(a.SupportedModels) != 0 || a.SupportedModels == nil {
			t.Fatalf("created %+v", a)
		}
		if strings.Contains(string(r.Body), key1) || strings.Contains(string(r.Body), "Sealed") {
			t.Fatalf("answer shows the credential: %s", r.Body)
		}
		view, err := env.Store.Account(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := box.Open(view.APIKeySealed); err != nil || got != key1 {
			t.Fatalf("sealed key opens to %q, %v", got, err)
		}

		// An update without apiKey keeps the sealed key as it was.
		upd, _ := call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{
			"priority": 10, "supportedModels": []string{"claude-sonnet-4-5", "claude-haiku-4-5"}, "dailyQuota": 12.5,
			"proxy": map[string]any{"protocol": "socks5", "host": "10.0.0.1", "port": 1080, "auth": map[string]any{"username": "u", "password": "proxy-pass-lifecycle"}},
		})
		if upd.Priority != 10 || upd.DailyQuota != 12.5 || upd.SupportedModels["claude-haiku-4-5"] != "claude-haiku-4-5" || len(upd.SupportedModels) != 2 ||
			upd.Proxy == nil || upd.Proxy.Auth == nil || upd.Proxy.Auth.Username != "u" || !upd.Proxy.Auth.HasPassword || upd.APIKey != a.APIKey {
			t.Fatalf("updated %+v", upd)
		}
		after, _ := env.Store.Account(t.Context(), a.ID)
		if after.APIKeySealed != view.APIKeySealed || after.DailyQuotaMicros != 12_500_000 {
			t.Fatalf("sealed key changed by an update without apiKey")
		}
		if pw, err := box.Open(after.Proxy.PasswordSealed); err != nil || pw != "proxy-pass-lifecycle" {
			t.Fatalf("proxy password opens to %q, %v", pw, err)
		}
		// Sending back the proxy as read keeps its password; a map replaces
		// the model list whole.
		upd, _ = call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{
			"proxy": upd.Proxy, "supportedModels": map[string]string{"opus": "claude-opus-4-5"},
		})
		if after, _ = env.Store.Account(t.Context(), a.ID); after.Proxy == nil || after.Proxy.PasswordSealed == "" {
			t.Fatalf("proxy password lost: %+v", after.Proxy)
		}
		if len(upd.SupportedModels) != 1 || upd.SupportedModels["opus"] != "claude-opus-4-5" {
			t.Fatalf("models %v", upd.SupportedModels)
		}
		// A proxy without auth has none, whatever the previous one had.
		upd, _ = call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{
			"proxy": map[string]any{"protocol": "http", "host": "proxy.example", "port": 3128},
		})
		if after, _ = env.Store.Account(t.Context(), a.ID); upd.Proxy.Auth != nil || after.Proxy.Username != "" || after.Proxy.PasswordSealed != "" {
			t.Fatalf("old proxy auth kept: %+v", after.Proxy)
		}
		// A new apiKey is sealed anew.
		upd, _ = call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{"apiKey": "sk-ant-api03-lifecycle-second-key-00000b7f", "proxy": nil})
		if upd.APIKey != "sk-ant-...b7f" || upd.Proxy != nil {
			t.Fatalf("new key %+v", upd)
		}

		got, r := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil)
		if got.Version != upd.Version || r.Header.Get("ETag") != `"`+strconv.FormatUint(got.Version, 10)+`"` {
			t.Fatalf("read %+v etag %s", got, r.Header.Get("ETag"))
		}
		list, _ := call[page[apiAccount]](t, env, http.StatusOK, http.MethodGet, "/api/v2/accounts/claude-console", tok, nil)
		if list.Total != 1 || list.Items[0].ID != a.ID {
			t.Fatalf("list %+v", list)
		}
		other, _ := call[page[apiAccount]](t, env, http.StatusOK, http.MethodGet, "/api/v2/accounts/codex", tok, nil)
		if other.Total != 0 {
			t.Fatalf("codex list shows a console account: %+v", other)
		}

		tog, _ := call[apiAccount](t, env, http.StatusOK, http.MethodPost, accountPath(a, "/toggle-schedulable"), tok, nil)
		if tog.Schedulable {
			t.Fatal("toggle did not flip schedulable")
		}
		av, _ := call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if av.Available || !slicesEqual(av.Reasons, []string{"unschedulable"}) {
			t.Fatalf("availability %+v", av)
		}
		tog, _ = call[apiAccount](t, env, http.StatusOK, http.MethodPost, accountPath(a, "/toggle-schedulable"), tok, nil)
		if !tog.Schedulable {
			t.Fatal("second toggle did not flip back")
		}

		del, _ := call[apiAccount](t, env, http.StatusOK, http.MethodDelete, accountPath(a, ""), tok, nil)
		if !del.IsDeleted {
			t.Fatalf("deleted %+v", del)
		}
		var inCatalog projections.AccountView
		env.Edge.Catalog().Read(func(c *projections.Catalog) { inCatalog = c.Accounts[a.ID] })
		if !inCatalog.IsDeleted {
			t.Fatal("catalog still schedules the deleted account")
		}
		av, _ = call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if av.Available || av.Reasons[0] != "deleted" {
			t.Fatalf("availability of a deleted account %+v", av)
		}
		for _, w := range []struct{ method, suffix string }{
			{http.MethodPut, ""}, {http.MethodDelete, ""}, {http.MethodPost, "/toggle-schedulable"}, {http.MethodPost, "/reset-rate-limit"},
		} {
			wantStatus(t, do(t, env, w.method, accountPath(a, w.suffix), tok, `{"name":"x"}`, nil), http.StatusConflict, "conflict")
		}
		list, _ = call[page[apiAccount]](t, env, http.StatusOK, http.MethodGet, "/api/v2/accounts/claude-console", tok, nil)
		withDeleted, _ := call[page[apiAccount]](t, env, http.StatusOK, http.MethodGet, "/api/v2/accounts/claude-console?includeDeleted=1", tok, nil)
		if list.Total != 0 || withDeleted.Total != 1 {
			t.Fatalf("lists after delete: %d, with deleted %d", list.Total, withDeleted.Total)
		}
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// markState publishes a health state for account id the way the relay does,
// and waits for the edge and the projection.
func markState(t *testing.T, env *edgetest.Env, id, state string, until time.Time) {
	t.Helper()
	e, err := events.New(events.AccountStateMarked, time.Now(), "relay", "", events.AccountStateMarkedData{AccountID: id, State: state, Until: until})
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
	if err := env.Store.WaitCheckpoint(ctx, store.ProjectionState, seq); err != nil {
		t.Fatal(err)
	}
}

func TestAccountStatusAvailabilityAndReset(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		a, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody("sk-proj-availability-test-000000"))
		av, _ := call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if !av.Available || len(av.Reasons) != 0 {
			t.Fatalf("fresh account unavailable: %+v", av)
		}
		until := time.Now().Add(20 * time.Minute).UTC().Truncate(time.Second)
		for _, tt := range []struct{ state, status, reason string }{
			{events.StateOverloaded, "overloaded", "overloaded until "},
			{events.StateUnauthorized, "unauthorized", "unauthorized until "},
			{events.StateRateLimited, "rate_limited", "rate limited until "},
		} {
			markState(t, env, a.ID, tt.state, until)
			got, _ := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil)
			if got.Status != tt.status || got.StatusUntil == nil || !got.StatusUntil.Equal(until) {
				t.Fatalf("%s: status %s until %v", tt.state, got.Status, got.StatusUntil)
			}
			av, _ := call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
			if av.Available || len(av.Reasons) != 1 || av.Reasons[0] != tt.reason+until.Format(time.RFC3339) {
				t.Fatalf("%s: availability %+v", tt.state, av)
			}
		}
		// Every reason at once.
		call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{"isActive": false, "schedulable": false})
		av, _ = call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if want := []string{"inactive", "unschedulable", "rate limited until " + until.Format(time.RFC3339)}; !slicesEqual(av.Reasons, want) {
			t.Fatalf("reasons %q, want %q", av.Reasons, want)
		}

		reset, _ := call[apiAccount](t, env, http.StatusOK, http.MethodPost, accountPath(a, "/reset-rate-limit"), tok, nil)
		if reset.Status != "active" || reset.StatusUntil != nil {
			t.Fatalf("after reset %+v", reset)
		}
		var st projections.AccountStateView
		env.Edge.Catalog().Read(func(c *projections.Catalog) { st = c.States[a.ID] })
		if st.ActiveAt(time.Now()) != "" {
			t.Fatalf("catalog still holds a state: %+v", st)
		}
		if v, err := env.Store.AccountState(t.Context(), a.ID); err != nil || v.ActiveAt(time.Now()) != "" {
			t.Fatalf("projection still holds a state: %+v %v", v, err)
		}
		// A state that has ended needs no reset.
		markState(t, env, a.ID, events.StateOverloaded, time.Now().Add(-time.Second))
		got, _ := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil)
		if got.Status != "active" {
			t.Fatalf("ended state still shown: %s", got.Status)
		}
	})
}

func TestAccountValidation(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		with := func(extra map[string]any) map[string]any {
			body := claudeAccountBody("sk-ant-api03-validation-key-000000000")
			for k, v := range extra {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			return body
		}
		proxy := func(kv ...any) map[string]any {
			p := map[string]any{"protocol": "http", "host": "proxy.local", "port": 8080}
			for i := 0; i < len(kv); i += 2 {
				p[kv[i].(string)] = kv[i+1]
			}
			return p
		}
		tests := []struct {
			name  string
			body  any
			field string
		}{
			{"name missing", with(map[string]any{"name": nil}), "name"},
			{"apiUrl missing", with(map[string]any{"apiUrl": nil}), "apiUrl"},
			{"apiKey missing", with(map[string]any{"apiKey": nil}), "apiKey"},
			{"apiKey empty", with(map[string]any{"apiKey": ""}), "apiKey"},
			{"apiKey with space", with(map[string]any{"apiKey": "sk ant"}), "apiKey"},
			{"apiKey not a string", with(map[string]any{"apiKey": 42}), "apiKey"},
			{"apiUrl relative", with(map[string]any{"apiUrl": "/v1"}), "apiUrl"},
			{"apiUrl scheme", with(map[string]any{"apiUrl": "ftp://x.example"}), "apiUrl"},
			{"apiUrl no host", with(map[string]any{"apiUrl": "https://"}), "apiUrl"},
			{"apiUrl credentials", with(map[string]any{"apiUrl": "https://user:pw@x.example"}), "apiUrl"},
			{"apiUrl query", with(map[string]any{"apiUrl": "https://x.example/?k=v"}), "apiUrl"},
			{"apiUrl garbage", with(map[string]any{"apiUrl": "ht!tp://%%"}), "apiUrl"},
			{"priority low", with(map[string]any{"priority": 0}), "priority"},
			{"priority high", with(map[string]any{"priority": 101}), "priority"},
			{"priority fraction", with(map[string]any{"priority": 2.5}), "priority"},
			{"accountType", with(map[string]any{"accountType": "private"}), "accountType"},
			{"schedulable type", with(map[string]any{"schedulable": 1}), "schedulable"},
			{"rateLimitDuration", with(map[string]any{"rateLimitDuration": 0}), "rateLimitDuration"},
			{"dailyQuota negative", with(map[string]any{"dailyQuota": -1}), "dailyQuota"},
			{"quotaResetTime", with(map[string]any{"quotaResetTime": "24:00"}), "quotaResetTime"},
			{"quotaResetTime format", with(map[string]any{"quotaResetTime": "7:30"}), "quotaResetTime"},
			{"maxConcurrency", with(map[string]any{"maxConcurrency": -2}), "maxConcurrency"},
			{"supportedModels type", with(map[string]any{"supportedModels": "all"}), "supportedModels"},
			{"supportedModels empty name", with(map[string]any{"supportedModels": map[string]any{"": "x"}}), "supportedModels"},
			{"supportedModels value type", with(map[string]any{"supportedModels": map[string]any{"a": 1}}), "supportedModels"},
			{"proxy not object", with(map[string]any{"proxy": "http://proxy:8080"}), "proxy"},
			{"proxy protocol", with(map[string]any{"proxy": proxy("protocol", "ftp")}), "proxy.protocol"},
			{"proxy host", with(map[string]any{"proxy": proxy("host", "bad host/")}), "proxy.host"},
			{"proxy port", with(map[string]any{"proxy": proxy("port", 70000)}), "proxy.port"},
			{"proxy port missing", with(map[string]any{"proxy": map[string]any{"protocol": "http", "host": "h"}}), "proxy"},
			{"proxy unknown", with(map[string]any{"proxy": proxy("user", "x")}), "proxy.user"},
			{"proxy auth unknown", with(map[string]any{"proxy": proxy("auth", map[string]any{"token": "x"})}), "proxy.auth.token"},
			{"proxy password without user", with(map[string]any{"proxy": proxy("auth", map[string]any{"password": "x"})}), "proxy.auth.username"},
			{"unknown field", with(map[string]any{"region": "eu"}), "region"},
			{"status is derived", with(map[string]any{"status": "active"}), "status"},
			{"platform is the path's", with(map[string]any{"platform": "codex"}), "platform"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantInvalid(t, do(t, env, http.MethodPost, "/api/v2/accounts/claude-console", tok, tt.body, nil), tt.field)
			})
		}
		list, _ := call[page[apiAccount]](t, env, http.StatusOK, http.MethodGet, "/api/v2/accounts/claude-console?includeDeleted=true", tok, nil)
		if list.Total != 0 {
			t.Fatalf("an invalid request created an account")
		}
		ok, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok,
			with(map[string]any{"proxy": proxy("protocol", "socks5", "host", "[::1]"), "supportedModels": []string{}, "accountType": "dedicated", "quotaResetTime": "23:59"}))
		if ok.Proxy == nil || ok.Proxy.Host != "[::1]" || ok.AccountType != "dedicated" {
			t.Fatalf("valid account %+v", ok)
		}
		wantInvalid(t, do(t, env, http.MethodPut, accountPath(ok, ""), tok, `{"apiKey":null}`, nil), "apiKey")
		wantInvalid(t, do(t, env, http.MethodPut, accountPath(ok, ""), tok, `{"priority":"high"}`, nil), "priority")
	})
}

func TestAccountRoutesNeedAdminKnownPlatformAndID(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		console, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok, claudeAccountBody("sk-ant-api03-routes-test-key-00000000"))
		routes := []struct{ method, suffix string }{
			{http.MethodGet, ""}, {http.MethodPut, ""}, {http.MethodDelete, ""},
			{http.MethodPost, "/toggle-schedulable"}, {http.MethodPost, "/reset-rate-limit"}, {http.MethodGet, "/availability"},
		}
		for _, rt := range routes {
			for _, path := range []string{
				"/api/v2/accounts/claude-console/" + console.ID + rt.suffix,
			} {
				if r := do(t, env, rt.method, path, "", `{}`, nil); r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s without token: %d", rt.method, path, r.Status)
				}
			}
			for _, path := range []string{
				"/api/v2/accounts/claude-console/nope" + rt.suffix,  // unknown id
				"/api/v2/accounts/codex/" + console.ID + rt.suffix,  // another platform's account
				"/api/v2/accounts/gemini/" + console.ID + rt.suffix, // unknown platform
				"/api/v2/accounts/claude-console/a.b" + rt.suffix,   // not an id
			} {
				r := do(t, env, rt.method, path, tok, `{}`, nil)
				if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"code":"not_found"`) {
					t.Errorf("%s %s: %d %s", rt.method, path, r.Status, r.Body)
				}
			}
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if r := do(t, env, method, "/api/v2/accounts/claude-console", "", `{}`, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("%s list without token: %d", method, r.Status)
			}
			wantStatus(t, do(t, env, method, "/api/v2/accounts/claude", tok, claudeAccountBody("sk-x-unknown-platform-0000"), nil), http.StatusNotFound, "not_found")
		}
	})
}

func TestAccountStaleUpdateConflicts(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		a, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody("sk-proj-conflict-test-key-000000"))
		etag := fmt.Sprintf(`"%d"`, a.Version)
		call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{"priority": 5}, "If-Match", etag)
		for _, w := range []struct {
			method, suffix string
			body           any
		}{
			{http.MethodPut, "", map[string]any{"priority": 7}},
			{http.MethodPost, "/toggle-schedulable", nil},
			{http.MethodDelete, "", nil},
		} {
			wantStatus(t, do(t, env, w.method, accountPath(a, w.suffix), tok, w.body, map[string]string{"If-Match": etag}), http.StatusConflict, "conflict")
		}
		got, _ := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil)
		if got.Priority != 5 || !got.Schedulable || got.IsDeleted {
			t.Fatalf("a stale write went through: %+v", got)
		}
	})
}

// Usage and leases recorded by the relay show in the account: its last use,
// quota_exceeded once its daily quota is spent, and both reasons in its
// availability.
func TestAccountQuotaConcurrencyAndLastUsed(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		body := codexAccountBody("sk-proj-quota-test-key-00000000000")
		body["dailyQuota"], body["maxConcurrency"] = 1, 1
		a, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, body)
		k := createKey(t, env, tok, map[string]any{"name": "quota"})
		if a.Status != "active" || k.LastUsedAt != nil {
			t.Fatalf("fresh: status %s, key last used %v", a.Status, k.LastUsedAt)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		at := time.Now().UTC().Truncate(time.Millisecond)
		spend := func(nanos int64) {
			t.Helper()
			u := events.Usage{ID: events.NewID(at), Time: at, KeyID: k.ID, AccountID: a.ID, Platform: events.PlatformCodex, Model: "gpt-5",
				Status: 200, Outcome: events.OutcomeOK, Attempts: 1, Cost: pricing.NanosToUSD(nanos), CostNanos: nanos, Priced: true}
			e, err := events.NewWithID(u.ID, events.UsageRecorded, at, "", u.ID, u)
			if err != nil {
				t.Fatal(err)
			}
			seq, err := streams.Publish(ctx, env.JS, events.UsageSubject(u.Platform, u.KeyID), e, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Store.WaitCheckpoint(ctx, store.ProjectionUsage, seq); err != nil {
				t.Fatal(err)
			}
		}
		// One nano-dollar short of the $1 quota is under it: the quota
		// (micro-dollars) and the spend (nano-dollars) compare exactly.
		spend(999_999_999)
		if got, _ := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil); got.Status != "active" {
			t.Fatalf("$0.999999999 of a $1 quota: status %s", got.Status)
		}
		spend(500_000_001)
		if _, err := env.Store.Choose(ctx, store.Choice{RequestID: "req-1", LeaseTTL: time.Minute, Platform: events.PlatformCodex,
			Candidates: []store.Candidate{{ID: a.ID, Priority: 50, MaxConcurrency: 1}}}); err != nil {
			t.Fatal(err)
		}

		got, _ := call[apiAccount](t, env, http.StatusOK, http.MethodGet, accountPath(a, ""), tok, nil)
		if got.Status != "quota_exceeded" || got.StatusUntil == nil || !got.StatusUntil.After(time.Now()) {
			t.Fatalf("status %s until %v", got.Status, got.StatusUntil)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
			t.Fatalf("account lastUsedAt %v, want %v", got.LastUsedAt, at)
		}
		kk, _ := call[apiKey](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys/"+k.ID, tok, nil)
		if kk.LastUsedAt == nil || !kk.LastUsedAt.Equal(at) {
			t.Fatalf("key lastUsedAt %v, want %v", kk.LastUsedAt, at)
		}
		keys, _ := call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys", tok, nil)
		if keys.Items[0].LastUsedAt == nil {
			t.Fatal("list lacks lastUsedAt")
		}
		av, _ := call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if av.Available || len(av.Reasons) != 2 || !strings.HasPrefix(av.Reasons[0], "over daily quota (spent $1.50 of $1.00 since ") ||
			av.Reasons[1] != "at max concurrency (1 of 1 requests in flight)" {
			t.Fatalf("availability %q", av.Reasons)
		}
		// Raising the quota and the concurrency makes it available again.
		call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(a, ""), tok, map[string]any{"dailyQuota": 2, "maxConcurrency": 0})
		av, _ = call[apiAvailability](t, env, http.StatusOK, http.MethodGet, accountPath(a, "/availability"), tok, nil)
		if !av.Available {
			t.Fatalf("still unavailable: %q", av.Reasons)
		}
	})
}

// An account that live keys have as their dedicated account is not deleted
// from under them: they would be refused at every request.
func TestAccountBoundToKeysIsNotDeleted(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		a, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok,
			claudeAccountBody("sk-ant-api03-bound-account-key-000000000b1"))
		k, _ := call[apiKey](t, env, http.StatusCreated, http.MethodPost, "/api/v2/keys", tok,
			map[string]any{"name": "bound", "claudeConsoleAccountId": a.ID})
		r := do(t, env, http.MethodDelete, accountPath(a, ""), tok, nil, nil)
		wantStatus(t, r, http.StatusConflict, "conflict")
		if !strings.Contains(string(r.Body), k.ID) {
			t.Fatalf("the refusal does not name the bound key %s: %s", k.ID, r.Body)
		}
		var inCatalog projections.AccountView
		env.Edge.Catalog().Read(func(c *projections.Catalog) { inCatalog = c.Accounts[a.ID] })
		if inCatalog.IsDeleted {
			t.Fatal("the refused delete deleted the account")
		}
		call[apiKey](t, env, http.StatusOK, http.MethodDelete, "/api/v2/keys/"+k.ID, tok, nil)
		del, _ := call[apiAccount](t, env, http.StatusOK, http.MethodDelete, accountPath(a, ""), tok, nil)
		if !del.IsDeleted {
			t.Fatalf("deleted %+v", del)
		}
	})
}
