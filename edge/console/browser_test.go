package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"relay/projections"
)

// Browser tests: the console driven by Debian's chromium, headless. Every
// test fails on a JavaScript exception, a console error (CSP violations and
// failed loads are reported as such), or a request to any host but the
// test server. Screenshots go to $RELAY_ARTIFACTS/console when set, else to
// a temporary directory (named in the log); none is committed.

// chromiumPath finds chromium; without it the test fails in CI and skips
// elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RELAY_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing: .ci/run installs it with apt-get install chromium")
	}
	t.Skip("chromium is missing (apt-get install chromium); the browser tests skip locally and fail in CI")
	return ""
}

// harness is one browser tab watched for problems.
type harness struct {
	t      *testing.T
	ctx    context.Context
	base   string // the test server's URL
	host   string
	shots  string
	mu     sync.Mutex // protects problems and marks
	issues []string
	marks  map[string]bool
	// allowed are messages a test expects (a refused form answers 400,
	// which the browser reports as a failed load).
	allowed []string
}

// allow lets a message containing text through until the test ends.
func (h *harness) allow(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowed = append(h.allowed, text)
}

func newHarness(t *testing.T, handler http.Handler) *harness {
	t.Helper()
	exe := chromiumPath(t)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	shots := os.Getenv("RELAY_ARTIFACTS")
	if shots != "" {
		shots = filepath.Join(shots, "console")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		shots = t.TempDir()
	}
	t.Logf("screenshots in %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	h := &harness{t: t, ctx: ctx, base: srv.URL, host: u.Host, shots: shots, marks: map[string]bool{}}

	// Start the browser, then watch everything the tab does.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	console := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if strings.HasPrefix(m.Text, "harness-mark ") {
				h.mu.Lock()
				h.marks[strings.TrimPrefix(m.Text, "harness-mark ")] = true
				h.mu.Unlock()
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				h.problem("%s (%s:%d)", m, m.URL, m.Line)
			}
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			r, err := url.Parse(ev.Request.URL)
			if err != nil {
				h.problem("unparsable request URL %q", ev.Request.URL)
				continue
			}
			if (r.Scheme == "http" || r.Scheme == "https" || r.Scheme == "ws" || r.Scheme == "wss") && r.Host != h.host {
				h.problem("request to another host: %s", ev.Request.URL)
			}
		}
	}()
	// Any problem fails the test, checked after the test's last step.
	t.Cleanup(func() { h.check() })
	return h
}

func (h *harness) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, a := range h.allowed {
		if strings.Contains(msg, a) {
			return
		}
	}
	h.issues = append(h.issues, msg)
}

// sync waits until the watchers have seen every event sent before now: the
// browser sends events in order, so once a mark logged now has come
// through, so has everything before it.
func (h *harness) sync() {
	h.t.Helper()
	mark := fmt.Sprintf("%d", time.Now().UnixNano())
	if err := chromedp.Do(h.ctx, chromedp.Evaluate[chromedp.Void](`console.info("harness-mark `+mark+`")`)); err != nil {
		// A page with JavaScript off cannot log: fall back to a round trip.
		h.t.Logf("sync: %v", err)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		seen := h.marks[mark]
		h.mu.Unlock()
		if seen {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Error("the console watcher never saw the sync mark")
}

// check fails the test on every problem seen so far.
func (h *harness) check() {
	h.t.Helper()
	h.sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.issues {
		h.t.Errorf("browser: %s", p)
	}
	h.issues = nil
}

func (h *harness) do(steps ...chromedp.Action[chromedp.Void]) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		h.t.Fatalf("browser: %v", err)
	}
}

func run[T any](h *harness, a chromedp.Action[T]) T {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		h.t.Fatalf("browser: %v", err)
	}
	return v
}

// submit clicks sel and waits for the page it leads to.
func (h *harness) submit(sel string) {
	h.t.Helper()
	if _, err := chromedp.RunResponse(h.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		h.t.Fatalf("browser: click %s: %v", sel, err)
	}
}

func (h *harness) location() string {
	h.t.Helper()
	return strings.TrimPrefix(run(h, chromedp.Location()), h.base)
}

func (h *harness) text(sel string) string {
	h.t.Helper()
	return run(h, chromedp.Text(chromedp.CSS(sel)))
}

func (h *harness) eval(js string) string {
	h.t.Helper()
	return run(h, chromedp.Evaluate[string](js))
}

