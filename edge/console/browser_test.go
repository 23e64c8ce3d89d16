package console

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"relay/edge/console/consoletest"
	"relay/projections"
)

// Browser tests: the console driven by Debian's chromium, headless, with
// the harness of consoletest (it fails a test on a JavaScript error, a CSP
// violation or a request to another host). Screenshots go to
// $RELAY_ARTIFACTS/console when set, else to a temporary directory (named
// in the log); none is committed.

type harness = consoletest.Harness

func newHarness(t *testing.T, handler http.Handler) *harness { return consoletest.New(t, handler) }

func run[T any](h *harness, a chromedp.Action[T]) T { return consoletest.Run(h, a) }

// signIn signs in as the fake backend's admin.
func signIn(h *harness) { h.SignIn("admin", "correct horse") }

// demoBackend is a fake with a day's worth of plausible figures.
func demoBackend(now time.Time) *fakeBackend {
	f := newFakeBackend()
	day := projections.UsageCounters{Requests: 18_432, InputTokens: 2_310_000, OutputTokens: 1_120_000, CacheCreateTokens: 840_000, CacheReadTokens: 9_650_000, CostNanos: 48_731_250_000, Errors: 37, Refused: 112}
	scale := func(c projections.UsageCounters, n int64) projections.UsageCounters {
		return projections.UsageCounters{Requests: c.Requests * n, InputTokens: c.InputTokens * n, OutputTokens: c.OutputTokens * n, CacheCreateTokens: c.CacheCreateTokens * n, CacheReadTokens: c.CacheReadTokens * n, CostNanos: c.CostNanos * n, Errors: c.Errors * n, Refused: c.Refused * n}
	}
	f.overview = Overview{
		Timezone:   "UTC",
		Today:      day,
		Last7Days:  scale(day, 6),
		Last30Days: scale(day, 25),
		TopKeys: []RankedKey{
			{ID: "k-ci", Name: "ci-pipeline", Counters: projections.UsageCounters{Requests: 6_120, CostNanos: 17_200_000_000}},
			{ID: "k-alice", Name: "alice laptop", Counters: projections.UsageCounters{Requests: 4_410, CostNanos: 12_050_000_000}},
			{ID: "k-bob", Name: "bob <dev>", Counters: projections.UsageCounters{Requests: 2_003, CostNanos: 6_480_000_000}},
		},
		TopModels: []RankedModel{
			{Model: "claude-sonnet-4-5", Counters: projections.UsageCounters{InputTokens: 8_100_000, OutputTokens: 700_000, CostNanos: 31_400_000_000}},
			{Model: "gpt-5-codex", Counters: projections.UsageCounters{InputTokens: 3_200_000, OutputTokens: 300_000, CostNanos: 12_900_000_000}},
			{Model: "claude-haiku-4-5", Counters: projections.UsageCounters{InputTokens: 1_900_000, OutputTokens: 120_000, CostNanos: 4_431_250_000}},
		},
		Accounts: []AccountStatus{
			{ID: "a1", Name: "console-main", Platform: "claude-console", State: StateActive},
			{ID: "a2", Name: "console-backup", Platform: "claude-console", State: StateActive},
			{ID: "a3", Name: "codex-team", Platform: "codex", State: StateRateLimited, Until: now.Add(42 * time.Minute)},
			{ID: "a4", Name: "old-key", Platform: "claude-console", State: StateUnauthorized},
		},
		Keys: KeyCounts{Total: 128, Active: 119},
	}
	var hours, days []Bucket
	start := now.Truncate(time.Hour).Add(-23 * time.Hour)
	for i := range 24 {
		n := int64(200 + 900*((i*7)%11)/10 + 40*(i%5))
		b := Bucket{Start: start.Add(time.Duration(i) * time.Hour)}
		b.Requests, b.CostNanos = n, n*2_600_000+int64(i%3)*90_000_000
		hours = append(hours, b)
	}
	dstart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -29)
	for i := range 30 {
		n := int64(9_000 + 1_300*((i*5)%9))
		b := Bucket{Start: dstart.AddDate(0, 0, i)}
		b.Requests, b.CostNanos = n, n*2_650_000
		days = append(days, b)
	}
	f.series[Hourly] = Series{Granularity: Hourly, Buckets: hours}
	f.series[Daily] = Series{Granularity: Daily, Buckets: days}
	f.accounts = sampleAccounts(now)
	f.audit = sampleAudit(now)
	for i := range 6 {
		r := sampleRecord(now.Add(-time.Duration(i*37) * time.Second))
		r.ID = fmt.Sprintf("req-%d", i)
		r.KeyName = []string{"ci-pipeline", "alice laptop", "bob <dev>"}[i%3]
		r.Model = []string{"claude-sonnet-4-5", "gpt-5-codex", "claude-haiku-4-5"}[i%3]
		r.CostNanos = int64(i+1) * 3_100_000
		if i == 4 {
			r.Status = 529
		}
		f.recent = append(f.recent, r)
	}
	f.keys = sampleKeys(240)
	f.keys[2].Tags = []string{"ci", "team-a"}
	f.keys[5].IsDeleted = true
	f.keys[7].ExpiresAt = now.Add(-time.Hour)
	f.keys[9].ExpiresAt = now.Add(72 * time.Hour)
	f.keys[1].LastUsedAt = now.Add(-3 * time.Minute)
	f.keys[1].Today = projections.UsageCounters{Requests: 214, CostNanos: 1_930_000_000}
	for i := range 12 {
		f.keys[i].Limits = []LimitUsage{
			{Kind: LimitWindowRequests, Limit: 200, Used: int64(i * 17), ResetsAt: now.Add(time.Duration(i+3) * time.Minute)},
			{Kind: LimitDailyCost, Limit: 20_000_000_000, Used: int64(i) * 1_700_000_000, ResetsAt: now.Add(9 * time.Hour)},
		}
	}
	f.keys[3].ActivationDays, f.keys[3].ActivationUnit = 30, "days"
	return f
}

