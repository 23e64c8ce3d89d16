package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
)

func TestRootAndConsoleRedirects(t *testing.T) {
	e, _ := newTestServer(t, newFakeBackend())
	b := newBrowser(t, e)
	for path, want := range map[string]string{
		"/":                  "/console/",
		"/console":           "/console/",
		"/console/":          "/console/login",
		"/console/keys?q=ab": "/console/login?next=%2Fconsole%2Fkeys%3Fq%3Dab",
	} {
		rec := b.get(path)
		if loc := rec.Header().Get("Location"); rec.Code/100 != 3 || loc != want {
			t.Errorf("GET %s: %d to %q, want a redirect to %q", path, rec.Code, loc, want)
		}
	}
}

func TestSignInSetsStrictHttpOnlyCookie(t *testing.T) {
	for _, tls := range []bool{false, true} {
		f := newFakeBackend()
		e, _ := newTestServer(t, f, func(c *Config) { c.Secure = func(*http.Request) bool { return tls } })
		b := newBrowser(t, e)
		b.signIn("correct horse")
		ck := b.cookies[sessionCookie]
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != tls || ck.Path != cookiePath {
			t.Errorf("tls=%v: cookie %+v, want HttpOnly, SameSite=Strict, Secure=%v, Path=/console", tls, ck, tls)
		}
		if _, ok := b.cookies[csrfCookie]; ok {
			t.Error("the pre-sign-in CSRF cookie outlived the sign-in")
		}
		if d := b.cookies[deviceCookie]; d == nil || d.Value != "d1.device" || d.Path != "/" {
			t.Errorf("device cookie %+v, want the backend's, on /", d)
		}
		rec := b.get("/console/")
		requireStatus(t, rec, http.StatusOK)
		requireContains(t, rec.Body.String(), "Overview", "Sign out")
		if got := f.signIns[0]; got.ClientAddr == "" || got.Username != "admin" {
			t.Errorf("SignIn got %+v, want the client address and username", got)
		}
	}
}

func TestSignInRefusals(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	tok := b.csrf("/console/login")

	rec := b.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"wrong"}})
	requireStatus(t, rec, http.StatusUnauthorized)
	requireContains(t, rec.Body.String(), "Wrong username or password.", `value="admin"`)
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Fatal("a wrong password got a session")
	}

	rec = b.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}})
	requireStatus(t, rec, http.StatusBadRequest)

	f.throttle = true
	rec = b.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"correct horse"}})
	requireStatus(t, rec, http.StatusTooManyRequests)
	if rec.Header().Get("Retry-After") != "90" {
		t.Errorf("Retry-After %q, want 90", rec.Header().Get("Retry-After"))
	}
}

func TestSignInRedirectStaysOnConsole(t *testing.T) {
	e, _ := newTestServer(t, newFakeBackend())
	for next, want := range map[string]string{
		"/console/keys?q=a":     "/console/keys?q=a",
		"https://evil.example/": "/console/",
		"//evil.example/":       "/console/",
		"/console//evil":        "/console/",
		"/docs":                 "/console/",
	} {
		b := newBrowser(t, e)
		tok := b.csrf("/console/login")
		rec := b.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"correct horse"}, "next": {next}})
		if got := rec.Header().Get("Location"); got != want {
			t.Errorf("next=%q: redirected to %q, want %q", next, got, want)
		}
	}
}

