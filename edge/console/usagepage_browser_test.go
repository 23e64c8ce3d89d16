package console

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"relay/events"
	"relay/events/usagelog"
)

// TestBrowserUsagePage: an analyst opens the Usage page, groups the window
// by model, sees the table and the chart, and downloads the CSV through
// the console's session; at a phone's width nothing overflows.
func TestBrowserUsagePage(t *testing.T) {
	now := time.Now().UTC()
	f := demoBackend(now)
	r := newFakeReports()
	day := func(d int) string { return now.AddDate(0, 0, -d).Format(time.DateOnly) }
	for d := 6; d >= 0; d-- {
		if d == 3 {
			continue // a day without usage
		}
		r.groups[usagelog.DimDay] = append(r.groups[usagelog.DimDay], fakeGroup{day(d), usagelog.Totals{Requests: int64(40 + 10*d), Refused: int64(d % 2),
			Tokens: events.Tokens{InputTokens: int64(90_000 * (d + 1)), OutputTokens: int64(12_000 * (d + 1)), CacheReadTokens: 400_000}, CostNanos: int64(d+1) * 1_350_000_000}})
	}
	r.groups[usagelog.DimModel] = []fakeGroup{
		{"claude-sonnet-4-5", usagelog.Totals{Requests: 210, Tokens: events.Tokens{InputTokens: 2_100_000, OutputTokens: 310_000, CacheReadTokens: 9_000_000}, CostNanos: 21_400_000_000}},
		{"claude-opus-4-1", usagelog.Totals{Requests: 31, Tokens: events.Tokens{InputTokens: 400_000, OutputTokens: 60_000}, CostNanos: 16_900_000_000}},
		{"gpt-5-codex", usagelog.Totals{Requests: 64, Refused: 3, Tokens: events.Tokens{InputTokens: 800_000, OutputTokens: 95_000}, CostNanos: 3_200_000_000}},
		{"claude-haiku-4-5", usagelog.Totals{Requests: 18, Tokens: events.Tokens{InputTokens: 60_000, OutputTokens: 9_000}, CostNanos: 120_000_000}},
	}
	e, _ := newTestServer(t, f, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.UsageReports = r
	})
	h := newHarness(t, e)
	signIn(h)

	h.Do(chromedp.Navigate(h.Base + "/console/"))
	h.Submit(`nav.nav a[href="/console/usage"]`)
	if got := h.Text("h1"); got != "Usage" {
		t.Fatalf("usage heading %q", got)
	}
	// The last 7 days touch 8 calendar days, the empty ones drawn too.
	if n := h.Eval(`String(document.querySelectorAll("svg.chart g.c-bucket").length)`); n != "8" {
		t.Errorf("the day chart has %s buckets, want 8", n)
	}
	if n := h.Eval(`String(document.querySelectorAll("svg.chart rect.c-bar").length)`); n != "6" {
		t.Errorf("the day chart has %s bars, want the 6 days with usage", n)
	}
	h.Screenshot("usage-day")

	// Group by model over the last 3 days.
	h.Do(
		chromedp.SetValue(chromedp.ID("u-from"), "3d"),
		chromedp.SetValue(chromedp.ID("u-group"), "model"),
	)
	h.Submit(`#usage-form button[type=submit]`)
	if loc := h.Location(); !strings.Contains(loc, "group=model") || !strings.Contains(loc, "from=3d") {
		t.Errorf("the form led to %s", loc)
	}
	req, dims := r.lastAgg(t)
	if want := now.Truncate(time.Second).Add(-72 * time.Hour); !req.From.Equal(want) || len(dims) != 1 || dims[0] != usagelog.DimModel {
		t.Errorf("asked for %v from %v, want model from %v", dims, req.From, want)
	}
	if got := h.Eval(`Array.from(document.querySelectorAll("#usage-table tbody td:first-child")).map(function (td) { return td.textContent; }).join(",")`); got != "claude-sonnet-4-5,claude-opus-4-1,gpt-5-codex,claude-haiku-4-5" {
		t.Errorf("table rows %q, want by cost", got)
	}
	if got := h.Text("#usage-table tfoot th"); got != "Total (4 groups)" {
		t.Errorf("totals row %q", got)
	}
	if n := h.Eval(`String(document.querySelectorAll("svg.chart rect.c-bar").length)`); n != "4" {
		t.Errorf("the model chart has %s bars, want 4", n)
	}
	h.Screenshot("usage-model")

	// Download: the browser saves the console's CSV.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(h.Ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatal(err)
	}
	h.Do(chromedp.Click(chromedp.ID("usage-download")))
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for body == nil && time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "usage-*.csv"))
		if len(files) == 1 {
			body, _ = os.ReadFile(files[0])
			if !strings.HasSuffix(string(body), "\n") {
				body = nil // still being written
			}
		}
		if body == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if body == nil {
		t.Fatalf("no usage-*.csv downloaded into %s", dir)
	}
	if string(body) != r.csv {
		t.Errorf("downloaded %q, want the export", body)
	}
	if rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll(); err != nil || len(rows) != 2 {
		t.Errorf("downloaded CSV: %d rows, %v", len(rows), err)
	}
	r.mu.Lock()
	exp := r.exports[len(r.exports)-1]
	r.mu.Unlock()
	if !exp.From.Equal(req.From) || !exp.To.Equal(req.To) || exp.Format != usagelog.CSV {
		t.Errorf("downloaded window %v – %v (%s), the table's %v – %v", exp.From, exp.To, exp.Format, req.From, req.To)
	}

	// A bad bound is shown next to its field.
	h.Do(chromedp.SetValue(chromedp.ID("u-from"), "last tuesday"))
	h.Allow("status of 400")
	h.Submit(`#usage-form button[type=submit]`)
	if got := h.Text("#u-from-err"); !strings.Contains(got, "last tuesday") {
		t.Errorf("from error %q", got)
	}
	h.Screenshot("usage-error")

	// A key's page links to its own export, which downloads.
	f.mu.Lock()
	f.details = map[string]*KeyDetail{"key-team": {Key: events.Key{ID: "key-team", Name: "team"}, Version: 1}}
	f.mu.Unlock()
	h.Do(chromedp.Navigate(h.Base + "/console/keys/key-team"))
	if got := h.Eval(`document.querySelector(".usage-links a[download]").getAttribute("href")`); got != "/console/usage/export?from=30d&keyId=key-team" {
		t.Errorf("the key's export link is %q", got)
	}
	h.Do(chromedp.Click(chromedp.CSS(".usage-links a[download]")))
	deadline = time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		last := r.exports[len(r.exports)-1]
		r.mu.Unlock()
		if slices.Equal(last.Filter.Keys, []string{"key-team"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the key's export link did not reach the export")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Submit(".usage-links a:not([download])")
	if got := h.Eval(`document.getElementById("u-key").value`); got != "key-team" {
		t.Errorf("the key's Usage page has key filter %q", got)
	}

	// Dark, Chinese, and a phone's width.
	h.Submit(`button[name=theme][value="dark"]`)
	h.Screenshot("usage-dark")
	h.Submit(`button[name=theme][value="system"]`)
	h.Do(chromedp.Navigate(h.Base + "/console/usage?group=day"))
	h.Submit(`button[name=lang][value="zh-CN"]`)
	if got := h.Text("h1"); got != "用量" {
		t.Errorf("Chinese heading %q", got)
	}
	h.Screenshot("usage-zh")
	h.Submit(`button[name=lang][value="en"]`)
	h.Do(chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	for _, p := range []string{"/console/usage?group=day", "/console/usage?group=model"} {
		h.Do(chromedp.Navigate(h.Base + p))
		if w := h.Eval(`String(document.documentElement.scrollWidth)`); w != "375" {
			t.Errorf("%s at 375 px is %s px wide", p, w)
		}
	}
	h.Screenshot("usage-375")
	h.Do(chromedp.EmulateReset())
}
