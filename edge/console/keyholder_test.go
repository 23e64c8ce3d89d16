package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/events"
	"relay/projections"
	"relay/store"
)

const holderSecret = "cr_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// fakeKeyHolder answers for one secret; every other secret is a bad key.
type fakeKeyHolder struct {
	mu     sync.Mutex
	secret string
	view   admin.KeyHolderView
	err    error // answered to every look when set
	looks  []string
	addrs  []string
}

func (f *fakeKeyHolder) KeyHolderStats(_ context.Context, secret, addr string) (admin.KeyHolderView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looks = append(f.looks, secret)
	f.addrs = append(f.addrs, addr)
	if f.err != nil {
		return admin.KeyHolderView{}, f.err
	}
	if secret != f.secret {
		return admin.KeyHolderView{}, admin.ErrBadKey
	}
	return f.view, nil
}

func (f *fakeKeyHolder) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.looks)
}

// sampleHolderView is a key with three limits, some usage and 30 days.
func sampleHolderView(now time.Time) admin.KeyHolderView {
	exp := now.Add(72 * time.Hour)
	k := projections.KeyView{Key: events.Key{
		ID: "key-1", Name: `alice <b>"laptop"</b> & co`, Permissions: "claude", IsActive: true,
		ExpirationMode: "fixed", ExpiresAt: &exp,
		RateLimitWindow: 60, RateLimitRequests: 200, DailyCostLimitMicros: 20_000_000, ConcurrencyLimit: 4,
	}}
	day := projections.UsageCounters{Requests: 1_234, InputTokens: 120_000, OutputTokens: 45_000, CacheCreateTokens: 30_000, CacheReadTokens: 600_000, CostNanos: 4_250_000_000}
	v := admin.KeyHolderView{
		Key: k, ExpiresIn: 72 * time.Hour, LimitsZone: time.UTC, UsageZone: time.UTC, At: now,
		Limits: []projections.KeyLimit{
			{Kind: projections.LimitDailyCost, Limit: 20_000_000_000, Used: 17_500_000_000, ResetsAt: now.Add(5 * time.Hour)},
			{Kind: projections.LimitWindowRequests, Limit: 200, Used: 37, ResetsAt: now.Add(12 * time.Minute)},
			{Kind: projections.LimitConcurrency, Limit: 4, Used: 1},
		},
		Today: day,
		Month: projections.UsageCounters{Requests: 20_500, InputTokens: 2_000_000, OutputTokens: 700_000, CostNanos: 61_000_000_000},
		All:   projections.UsageCounters{Requests: 98_765, InputTokens: 9_000_000, OutputTokens: 3_100_000, CostNanos: 250_000_000_000},
		ByModel: map[string]projections.UsageCounters{
			"claude-sonnet-4-5": {Requests: 90_000, InputTokens: 8_000_000, CostNanos: 230_000_000_000},
			"claude-haiku-4-5":  {Requests: 8_765, InputTokens: 1_000_000, CostNanos: 20_000_000_000},
		},
		LastUsedAt: now.Add(-3 * time.Minute), FirstUsedAt: now.AddDate(0, -2, 0),
	}
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(admin.KeyStatsDays - 1))
	for i := range admin.KeyStatsDays {
		c := projections.UsageCounters{Requests: int64(800 + 300*((i*5)%7)), CostNanos: int64(800+300*((i*5)%7)) * 3_100_000}
		v.Daily = append(v.Daily, store.DayCounters{Date: start.AddDate(0, 0, i).Format("2006-01-02"), UsageCounters: c})
	}
	v.Daily[len(v.Daily)-1].UsageCounters = day
	return v
}

func newStatsServer(t testing.TB, kh KeyHolder) *echo.Echo {
	t.Helper()
	h, err := New(Config{Secret: testSecret, Version: "v-test", KeyHolder: kh}, newFakeBackend())
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.MountStats(e.Group("/stats"))
	return e
}