// TestCSRFRefusal: every POST without the right token, or from another
// origin, is refused and changes nothing.
func TestCSRFRefusal(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	other := newBrowser(t, e)
	other.signIn("correct horse")
	otherToken := other.csrf("/console/settings")

	b := newBrowser(t, e)
	b.signIn("correct horse")
	good := b.csrf("/console/settings")

	cases := []struct {
		name   string
		token  string
		origin string
	}{
		{"missing token", "", ""},
		{"forged token", "AAAA", ""},
		{"another session's token", otherToken, ""},
		{"right token, foreign origin", good, "https://evil.example"},
	}
	forms := map[string]url.Values{
		"/console/logout":            {},
		"/console/settings/password": {"currentPassword": {"correct horse"}, "newPassword": {"battery staple"}, "confirmPassword": {"battery staple"}},
		"/console/prefs":             {"lang": {"zh-CN"}},
	}
	for _, tc := range cases {
		for path, form := range forms {
			form := url.Values(mapsClone(form))
			if tc.token != "" {
				form.Set("csrf", tc.token)
			}
			b.header = http.Header{}
			if tc.origin != "" {
				b.header.Set("Origin", tc.origin)
			}
			rec := b.post(path, form)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s: POST %s got %d, want 403", tc.name, path, rec.Code)
			}
		}
	}
	b.header = http.Header{}
	if f.versions["admin"] != 7 || len(f.ended) != 0 {
		t.Fatalf("a refused form changed something: version %d, ended %v", f.versions["admin"], f.ended)
	}
	if _, ok := b.cookies[langCookie]; ok {
		t.Fatal("a refused prefs form set the language")
	}
	requireStatus(t, b.get("/console/"), http.StatusOK)

	// The sign-in form's token is bound to the browser's own cookie.
	anon := newBrowser(t, e)
	anon.csrf("/console/login")
	rec := anon.post("/console/login", url.Values{"csrf": {good}, "username": {"admin"}, "password": {"correct horse"}})
	requireStatus(t, rec, http.StatusForbidden)
	if _, ok := anon.cookies[sessionCookie]; ok {
		t.Fatal("a sign-in with a foreign CSRF token got a session")
	}
}

