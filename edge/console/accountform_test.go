package console

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func accountFormFull() url.Values {
	return url.Values{
		"platform": {"claude-console"}, "name": {"console-main"}, "description": {"team account"},
		"apiUrl": {"https://api.anthropic.com"}, "apiKey": {"sk-ant-secret-1234"}, "userAgent": {""},
		"supportedModels": {"claude-sonnet-4-5\nsonnet = claude-sonnet-4-5-20250929"}, "priority": {"40"},
		"schedulable": {"on"}, "isActive": {"on"}, "accountType": {"shared"},
		"proxyProtocol": {"socks5"}, "proxyHost": {"10.1.2.3"}, "proxyPort": {"1080"}, "proxyUsername": {"u"}, "proxyPassword": {"proxy-secret"},
		"rateLimitDuration": {"30"}, "dailyQuota": {"50"}, "quotaResetTime": {"08:00"}, "maxConcurrency": {"5"},
	}
}

func TestCreateAndEditAccount(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	requireContains(t, b.get("/console/accounts/new").Body.String(), "New upstream account", `name="apiKey" type="password"`)

	form := accountFormFull()
	form.Set("csrf", b.csrf("/console/accounts/new"))
	rec := b.post("/console/accounts/new", form)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/accounts/acc-new-1?done=created" {
		t.Fatalf("create: %d %s\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	a := f.acctIn.Account
	if a.Platform != "claude-console" || a.Name != "console-main" || a.APIKey != "sk-ant-secret-1234" || a.Priority != 40 ||
		!maps.Equal(a.SupportedModels, map[string]string{"claude-sonnet-4-5": "claude-sonnet-4-5", "sonnet": "claude-sonnet-4-5-20250929"}) ||
		a.Proxy == nil || *a.Proxy != (ProxyFields{Protocol: "socks5", Host: "10.1.2.3", Port: 1080, Username: "u", Password: "proxy-secret"}) ||
		a.RateLimitDuration != 30 || a.DailyQuotaMicros != 50_000_000 || a.QuotaResetTime != "08:00" || a.MaxConcurrency != 5 ||
		!a.Schedulable || !a.IsActive || a.AccountType != "shared" {
		t.Errorf("the backend got %+v (proxy %+v)", a, a.Proxy)
	}
	if !slices.Equal(f.acctIn.Fields, allAccountFields) || f.acctIn.Actor != "admin" {
		t.Errorf("fields %v actor %q", f.acctIn.Fields, f.acctIn.Actor)
	}

	body := b.get("/console/accounts/acc-new-1?done=created").Body.String()
	requireContains(t, body, "Account created.", "Account console-main", `placeholder="…1234 (leave empty to keep it)"`,
		"sonnet = claude-sonnet-4-5-20250929", `value="10.1.2.3"`, `placeholder="leave empty to keep it"`)
	for _, secret := range []string{"sk-ant-secret-1234", "proxy-secret"} {
		if strings.Contains(body, secret) {
			t.Errorf("the account page shows %q", secret)
		}
	}

	// An edit without typing the key keeps it: only what changed is sent.
	form.Set("csrf", b.csrf("/console/accounts/acc-new-1"))
	form.Set("version", "1")
	form.Set("apiKey", "")
	form.Set("proxyPassword", "")
	form.Set("priority", "10")
	rec = b.post("/console/accounts/acc-new-1", form)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", rec.Code, rec.Body)
	}
	if !slices.Equal(f.acctIn.Fields, []string{"priority"}) {
		t.Errorf("update sent fields %v, want [priority]", f.acctIn.Fields)
	}

	// Refusals, the console's and the backend's, next to their fields; the
	// secrets typed are not echoed back.
	form.Set("version", "2")
	form.Set("priority", "0")
	form.Set("apiKey", "sk-ant-new-secret")
	form.Set("dailyQuota", "lots")
	rec = b.post("/console/accounts/acc-new-1", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `id="dailyQuota-err">Enter an amount in dollars, like 12.50.</p>`)
	form.Set("dailyQuota", "50")
	rec = b.post("/console/accounts/acc-new-1", form)
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), `id="priority-err">priority must be 1 to 100</p>`)
	if strings.Contains(rec.Body.String(), "sk-ant-new-secret") {
		t.Error("a refused form echoes the key typed")
	}

	// A stale version is a conflict.
	form.Set("priority", "20")
	form.Set("version", "1")
	requireStatus(t, b.post("/console/accounts/acc-new-1", form), http.StatusConflict)
	requireStatus(t, b.get("/console/accounts/nope"), http.StatusNotFound)
}

func TestAccountActions(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	form := accountFormFull()
	form.Set("csrf", b.csrf("/console/accounts/new"))
	form.Set("accountType", "dedicated")
	requireStatus(t, b.post("/console/accounts/new", form), http.StatusSeeOther)

	act := func(action string) *http.Response {
		tok := b.csrf("/console/accounts/acc-new-1")
		return b.post("/console/accounts/acc-new-1/action", url.Values{"csrf": {tok}, "action": {action}}).Result()
	}
	if resp := act("toggle_schedulable"); resp.Header.Get("Location") != "/console/accounts/acc-new-1?done=toggle_schedulable" {
		t.Fatalf("toggle: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	requireContains(t, b.get("/console/accounts/acc-new-1").Body.String(), "Schedule again")
	if resp := act("reset_rate_limit"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	// A refused delete says why, in the backend's words.
	tok := b.csrf("/console/accounts/acc-new-1")
	rec := b.post("/console/accounts/acc-new-1/action", url.Values{"csrf": {tok}, "action": {"delete"}})
	requireStatus(t, rec, http.StatusConflict)
	requireContains(t, rec.Body.String(), "Relay refused that change.", "dedicated account of 1 API key(s): key-00002")
	if resp := act("explode"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown action: %d", resp.StatusCode)
	}
	requireStatus(t, b.post("/console/accounts/acc-new-1/action", url.Values{"action": {"delete"}}), http.StatusForbidden)
	if !slices.Equal(f.acctActs, []string{"toggle_schedulable by admin", "reset_rate_limit by admin", "delete by admin"}) {
		t.Errorf("actions %v", f.acctActs)
	}
}

func TestParseModels(t *testing.T) {
	m, ok := parseModels(" a \n\n b = c \r\n")
	if !ok || !maps.Equal(m, map[string]string{"a": "a", "b": "c"}) {
		t.Errorf("parseModels = %v, %v", m, ok)
	}
	for _, bad := range []string{"= c", "b ="} {
		if _, ok := parseModels(bad); ok {
			t.Errorf("parseModels(%q) accepted", bad)
		}
	}
	if got := modelsText(map[string]string{"b": "c", "a": "a"}); got != "a\nb = c" {
		t.Errorf("modelsText = %q", got)
	}
}