// look shows the form, then sends secret with its token.
func (b *browser) look(secret string) (rec *httptest.ResponseRecorder, body string, code int) {
	b.t.Helper()
	tok := b.csrf("/stats")
	r := b.post("/stats", url.Values{"csrf": {tok}, "apiKey": {secret}})
	return r, r.Body.String(), r.Code
}

func TestStatsFormPostsTheKeyAndHoldsNothing(t *testing.T) {
	e := newStatsServer(t, &fakeKeyHolder{secret: holderSecret})
	b := newBrowser(t, e)
	rec := b.get("/stats")
	requireStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	requireContains(t, body, `<form method="post" action="/stats" class="form" autocomplete="off">`,
		`name="apiKey" type="password" autocomplete="off"`, `name="csrf" value="`, `action="/stats/prefs"`, `href="/stats"`)
	if strings.Contains(body, "/console/prefs") || strings.Contains(body, "/console/static") {
		t.Error("the public page points at the console's routes")
	}
	hd := rec.Header()
	if hd.Get("Content-Security-Policy") != CSP || hd.Get("Cache-Control") != "no-store" || hd.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v, want the console's CSP, no-store and no framing", hd)
	}
	ck := b.cookies[statsCSRFCookie]
	if ck == nil || ck.Path != "/stats" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.MaxAge <= 0 || ck.MaxAge > 3600 {
		t.Fatalf("CSRF cookie %+v, want HttpOnly, SameSite=Strict, on /stats, at most an hour", ck)
	}
	// The page's assets come from /stats itself.
	m := strings.Index(body, `href="/stats/static/`)
	if m < 0 {
		t.Fatal("no stylesheet under /stats/static")
	}
	css := body[m+len(`href="`):]
	css = css[:strings.IndexByte(css, '"')]
	requireStatus(t, b.get(css), http.StatusOK)
}

func TestStatsShowsTheKeyMaskedAndItsFigures(t *testing.T) {
	now := time.Now().UTC()
	kh := &fakeKeyHolder{secret: holderSecret, view: sampleHolderView(now)}
	b := newBrowser(t, newStatsServer(t, kh))
	rec, body, code := b.look("  " + holderSecret + "\n")
	if code != http.StatusOK {
		t.Fatalf("status %d\n%s", code, body)
	}
	requireContains(t, body,
		`<code id="holder-key">cr_...def</code>`,
		// The name is text, escaped.
		`alice &lt;b&gt;&#34;laptop&#34;&lt;/b&gt; &amp; co`,
		"Claude only", "Active", "in 3 days",
		"Daily cost", "$17.50 / $20.00", "resets in 5 h", "m-high",
		"Requests in window", "37 / 200", "resets in 12 min",
		"Concurrent requests", "1 / 4", "frees as requests end",
		"Nearest limit: Daily cost, $17.50 / $20.00",
		"Today", "This month", "All time", "1,234", "98.8K", "$4.2500", "$250.00",
		"claude-sonnet-4-5", "claude-haiku-4-5",
		`<svg class="chart"`,
	)
	if strings.Contains(body, `<b>"laptop"`) {
		t.Error("the key's name went out unescaped")
	}
	if strings.Index(body, "claude-sonnet-4-5") > strings.Index(body, "claude-haiku-4-5") {
		t.Error("models are not ordered by cost")
	}
	// The key appears nowhere but masked: not in the page, a header or a
	// cookie.
	secretPart := holderSecret[3:20]
	if strings.Contains(body, secretPart) {
		t.Error("the page holds the key")
	}
	res := rec.Result()
	for name, vs := range res.Header {
		for _, v := range vs {
			if strings.Contains(v, secretPart) {
				t.Errorf("header %s holds the key", name)
			}
		}
	}
	for _, c := range b.cookies {
		if strings.Contains(c.Value, secretPart) {
			t.Errorf("cookie %s holds the key", c.Name)
		}
	}
	if kh.looks[0] != holderSecret {
		t.Errorf("the action got %q, want the key trimmed", kh.looks[0])
	}
	if kh.addrs[0] == "" {
		t.Error("the action got no client address")
	}
}