func mapsClone(v url.Values) map[string][]string {
	out := map[string][]string{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestSignOutEndsTheSession(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	stolen := *b.cookies[sessionCookie]
	tok := b.csrf("/console/")
	rec := b.post("/console/logout", url.Values{"csrf": {tok}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login?out=1" {
		t.Fatalf("sign out: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Fatal("the session cookie was not cleared")
	}
	if rec := b.get("/console/"); rec.Code != http.StatusSeeOther {
		t.Fatalf("after sign out /console/ answered %d", rec.Code)
	}
	// The cookie's value, replayed, is void too.
	replay := newBrowser(t, e)
	replay.cookies[sessionCookie] = &stolen
	if rec := replay.get("/console/"); rec.Code != http.StatusSeeOther {
		t.Fatalf("a signed-out session replayed got %d", rec.Code)
	}
	if len(f.ended) != 1 {
		t.Fatalf("EndSession calls: %v", f.ended)
	}
	requireContains(t, b.get("/console/login?out=1").Body.String(), "You have signed out.")
}

// TestPasswordChangeEndsEverySession: another browser's session is void
// after the change; the browser that changed it keeps working.
func TestPasswordChangeEndsEverySession(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	other := newBrowser(t, e)
	other.signIn("correct horse")
	b := newBrowser(t, e)
	b.signIn("correct horse")
	old := *b.cookies[sessionCookie]

	tok := b.csrf("/console/settings")
	rec := b.post("/console/settings/password", url.Values{"csrf": {tok}, "currentPassword": {"correct horse"}, "newPassword": {"battery staple"}, "confirmPassword": {"battery staple"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/settings?changed=1" {
		t.Fatalf("change password: %d %s\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if rec := other.get("/console/"); rec.Code != http.StatusSeeOther {
		t.Fatalf("another session survived the password change: %d", rec.Code)
	}
	replay := newBrowser(t, e)
	replay.cookies[sessionCookie] = &old
	if rec := replay.get("/console/"); rec.Code != http.StatusSeeOther {
		t.Fatalf("the changing browser's old cookie survived: %d", rec.Code)
	}
	rec = b.get("/console/settings?changed=1")
	requireStatus(t, rec, http.StatusOK)
	requireContains(t, rec.Body.String(), "Password changed.")
}

func TestChangePasswordFieldErrors(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	for _, tc := range []struct {
		name                   string
		current, next, confirm string
		field, text            string
	}{
		{"mismatch", "correct horse", "battery staple", "battery stapler", "confirmPassword", "The two new passwords differ."},
		{"wrong current", "nope", "battery staple", "battery staple", "currentPassword", "Wrong password."},
		{"too short", "correct horse", "short", "short", "newPassword", "Too short."},
	} {
		tok := b.csrf("/console/settings")
		rec := b.post("/console/settings/password", url.Values{"csrf": {tok}, "currentPassword": {tc.current}, "newPassword": {tc.next}, "confirmPassword": {tc.confirm}})
		requireStatus(t, rec, http.StatusBadRequest)
		requireContains(t, rec.Body.String(), `id="`+tc.field+`-err">`+tc.text+`</p>`, `aria-describedby="`+tc.field+`-err"`)
	}
	if f.versions["admin"] != 7 {
		t.Fatal("a refused change changed the password")
	}
	// The language switch on the answer returns to the settings page, not
	// to the POST-only form target.
	tok := b.csrf("/console/settings")
	body := b.post("/console/settings/password", url.Values{"csrf": {tok}, "currentPassword": {"x"}, "newPassword": {"12345678"}, "confirmPassword": {"1"}}).Body.String()
	requireContains(t, body, `name="back" value="/console/settings"`)
}

func TestTamperedOrExpiredSessionIsRefused(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := now
	f := newFakeBackend()
	e, h := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return clock }; c.SessionTTL = time.Hour })
	good := h.keys.sign(session{ID: "abc", Username: "admin", Version: 7, Expires: now.Add(time.Hour)})
	forged := deriveKeys([]byte("another secret, another key, 32+ bytes")).sign(session{ID: "abc", Username: "admin", Version: 7, Expires: now.Add(time.Hour)})
	cases := map[string]struct {
		value string
		ok    bool
	}{
		"valid":          {good, true},
		"other key":      {forged, false},
		"flipped byte":   {good[:10] + "x" + good[11:], false},
		"empty":          {"", false},
		"wrong version":  {h.keys.sign(session{ID: "abc", Username: "admin", Version: 6, Expires: now.Add(time.Hour)}), false},
		"unknown admin":  {h.keys.sign(session{ID: "abc", Username: "root", Version: 7, Expires: now.Add(time.Hour)}), false},
		"expired":        {h.keys.sign(session{ID: "abc", Username: "admin", Version: 7, Expires: now}), false},
		"huge":           {strings.Repeat("a", 5000), false},
		"not our format": {"s1.a.b.c", false},
	}
	for name, tc := range cases {
		b := newBrowser(t, e)
		b.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: tc.value}
		rec := b.get("/console/")
		if ok := rec.Code == http.StatusOK; ok != tc.ok {
			t.Errorf("%s: status %d, want ok=%v", name, rec.Code, tc.ok)
		}
	}
	clock = now.Add(2 * time.Hour)
	b := newBrowser(t, e)
	b.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: good}
	if rec := b.get("/console/"); rec.Code != http.StatusSeeOther {
		t.Errorf("a session past its expiry got %d", rec.Code)
	}
}

func TestBackendFailureShowsErrorPageNotDetails(t *testing.T) {
	f := newFakeBackend()
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")
	f.setFail(errors.New("redis: connection refused at 10.0.0.7:6379"))
	rec := b.get("/console/")
	requireStatus(t, rec, http.StatusServiceUnavailable)
	if strings.Contains(rec.Body.String(), "10.0.0.7") || strings.Contains(rec.Body.String(), "redis") {
		t.Fatal("the error page shows the backend's error")
	}
	requireContains(t, rec.Body.String(), "Relay could not answer just now.")
}

func TestPagesCarryCSPAndNoStore(t *testing.T) {
	e, h := newTestServer(t, newFakeBackend())
	b := newBrowser(t, e)
	for _, path := range []string{"/console/login", "/console/nope"} {
		rec := b.get(path)
		if got := rec.Header().Get("Content-Security-Policy"); got != CSP {
			t.Errorf("%s: CSP %q", path, got)
		}
		if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, rec.Header())
		}
	}
	requireStatus(t, b.get("/console/nope"), http.StatusNotFound)
	for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(CSP, d) {
			t.Errorf("CSP lacks %s", d)
		}
	}
	// No inline script or style anywhere: the CSP forbids them.
	b.signIn("correct horse")
	for _, path := range []string{"/console/login", "/console/", "/console/settings", "/console/keys", "/console/accounts", "/console/audit", "/console/keys/new", "/console/nope"} {
		body := b.get(path).Body.String()
		if path != "/console/login" { // signed in, the sign-in page redirects
			requireContains(t, body, `<footer class="foot">relay v-test</footer>`)
		}
		for _, bad := range []string{"<script>", "<style", " style=", "onclick", "onload", "onsubmit", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
		if strings.Contains(body, "http://") && !strings.Contains(body, `xmlns="http://www.w3.org/2000/svg"`) {
			t.Errorf("%s links another host", path)
		}
	}
	_ = h
}