func demoServer(t *testing.T, f *fakeBackend, now time.Time) http.Handler {
	e, _ := newTestServer(t, f, func(c *Config) { c.Now = func() time.Time { return now } })
	return e
}

// TestBrowserConsoleFlow: sign in, see the overview, switch language and
// theme, visit every page, at desktop and phone widths, sign out and find
// the console closed.
func TestBrowserConsoleFlow(t *testing.T) {
	now := time.Now().UTC()
	f := demoBackend(now)
	h := newHarness(t, demoServer(t, f, now))

	h.Do(chromedp.Navigate(h.Base + "/"))
	if got := h.Location(); got != "/console/login" {
		t.Fatalf("/ led to %s, want the sign-in page", got)
	}
	h.Screenshot("login")
	signIn(h)
	if got := h.Text("h1"); got != "Overview" {
		t.Fatalf("overview heading %q", got)
	}
	if n := h.Eval(`String(document.querySelectorAll("svg.chart rect.c-bar").length)`); n != "24" {
		t.Errorf("the chart has %s bars, want 24", n)
	}

	// The live feed: a request recorded now shows within 2 s.
	deadline := time.Now().Add(5 * time.Second)
	for f.followerCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rec := sampleRecord(now)
	rec.KeyName = "live <key>"
	recorded := time.Now()
	f.record(rec)
	for {
		got := h.Eval(`(function () { var td = document.querySelector("#live tbody tr.fresh td.name"); return td ? td.textContent : ""; })()`)
		if got == "live <key>" {
			t.Logf("the live feed showed the request after %v", time.Since(recorded).Round(time.Millisecond))
			break
		}
		if time.Since(recorded) > 2*time.Second {
			t.Fatalf("the live feed did not show the request within 2 s (first row %q)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := h.Eval(`document.getElementById("live-state").textContent`); got != "live" {
		t.Errorf("live state %q", got)
	}
	h.Screenshot("overview")

	// Language: the switch sticks across pages.
	h.Submit(`button[name=lang][value="zh-CN"]`)
	if got := h.Text("h1"); got != "概览" {
		t.Errorf("after switching to Chinese the heading is %q", got)
	}
	h.Do(chromedp.Navigate(h.Base + "/console/settings"))
	if got := h.Eval(`document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("the language did not stick: lang=%q", got)
	}
	h.Screenshot("settings-zh")
	h.Submit(`button[name=lang][value="en"]`)

	// Theme: dark sticks, and changes what the page looks like.
	light := h.Eval(`getComputedStyle(document.body).backgroundColor`)
	h.Submit(`button[name=theme][value="dark"]`)
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	if got := h.Eval(`document.documentElement.dataset.theme || ""`); got != "dark" {
		t.Errorf("theme %q after choosing dark", got)
	}
	dark := h.Eval(`getComputedStyle(document.body).backgroundColor`)
	if dark == light {
		t.Errorf("the dark theme has the light background %s", dark)
	}
	h.Screenshot("overview-dark")
	h.Do(chromedp.Navigate(h.Base + "/console/keys?page=2"))
	h.Screenshot("keys-dark")
	h.Submit(`button[name=theme][value="system"]`)

	// "System" follows the system's preference.
	if _, err := chromedp.Call(h.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	if got := h.Eval(`getComputedStyle(document.body).backgroundColor`); got != dark {
		t.Errorf("following a dark system the background is %s, want %s", got, dark)
	}
	if _, err := chromedp.Call(h.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}}); err != nil {
		t.Fatal(err)
	}

	h.Do(chromedp.Navigate(h.Base + "/console/keys"))
	h.Screenshot("keys")
	h.Do(chromedp.Navigate(h.Base + "/console/accounts"))
	h.Screenshot("accounts")
	h.Do(chromedp.Navigate(h.Base + "/console/audit"))
	h.Screenshot("audit")
	h.Do(chromedp.Navigate(h.Base + "/console/settings"))
	h.Screenshot("settings")

	// A phone: nothing wider than the screen.
	h.Do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	for _, p := range []string{"/console/", "/console/keys", "/console/accounts", "/console/audit", "/console/settings"} {
		h.Do(chromedp.Navigate(h.Base + p))
		if w := h.Eval(`String(document.documentElement.scrollWidth)`); w != "375" {
			t.Errorf("%s at 375 px is %s px wide", p, w)
		}
	}
	h.Do(chromedp.Navigate(h.Base + "/console/accounts"))
	h.Screenshot("accounts-375")
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	h.Screenshot("overview-375")
	h.Do(chromedp.EmulateReset())

	// Sign out, and the console is closed.
	h.Do(chromedp.Navigate(h.Base + "/console/"))
	h.Submit(`.signout button`)
	if got := h.Location(); got != "/console/login?out=1" {
		t.Errorf("after signing out the browser is at %s", got)
	}
	h.Do(chromedp.Navigate(h.Base + "/console/settings"))
	if got := h.Location(); !strings.HasPrefix(got, "/console/login") {
		t.Errorf("after signing out /console/settings showed %s", got)
	}
}

// TestBrowserWithoutJavaScript: reading pages and forms work with
// JavaScript off.
func TestBrowserWithoutJavaScript(t *testing.T) {
	now := time.Now().UTC()
	h := newHarness(t, demoServer(t, demoBackend(now), now))
	if _, err := chromedp.Call(h.Ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	signIn(h)
	if got := h.Text("h1"); got != "Overview" {
		t.Fatalf("overview heading %q", got)
	}
	h.Submit(`button[name=lang][value="zh-CN"]`)
	if got := h.Text("h1"); got != "概览" {
		t.Errorf("without JavaScript the language switch gave %q", got)
	}
	h.Do(chromedp.Navigate(h.Base + "/console/keys"))
	h.Do(chromedp.SendKeys(chromedp.ID("q"), "team 0002"))
	h.Submit(`.filters button`)
	if got := h.Location(); !strings.Contains(got, "q=team+0002") {
		t.Errorf("search led to %s", got)
	}
	h.Submit(`.signout button`)
	if got := h.Location(); got != "/console/login?out=1" {
		t.Errorf("after signing out the browser is at %s", got)
	}
}

// TestBrowserHarnessCatchesProblems: the harness itself sees an inline
// script the CSP blocks, a thrown exception and a request to another host.
func TestBrowserHarnessCatchesProblems(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/csp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP)
		fmt.Fprint(w, `<!doctype html><title>t</title><link rel="icon" href="data:,"><script>document.title = "ran"</script>`)
	})
	mux.HandleFunc("/throw", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>t</title><link rel="icon" href="data:,"><script>throw new Error("boom")</script>`)
	})
	mux.HandleFunc("/foreign", func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.2 is loopback, but another host as far as the page goes.
		fmt.Fprint(w, `<!doctype html><title>t</title><link rel="icon" href="data:,"><img src="http://127.0.0.2:9/x.png" alt="">`)
	})
	for _, tc := range []struct{ path, want string }{
		{"/csp", "Content Security Policy"},
		{"/throw", "boom"},
		{"/foreign", "request to another host: http://127.0.0.2:9/x.png"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			h := newHarness(t, mux)
			h.Do(chromedp.Navigate(h.Base + tc.path))
			issues := h.TakeIssues() // seen: the cleanup check must not fail the test
			found := false
			for _, p := range issues {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Errorf("the harness missed %q; it saw %q", tc.want, issues)
			}
		})
	}
}