func TestStatsBadKeysGetOneAnswer(t *testing.T) {
	kh := &fakeKeyHolder{secret: holderSecret, view: sampleHolderView(time.Now())}
	b := newBrowser(t, newStatsServer(t, kh))
	var first string
	// The fake answers admin.ErrBadKey for all of these, as the action does
	// for unknown, deleted, disabled and expired keys; the over-long one is
	// refused before the action.
	for _, secret := range []string{"cr_unknown0000000000000000000000000000000000000000000000000000000000", "cr_deleted", "not a key", strings.Repeat("x", 300)} {
		_, body, code := b.look(secret)
		if code != http.StatusUnauthorized {
			t.Fatalf("%.12s: status %d, want 401", secret, code)
		}
		requireContains(t, body, "This key is not valid: it is unknown, disabled, deleted or expired.")
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%.12s: the answer differs from the first bad key's", secret)
		}
		if strings.Contains(body, secret[:8]) && secret[:8] != "cr_unkno" {
			t.Errorf("%.12s: the answer echoes the key", secret)
		}
	}
	if strings.Contains(first, "cr_unknown") {
		t.Error("the answer echoes the key")
	}
}

func TestStatsRateLimitedAnswersPolitely(t *testing.T) {
	kh := &fakeKeyHolder{err: &fault.Error{Kind: fault.RateLimited, Message: "too many", RetryAfter: 42}}
	b := newBrowser(t, newStatsServer(t, kh))
	rec, body, code := b.look(holderSecret)
	if code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", code)
	}
	if got := rec.Result().Header.Get("Retry-After"); got != "42" {
		t.Errorf("Retry-After %q, want 42", got)
	}
	requireContains(t, body, "Too many look-ups just now. Try again in 42 seconds.", `name="apiKey"`)
}

func TestStatsBackendFailureSaysNothingOfIt(t *testing.T) {
	kh := &fakeKeyHolder{err: errors.New("redis: connection refused at 10.0.0.7")}
	b := newBrowser(t, newStatsServer(t, kh))
	_, body, code := b.look(holderSecret)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
	if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "redis") {
		t.Error("the page shows the backend's error")
	}
	requireContains(t, body, "Relay could not answer just now.")
}

func TestStatsRefusesForeignOrCSRFlessPosts(t *testing.T) {
	kh := &fakeKeyHolder{secret: holderSecret, view: sampleHolderView(time.Now())}
	e := newStatsServer(t, kh)
	cases := []struct {
		name   string
		prep   func(b *browser) url.Values
		origin string
	}{
		{"no token", func(b *browser) url.Values { b.csrf("/stats"); return url.Values{} }, ""},
		{"wrong token", func(b *browser) url.Values { b.csrf("/stats"); return url.Values{"csrf": {"forged"}} }, ""},
		{"no cookie", func(b *browser) url.Values {
			tok := b.csrf("/stats")
			delete(b.cookies, statsCSRFCookie)
			return url.Values{"csrf": {tok}}
		}, ""},
		{"another origin", func(b *browser) url.Values { return url.Values{"csrf": {b.csrf("/stats")}} }, "https://evil.example"},
		{"the console's token", func(b *browser) url.Values {
			// A token of the console's anonymous forms is not the page's.
			b.csrf("/stats")
			return url.Values{"csrf": {deriveKeys(testSecret).anonCSRF(b.cookies[statsCSRFCookie].Value)}}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e)
			form := tc.prep(b)
			form.Set("apiKey", holderSecret)
			if tc.origin != "" {
				b.header.Set("Origin", tc.origin)
			}
			before := kh.calls()
			rec := b.post("/stats", form)
			requireStatus(t, rec, http.StatusForbidden)
			requireContains(t, rec.Body.String(), "This form has expired or did not come from this page.")
			if kh.calls() != before {
				t.Error("a refused form reached the action")
			}
			if strings.Contains(rec.Body.String(), holderSecret[3:20]) {
				t.Error("the refusal echoes the key")
			}
		})
	}
	// The same origin is fine.
	b := newBrowser(t, e)
	tok := b.csrf("/stats")
	b.header.Set("Origin", "http://example.com")
	rec := b.post("/stats", url.Values{"csrf": {tok}, "apiKey": {holderSecret}})
	requireStatus(t, rec, http.StatusOK)
}