func TestStaticAssets(t *testing.T) {
	e, h := newTestServer(t, newFakeBackend())
	total := 0
	for name, f := range h.static {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, h.staticPrefix+"/"+name, nil))
		requireStatus(t, rec, http.StatusOK)
		if !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") || rec.Header().Get("Content-Type") != f.contentType {
			t.Errorf("%s: headers %v", name, rec.Header())
		}
		if strings.HasSuffix(name, ".css") || strings.HasSuffix(name, ".js") {
			total += len(f.body)
		}
	}
	if total == 0 || total > 100*1024 {
		t.Errorf("CSS and JS weigh %d bytes, want under 100 KB", total)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/static/000000000000/console.css", nil))
	requireStatus(t, rec, http.StatusNotFound)
}

func TestPrefsStickAndStayOnConsole(t *testing.T) {
	e, _ := newTestServer(t, newFakeBackend())
	b := newBrowser(t, e)
	b.header.Set("Accept-Language", "de-DE, zh;q=0.8, en;q=0.5")
	requireContains(t, b.get("/console/login").Body.String(), `<html lang="zh-CN"`, "登录 relay")

	tok := b.csrf("/console/login")
	rec := b.post("/console/prefs", url.Values{"csrf": {tok}, "lang": {"en"}, "theme": {"dark"}, "back": {"/console/login?next=%2Fconsole%2Fkeys"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login?next=%2Fconsole%2Fkeys" {
		t.Fatalf("prefs: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	body := b.get("/console/login").Body.String()
	requireContains(t, body, `<html lang="en" data-theme="dark"`, "Sign in to relay")

	rec = b.post("/console/prefs", url.Values{"csrf": {tok}, "theme": {"system"}, "back": {"https://evil.example/"}})
	if rec.Header().Get("Location") != "/console/" {
		t.Fatalf("prefs sent the browser to %q", rec.Header().Get("Location"))
	}
	requireContains(t, b.get("/console/login").Body.String(), `<html lang="en">`)

	for _, bad := range []url.Values{{"lang": {"fr"}}, {"theme": {"neon"}}} {
		bad.Set("csrf", tok)
		requireStatus(t, b.post("/console/prefs", bad), http.StatusBadRequest)
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                                "en",
		"fr-FR":                           "en",
		"zh-CN,zh;q=0.9,en;q=0.8":         "zh-CN",
		"zh-TW":                           "zh-CN",
		"en-US,en;q=0.9,zh-CN;q=0.8":      "en",
		"fr;q=1, zh-Hans;q=0.7, en;q=0.6": "zh-CN",
		"zh;q=0, en":                      "en",
		"zh;q=abc, en;q=0.1":              "en",
	} {
		if got := negotiate(header); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestEscapesUserSuppliedStrings: names, ids, tags, models, accounts and
// the admin's name come from users; none reaches a page unescaped.
func TestEscapesUserSuppliedStrings(t *testing.T) {
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	f := newFakeBackend()
	f.passwords[evil], f.versions[evil] = "correct horse", 1
	f.overview = Overview{
		Timezone:  evil,
		TopKeys:   []RankedKey{{ID: evil + "id", Name: evil + "name"}},
		TopModels: []RankedModel{{Model: evil + "model"}},
		Accounts:  []AccountStatus{{ID: "a1", Name: evil + "account", Platform: evil + "platform", State: StateRateLimited, Until: time.Now().Add(time.Hour)}, {ID: "a2", Name: "x", State: evil}},
	}
	f.keys = []KeyRow{{ID: evil + "kid", Name: evil + "kname", Tags: []string{evil + "tag"}, Permissions: evil + "perm"}}
	f.accounts = []AccountRow{{ID: evil + "aid", Name: evil + "aname", Platform: evil, APIKeyMask: evil + "mask", State: evil, Unavailable: []string{evil}},
		{ID: evil + "cid", Name: evil + "cname", Platform: "claude-console"}}
	f.details = map[string]*KeyDetail{"k-evil": {Key: events.Key{ID: "k-evil", Name: evil, Description: evil, Tags: []string{evil}, RestrictedModels: []string{evil},
		ClaudeConsoleAccountID: evil + "gone", AllowedClients: []string{evil}}, Version: 3}}
	f.acctByID = map[string]*AccountDetail{"a-evil": {ID: "a-evil", APIKeyMask: evil, Account: AccountFields{Platform: evil, Name: evil, Description: evil,
		APIURL: evil, UserAgent: evil, SupportedModels: map[string]string{evil: evil}, AccountType: evil, QuotaResetTime: evil,
		Proxy: &ProxyFields{Protocol: evil, Host: evil, Username: evil}}}}
	f.audit = []AuditEntry{{Time: time.Now(), Actor: evil + "actor", Type: evil + "type", EntityKind: evil, EntityID: evil + "eid", RequestID: evil + "rid",
		Changes: []FieldChange{{Field: evil + "field", Before: evil + "before", After: evil + "after"}}}}
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	tok := b.csrf("/console/login")
	rec := b.post("/console/login", url.Values{"csrf": {tok}, "username": {evil}, "password": {"correct horse"}})
	requireStatus(t, rec, http.StatusSeeOther)
	for _, path := range []string{"/console/", "/console/keys", "/console/settings", "/console/keys?q=" + url.QueryEscape(evil),
		"/console/accounts", "/console/accounts?q=" + url.QueryEscape(evil), "/console/audit", "/console/audit?kind=key&id=" + url.QueryEscape(evil),
		"/console/keys/k-evil", "/console/keys/new", "/console/accounts/a-evil"} {
		body := b.get(path).Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s holds the markup unescaped", path)
		}
		if !strings.Contains(body, "&lt;script&gt;alert") {
			t.Errorf("%s does not show the escaped text", path)
		}
	}
	// The secret page shows the key's name.
	form := keyFormValuesFull()
	form.Set("name", evil)
	form.Set("csrf", b.csrf("/console/keys/new"))
	if body := b.post("/console/keys/new", form).Body.String(); strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("the secret page does not escape the key's name")
	}
	// A wrong sign-in echoes the username back into the form, escaped.
	anon := newBrowser(t, e)
	tok = anon.csrf("/console/login")
	body := anon.post("/console/login", url.Values{"csrf": {tok}, "username": {evil}, "password": {"nope"}}).Body.String()
	if strings.Contains(body, "<script>alert") {
		t.Error("the sign-in page echoes the username unescaped")
	}
}

func TestOverviewShowsFigures(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f := newFakeBackend()
	f.overview = Overview{
		Timezone:  "UTC",
		Today:     projections.UsageCounters{Requests: 1234, InputTokens: 100, CacheCreateTokens: 100, CacheReadTokens: 200, CostNanos: 1_234_567_890, Errors: 3, Refused: 4},
		Last7Days: projections.UsageCounters{Requests: 98_765},
		TopKeys:   []RankedKey{{ID: "k1", Name: "ci-bot", Counters: projections.UsageCounters{Requests: 10, CostNanos: 500_000_000}}},
		TopModels: []RankedModel{{Model: "claude-sonnet-4-5", Counters: projections.UsageCounters{InputTokens: 12_000, CostNanos: 40_000}}},
		Accounts: []AccountStatus{
			{ID: "a1", Name: "main", Platform: "claude-console", State: StateActive},
			{ID: "a2", Name: "backup", Platform: "codex", State: StateRateLimited, Until: now.Add(30 * time.Minute)},
		},
		Keys: KeyCounts{Total: 12, Active: 9},
	}
	f.series[Hourly] = Series{Granularity: Hourly, Buckets: []Bucket{{Start: now.Add(-time.Hour), Counters: projections.UsageCounters{Requests: 5}}, {Start: now, Counters: projections.UsageCounters{Requests: 7}}}}
	f.series[Daily] = Series{Granularity: Daily, Buckets: []Bucket{{Start: now, Counters: projections.UsageCounters{Requests: 12}}}}
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	b := newBrowser(t, e)
	b.signIn("correct horse")
	body := b.get("/console/").Body.String()
	requireContains(t, body,
		`title="1,234">1,234</td>`, `title="98,765">98.8K</td>`, // requests today, 7 days
		`title="$1.234567890">$1.23</td>`, // cost
		"50.0%",                           // cache hit rate: 200 of 400
		"ci-bot", "$0.5000", "claude-sonnet-4-5", "12K",
		"Rate limited", "backup", "until in 30 min",
		`<strong>9</strong>`, "usable, of 12",
		`<svg class="chart"`, "12:00", `aria-current="true">24 hours`)
	body = b.get("/console/?chart=30d").Body.String()
	requireContains(t, body, "12-04", `aria-current="true">30 days`)
}

func TestKeysPagingWithTenThousandKeys(t *testing.T) {
	f := newFakeBackend()
	f.keys = sampleKeys(10_000)
	f.keys[3].IsDeleted = true
	e, _ := newTestServer(t, f)
	b := newBrowser(t, e)
	b.signIn("correct horse")

	body := b.get("/console/keys?page=2").Body.String()
	requireContains(t, body, "Showing 51–100 of 10,000", "team 00051", "Page 2 of 200", `href="/console/keys?page=3"`, `href="/console/keys"`)
	if f.lastQuery.Page != 2 || f.lastQuery.PageSize != listPageSize {
		t.Errorf("query %+v", f.lastQuery)
	}

	body = b.get("/console/keys?q=team+0999&status=active").Body.String()
	requireContains(t, body, "team 09999", "Page 1 of 1")
	if f.lastQuery.Search != "team 0999" || f.lastQuery.Status != KeysActive {
		t.Errorf("query %+v", f.lastQuery)
	}

	body = b.get("/console/keys?status=deleted").Body.String()
	requireContains(t, body, "team 00003", "Deleted")

	// Nonsense parameters fall back to their defaults.
	requireStatus(t, b.get("/console/keys?page=-4&status=bogus"), http.StatusOK)
	if f.lastQuery.Page != 1 || f.lastQuery.Status != KeysAll {
		t.Errorf("query %+v", f.lastQuery)
	}
	body = b.get("/console/keys?q=nothing-matches").Body.String()
	requireContains(t, body, "No key matches.")
}

// BenchmarkKeysPage: the keys page's server time with 10,000 keys (the
// fake pages a slice; the store pages in Redis).
func BenchmarkKeysPage(b *testing.B) {
	f := newFakeBackend()
	f.keys = sampleKeys(10_000)
	e, _ := newTestServer(b, f)
	br := newBrowser(b, e)
	br.signIn("correct horse")
	b.ResetTimer()
	for range b.N {
		if rec := br.get("/console/keys?page=100"); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkOverviewPage: the overview's server time with a full day of
// figures, 30 daily buckets and 20 recent requests.
func BenchmarkOverviewPage(b *testing.B) {
	now := time.Now().UTC()
	f := demoBackend(now)
	for i := range 20 {
		f.recent = append(f.recent, sampleRecord(now.Add(-time.Duration(i)*time.Second)))
	}
	e, _ := newTestServer(b, f)
	br := newBrowser(b, e)
	br.signIn("correct horse")
	b.ResetTimer()
	for range b.N {
		if rec := br.get("/console/?chart=30d"); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