// TestBrowserKeyLifecycle: create a key and copy its secret, see a field
// error for an invalid limit, delete (confirming) and restore.
func TestBrowserKeyLifecycle(t *testing.T) {
	now := time.Now().UTC()
	f := demoBackend(now)
	h := newHarness(t, demoServer(t, f, now))
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(h.Ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: h.Base,
		}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	// Accept the confirmation dialogs (delete asks first).
	dialogs := chromedp.Events(h.Ctx, cdppage.JavascriptDialogOpening)
	var confirmed atomic.Int32
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if ev.Type == cdppage.DialogTypeConfirm {
				confirmed.Add(1)
			}
			_, _ = chromedp.Call(h.Ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	signIn(h)

	// An account pointing at an upstream.
	h.Do(chromedp.Navigate(h.Base + "/console/accounts"))
	if _, err := chromedp.RunResponse(h.Ctx, chromedp.Click(chromedp.CSS("a.head-btn"))); err != nil {
		t.Fatal(err)
	}
	h.Do(
		chromedp.SendKeys(chromedp.ID("name"), "fake upstream"),
		chromedp.SendKeys(chromedp.ID("apiUrl"), "http://127.0.0.1:9/upstream"),
		chromedp.SendKeys(chromedp.ID("apiKey"), "sk-ant-browser-5678"),
		chromedp.SetValue(chromedp.ID("dailyQuota"), "25"),
	)
	h.Screenshot("account-new")
	h.Submit(`form.accountform button[type=submit]`)
	if got := h.Location(); got != "/console/accounts/acc-new-1?done=created" {
		t.Fatalf("after creating the account the browser is at %s", got)
	}
	if _, in := f.inputs(); in.Account.APIURL != "http://127.0.0.1:9/upstream" || in.Account.APIKey != "sk-ant-browser-5678" || in.Account.DailyQuotaMicros != 25_000_000 {
		t.Errorf("account created with %+v", in.Account)
	}
	h.Screenshot("account")

	h.Do(chromedp.Navigate(h.Base + "/console/keys"))
	if _, err := chromedp.RunResponse(h.Ctx, chromedp.Click(chromedp.CSS("a.head-btn"))); err != nil {
		t.Fatal(err)
	}
	h.Do(
		chromedp.SendKeys(chromedp.ID("name"), "browser key"),
		chromedp.SetValue(chromedp.ID("dailyCostLimit"), "5"),
		chromedp.SetValue(chromedp.ID("tags"), "ci, browser"),
	)
	h.Screenshot("key-new")
	h.Submit(`form.keyform button[type=submit]`)
	secret := h.Eval(`document.getElementById("secret").textContent`)
	if !strings.HasPrefix(secret, "cr_") {
		t.Fatalf("no secret on the page: %q", secret)
	}
	h.Do(chromedp.Click(chromedp.CSS(`button[data-copy="#secret"]`)))
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := chromedp.Run(h.Ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err == nil && got == secret {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clipboard holds %q (%v), want the secret", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Screenshot("key-secret")
	if in, _ := f.inputs(); in.Key.DailyCostLimitMicros != 5_000_000 || len(in.Key.Tags) != 2 {
		t.Errorf("created with %+v", in.Key)
	}

	// Edit: an invalid limit is refused next to its field.
	h.Submit(`.secret a.btn`)
	if got := h.Location(); got != "/console/keys/key-new-1" {
		t.Fatalf("after the secret the browser is at %s", got)
	}
	h.Do(chromedp.SetValue(chromedp.ID("dailyCostLimit"), "lots"))
	h.Allow("status of 400 (Bad Request) (" + h.Base + "/console/keys/key-new-1:") // the refused form
	h.Submit(`form.keyform button[type=submit]`)
	if got := h.Text("#dailyCostLimit-err"); got != "Enter an amount in dollars, like 12.50." {
		t.Errorf("field error %q", got)
	}
	h.Screenshot("key-field-error")

	// Delete (after confirming) and restore.
	h.Do(chromedp.Navigate(h.Base + "/console/keys/key-new-1"))
	h.Submit(`button[value=delete]`)
	if confirmed.Load() != 1 {
		t.Errorf("%d confirmations asked before deleting, want 1", confirmed.Load())
	}
	if got := h.Location(); got != "/console/keys/key-new-1?done=delete" {
		t.Errorf("after delete the browser is at %s", got)
	}
	h.Submit(`button[value=restore]`)
	if got := h.Location(); got != "/console/keys/key-new-1?done=restore" {
		t.Errorf("after restore the browser is at %s", got)
	}
	if n := h.Eval(`String(document.querySelectorAll("button[value=delete]").length)`); n != "1" {
		t.Errorf("the restored key offers %s delete buttons", n)
	}
}