func TestStatsMissingKey(t *testing.T) {
	kh := &fakeKeyHolder{secret: holderSecret}
	b := newBrowser(t, newStatsServer(t, kh))
	_, body, code := b.look("   ")
	if code != http.StatusBadRequest || kh.calls() != 0 {
		t.Fatalf("status %d, %d looks; want 400 and none", code, kh.calls())
	}
	requireContains(t, body, "Enter your API key.")
}

func TestStatsLanguageAndTheme(t *testing.T) {
	b := newBrowser(t, newStatsServer(t, &fakeKeyHolder{secret: holderSecret}))
	tok := b.csrf("/stats")
	rec := b.post("/stats/prefs", url.Values{"csrf": {tok}, "lang": {"zh-CN"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/stats" {
		t.Fatalf("prefs: %d to %q, want 303 to /stats", rec.Code, rec.Header().Get("Location"))
	}
	if ck := b.cookies[langCookie]; ck == nil || ck.Value != "zh-CN" || ck.Path != "/stats" {
		t.Fatalf("language cookie %+v, want zh-CN on /stats", ck)
	}
	rec = b.post("/stats/prefs", url.Values{"csrf": {tok}, "theme": {"dark"}})
	requireStatus(t, rec, http.StatusSeeOther)
	body := b.get("/stats").Body.String()
	requireContains(t, body, `<html lang="zh-CN" data-theme="dark">`, "您的密钥用量与限额")

	b2 := newBrowser(t, newStatsServer(t, &fakeKeyHolder{}))
	b2.csrf("/stats")
	b2.header.Set("Origin", "https://evil.example")
	requireStatus(t, b2.post("/stats/prefs", url.Values{"csrf": {tok}, "lang": {"en"}}), http.StatusForbidden)
}

func TestStatsWithoutKeyHolderIsNotFound(t *testing.T) {
	h, err := New(Config{Secret: testSecret}, newFakeBackend())
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.MountStats(e.Group("/stats"))
	b := newBrowser(t, e)
	for _, rec := range []interface{ Result() *http.Response }{b.get("/stats"), b.post("/stats", url.Values{"apiKey": {holderSecret}})} {
		if code := rec.Result().StatusCode; code != http.StatusNotFound {
			t.Errorf("status %d, want 404", code)
		}
	}
}

// TestHolderOfExpiry: the expiry line of each kind of key.
func TestHolderOfExpiry(t *testing.T) {
	l := mustLocale(t, "en")
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	past, future := now.Add(-2*time.Hour), now.Add(50*time.Hour)
	for _, tc := range []struct {
		key  events.Key
		want string
	}{
		{events.Key{ExpirationMode: "fixed", ExpiresAt: &future}, "in 2 days"},
		{events.Key{ExpirationMode: "fixed", ExpiresAt: &past}, "expired 2 h ago"},
		{events.Key{ExpirationMode: "activation", ActivationDays: 30, ActivationUnit: "days"}, "not activated yet: valid for 30 days after first use"},
		{events.Key{ExpirationMode: "fixed"}, "never"},
	} {
		hv := holderOf(l, "cr_...abc", admin.KeyHolderView{Key: projections.KeyView{Key: tc.key}, At: now})
		if hv.Expiry != tc.want {
			t.Errorf("%+v: expiry %q, want %q", tc.key, hv.Expiry, tc.want)
		}
	}
}

func mustLocale(t *testing.T, tag string) *Locale {
	t.Helper()
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := locales[tag]
	if !ok {
		t.Fatalf("no %s catalogue", tag)
	}
	return l
}