func (h *harness) screenshot(name string) {
	h.t.Helper()
	buf := run(h, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(h.shots, name+".png"), buf, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) signIn() {
	h.t.Helper()
	h.do(
		chromedp.Navigate(h.base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
	)
	h.submit(`.login button[type=submit]`)
	if got := h.location(); got != "/console/" {
		h.t.Fatalf("after signing in the browser is at %s", got)
	}
}

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

	h.do(chromedp.Navigate(h.base + "/"))
	if got := h.location(); got != "/console/login" {
		t.Fatalf("/ led to %s, want the sign-in page", got)
	}
	h.screenshot("login")
	h.signIn()
	if got := h.text("h1"); got != "Overview" {
		t.Fatalf("overview heading %q", got)
	}
	if n := h.eval(`String(document.querySelectorAll("svg.chart rect.c-bar").length)`); n != "24" {
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
		got := h.eval(`(function () { var td = document.querySelector("#live tbody tr.fresh td.name"); return td ? td.textContent : ""; })()`)
		if got == "live <key>" {
			t.Logf("the live feed showed the request after %v", time.Since(recorded).Round(time.Millisecond))
			break
		}
		if time.Since(recorded) > 2*time.Second {
			t.Fatalf("the live feed did not show the request within 2 s (first row %q)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := h.eval(`document.getElementById("live-state").textContent`); got != "live" {
		t.Errorf("live state %q", got)
	}
	h.screenshot("overview")
	// RELAY_README_SHOT=docs/console-overview.png writes the README's picture.
	if path := os.Getenv("RELAY_README_SHOT"); path != "" {
		if err := os.WriteFile(path, run(h, chromedp.FullScreenshot(100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Language: the switch sticks across pages.
	h.submit(`button[name=lang][value="zh-CN"]`)
	if got := h.text("h1"); got != "概览" {
		t.Errorf("after switching to Chinese the heading is %q", got)
	}
	h.do(chromedp.Navigate(h.base + "/console/settings"))
	if got := h.eval(`document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("the language did not stick: lang=%q", got)
	}
	h.screenshot("settings-zh")
	h.submit(`button[name=lang][value="en"]`)

	// Theme: dark sticks, and changes what the page looks like.
	light := h.eval(`getComputedStyle(document.body).backgroundColor`)
	h.submit(`button[name=theme][value="dark"]`)
	h.do(chromedp.Navigate(h.base + "/console/"))
	if got := h.eval(`document.documentElement.dataset.theme || ""`); got != "dark" {
		t.Errorf("theme %q after choosing dark", got)
	}
	dark := h.eval(`getComputedStyle(document.body).backgroundColor`)
	if dark == light {
		t.Errorf("the dark theme has the light background %s", dark)
	}
	h.screenshot("overview-dark")
	h.do(chromedp.Navigate(h.base + "/console/keys?page=2"))
	h.screenshot("keys-dark")
	h.submit(`button[name=theme][value="system"]`)

	// "System" follows the system's preference.
	if _, err := chromedp.Call(h.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	if got := h.eval(`getComputedStyle(document.body).backgroundColor`); got != dark {
		t.Errorf("following a dark system the background is %s, want %s", got, dark)
	}
	if _, err := chromedp.Call(h.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}}); err != nil {
		t.Fatal(err)
	}

	h.do(chromedp.Navigate(h.base + "/console/keys"))
	h.screenshot("keys")
	h.do(chromedp.Navigate(h.base + "/console/accounts"))
	h.screenshot("accounts")
	h.do(chromedp.Navigate(h.base + "/console/audit"))
	h.screenshot("audit")
	h.do(chromedp.Navigate(h.base + "/console/settings"))
	h.screenshot("settings")

	// A phone: nothing wider than the screen.
	h.do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	for _, p := range []string{"/console/", "/console/keys", "/console/accounts", "/console/audit", "/console/settings"} {
		h.do(chromedp.Navigate(h.base + p))
		if w := h.eval(`String(document.documentElement.scrollWidth)`); w != "375" {
			t.Errorf("%s at 375 px is %s px wide", p, w)
		}
	}
	h.do(chromedp.Navigate(h.base + "/console/accounts"))
	h.screenshot("accounts-375")
	h.do(chromedp.Navigate(h.base + "/console/"))
	h.screenshot("overview-375")
	h.do(chromedp.EmulateReset())

	// Sign out, and the console is closed.
	h.do(chromedp.Navigate(h.base + "/console/"))
	h.submit(`.signout button`)
	if got := h.location(); got != "/console/login?out=1" {
		t.Errorf("after signing out the browser is at %s", got)
	}
	h.do(chromedp.Navigate(h.base + "/console/settings"))
	if got := h.location(); !strings.HasPrefix(got, "/console/login") {
		t.Errorf("after signing out /console/settings showed %s", got)
	}
}

// TestBrowserWithoutJavaScript: reading pages and forms work with
// JavaScript off.
func TestBrowserWithoutJavaScript(t *testing.T) {
	now := time.Now().UTC()
	h := newHarness(t, demoServer(t, demoBackend(now), now))
	if _, err := chromedp.Call(h.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	h.signIn()
	if got := h.text("h1"); got != "Overview" {
		t.Fatalf("overview heading %q", got)
	}
	h.submit(`button[name=lang][value="zh-CN"]`)
	if got := h.text("h1"); got != "概览" {
		t.Errorf("without JavaScript the language switch gave %q", got)
	}
	h.do(chromedp.Navigate(h.base + "/console/keys"))
	h.do(chromedp.SendKeys(chromedp.ID("q"), "team 0002"))
	h.submit(`.filters button`)
	if got := h.location(); !strings.Contains(got, "q=team+0002") {
		t.Errorf("search led to %s", got)
	}
	h.submit(`.signout button`)
	if got := h.location(); got != "/console/login?out=1" {
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
			h.do(chromedp.Navigate(h.base + tc.path))
			h.sync()
			h.mu.Lock()
			issues := h.issues
			h.issues = nil // seen: the cleanup check must not fail the test
			h.mu.Unlock()
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
		if _, err := chromedp.CallBrowser(h.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: h.base,
		}); err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	// Accept the confirmation dialogs (delete asks first).
	dialogs := chromedp.Events(h.ctx, cdppage.JavascriptDialogOpening)
	var confirmed atomic.Int32
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			if ev.Type == cdppage.DialogTypeConfirm {
				confirmed.Add(1)
			}
			_, _ = chromedp.Call(h.ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	h.signIn()

	// An account pointing at an upstream.
	h.do(chromedp.Navigate(h.base + "/console/accounts"))
	if _, err := chromedp.RunResponse(h.ctx, chromedp.Click(chromedp.CSS("a.head-btn"))); err != nil {
		t.Fatal(err)
	}
	h.do(
		chromedp.SendKeys(chromedp.ID("name"), "fake upstream"),
		chromedp.SendKeys(chromedp.ID("apiUrl"), "http://127.0.0.1:9/upstream"),
		chromedp.SendKeys(chromedp.ID("apiKey"), "sk-ant-browser-5678"),
		chromedp.SetValue(chromedp.ID("dailyQuota"), "25"),
	)
	h.screenshot("account-new")
	h.submit(`form.accountform button[type=submit]`)
	if got := h.location(); got != "/console/accounts/acc-new-1?done=created" {
		t.Fatalf("after creating the account the browser is at %s", got)
	}
	if _, in := f.inputs(); in.Account.APIURL != "http://127.0.0.1:9/upstream" || in.Account.APIKey != "sk-ant-browser-5678" || in.Account.DailyQuotaMicros != 25_000_000 {
		t.Errorf("account created with %+v", in.Account)
	}
	h.screenshot("account")

	h.do(chromedp.Navigate(h.base + "/console/keys"))
	if _, err := chromedp.RunResponse(h.ctx, chromedp.Click(chromedp.CSS("a.head-btn"))); err != nil {
		t.Fatal(err)
	}
	h.do(
		chromedp.SendKeys(chromedp.ID("name"), "browser key"),
		chromedp.SetValue(chromedp.ID("dailyCostLimit"), "5"),
		chromedp.SetValue(chromedp.ID("tags"), "ci, browser"),
	)
	h.screenshot("key-new")
	h.submit(`form.keyform button[type=submit]`)
	secret := h.eval(`document.getElementById("secret").textContent`)
	if !strings.HasPrefix(secret, "cr_") {
		t.Fatalf("no secret on the page: %q", secret)
	}
	h.do(chromedp.Click(chromedp.CSS(`button[data-copy="#secret"]`)))
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := chromedp.Run(h.ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if err == nil && got == secret {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the clipboard holds %q (%v), want the secret", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.screenshot("key-secret")
	if in, _ := f.inputs(); in.Key.DailyCostLimitMicros != 5_000_000 || len(in.Key.Tags) != 2 {
		t.Errorf("created with %+v", in.Key)
	}

	// Edit: an invalid limit is refused next to its field.
	h.submit(`.secret a.btn`)
	if got := h.location(); got != "/console/keys/key-new-1" {
		t.Fatalf("after the secret the browser is at %s", got)
	}
	h.do(chromedp.SetValue(chromedp.ID("dailyCostLimit"), "lots"))
	h.allow("status of 400 (Bad Request) (" + h.base + "/console/keys/key-new-1:") // the refused form
	h.submit(`form.keyform button[type=submit]`)
	if got := h.text("#dailyCostLimit-err"); got != "Enter an amount in dollars, like 12.50." {
		t.Errorf("field error %q", got)
	}
	h.screenshot("key-field-error")

	// Delete (after confirming) and restore.
	h.do(chromedp.Navigate(h.base + "/console/keys/key-new-1"))
	h.submit(`button[value=delete]`)
	if confirmed.Load() != 1 {
		t.Errorf("%d confirmations asked before deleting, want 1", confirmed.Load())
	}
	if got := h.location(); got != "/console/keys/key-new-1?done=delete" {
		t.Errorf("after delete the browser is at %s", got)
	}
	h.submit(`button[value=restore]`)
	if got := h.location(); got != "/console/keys/key-new-1?done=restore" {
		t.Errorf("after restore the browser is at %s", got)
	}
	if n := h.eval(`String(document.querySelectorAll("button[value=delete]").length)`); n != "1" {
		t.Errorf("the restored key offers %s delete buttons", n)
	}
}
