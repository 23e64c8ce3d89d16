package console

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/events"
	"relay/events/usagelog"
)

// fakeReports is a UsageReports with set answers that records what it was
// asked.
type fakeReports struct {
	mu     sync.Mutex // protects everything below
	loc    *time.Location
	groups map[usagelog.Dim][]fakeGroup
	csv    string
	fail   error // Aggregate's and Export's error
	// failAfter makes Export fail after writing its body.
	failAfter bool
	// slow makes Aggregate wait for its context to end.
	slow    bool
	aggs    []usagelog.ExportRequest
	dims    [][]usagelog.Dim
	exports []usagelog.ExportRequest
}

type fakeGroup struct {
	key string
	usagelog.Totals
}

func newFakeReports() *fakeReports {
	return &fakeReports{loc: time.UTC, groups: map[usagelog.Dim][]fakeGroup{},
		csv: "time,keyId,model,cost\n2026-12-01T10:00:00Z,k1,claude-sonnet-4-5,0.010000000\n"}
}

func (f *fakeReports) Location() *time.Location { return f.loc }

func (f *fakeReports) Aggregate(ctx context.Context, r usagelog.ExportRequest, dims []usagelog.Dim) ([][]string, []usagelog.Totals, usagelog.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aggs, f.dims = append(f.aggs, r), append(f.dims, dims)
	if f.slow {
		<-ctx.Done()
		return nil, nil, usagelog.Stats{}, ctx.Err()
	}
	if f.fail != nil {
		return nil, nil, usagelog.Stats{}, f.fail
	}
	var keys [][]string
	var totals []usagelog.Totals
	gs := slices.Clone(f.groups[dims[0]])
	slices.SortFunc(gs, func(a, b fakeGroup) int { return strings.Compare(a.key, b.key) }) // as usagelog sorts
	for _, g := range gs {
		keys, totals = append(keys, []string{g.key}), append(totals, g.Totals)
	}
	return keys, totals, usagelog.Stats{}, nil
}

func (f *fakeReports) Export(_ context.Context, r usagelog.ExportRequest, w io.Writer) (usagelog.ExportStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exports = append(f.exports, r)
	if f.fail != nil && !f.failAfter {
		return usagelog.ExportStats{}, f.fail
	}
	n, err := io.WriteString(w, f.csv)
	if err == nil && f.failAfter {
		err = f.fail
	}
	return usagelog.ExportStats{Rows: uint64(strings.Count(f.csv, "\n") - 1), Bytes: int64(n)}, err
}

func (f *fakeReports) lastAgg(t *testing.T) (usagelog.ExportRequest, []usagelog.Dim) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.aggs) == 0 {
		t.Fatal("Aggregate was never called")
	}
	return f.aggs[len(f.aggs)-1], f.dims[len(f.dims)-1]
}

func (f *fakeReports) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.aggs) + len(f.exports)
}

var usageNow = time.Date(2026, 12, 4, 10, 30, 15, 500, time.UTC)

func usageServer(t *testing.T, r UsageReports) *browser {
	t.Helper()
	e, _ := newTestServer(t, newFakeBackend(), func(c *Config) {
		c.Now = func() time.Time { return usageNow }
		c.UsageReports = r
	})
	b := newBrowser(t, e)
	b.signIn("correct horse")
	return b
}

func TestUsagePageParsesAndEchoesFilters(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	q := url.Values{"from": {"2026-12-01"}, "to": {"2026-12-03T12:00:00Z"}, "keyId": {"k1, k2"}, "accountId": {"acc-9"},
		"model": {"claude-sonnet-4-5"}, "platform": {events.PlatformCodex}, "outcome": {events.OutcomeOK}, "group": {"model"}}
	rec := b.get("/console/usage?" + q.Encode())
	requireStatus(t, rec, http.StatusOK)
	req, dims := f.lastAgg(t)
	if !req.From.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !req.To.Equal(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("window %v – %v", req.From, req.To)
	}
	want := usagelog.Filter{Keys: []string{"k1", "k2"}, Accounts: []string{"acc-9"}, Models: []string{"claude-sonnet-4-5"},
		Platforms: []string{events.PlatformCodex}, Outcomes: []string{events.OutcomeOK}}
	if fmt.Sprint(req.Filter) != fmt.Sprint(want) {
		t.Errorf("filter %+v, want %+v", req.Filter, want)
	}
	if !slices.Equal(dims, []usagelog.Dim{usagelog.DimModel}) {
		t.Errorf("dims %v", dims)
	}
	body := rec.Body.String()
	requireContains(t, body, `id="u-from" name="from" value="2026-12-01"`, `value="2026-12-03T12:00:00Z"`, `name="keyId" value="k1, k2"`,
		`name="accountId" value="acc-9"`, `<option value="model" selected>`, `<option value="codex" selected>`, `<option value="ok" selected>`,
		`aria-current="page">Usage</a>`)
	// The download names the same window, absolute, and the same filters.
	m := regexp.MustCompile(`id="usage-download" href="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no download link")
	}
	u, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	wantQ := url.Values{"from": {"2026-12-01T00:00:00Z"}, "to": {"2026-12-03T12:00:00Z"}, "keyId": {"k1,k2"}, "accountId": {"acc-9"},
		"model": {"claude-sonnet-4-5"}, "platform": {"codex"}, "outcome": {"ok"}, "format": {"csv"}}
	if u.Path != "/console/usage/export" || u.Query().Encode() != wantQ.Encode() {
		t.Errorf("download link %s, want query %s", m[1], wantQ.Encode())
	}
}

func TestUsagePageDefaultWindowIsPinned(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	rec := b.get("/console/usage")
	requireStatus(t, rec, http.StatusOK)
	req, dims := f.lastAgg(t)
	now := usageNow.Truncate(time.Second)
	if !req.From.Equal(now.Add(-7*24*time.Hour)) || !req.To.Equal(now) {
		t.Errorf("default window %v – %v, want the last 7 days to %v", req.From, req.To, now)
	}
	if !slices.Equal(dims, []usagelog.Dim{usagelog.DimDay}) {
		t.Errorf("default dims %v", dims)
	}
	requireContains(t, rec.Body.String(), `name="from" value="7d"`, `<option value="day" selected>`,
		`from=2026-11-27T10%3A30%3A15Z&amp;to=2026-12-04T10%3A30%3A15Z`)
}

func TestUsagePageShowsBadParametersNextToTheirFields(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	rec := b.get("/console/usage?from=yesterday-ish&to=&outcome=bogus&group=colour&keyId=k1&shade=blue")
	requireStatus(t, rec, http.StatusBadRequest)
	body := rec.Body.String()
	requireContains(t, body,
		`name="from" value="yesterday-ish" placeholder="7d" maxlength="64" aria-invalid="true" aria-describedby="u-from-err">`,
		`<p class="field-err" id="u-from-err">`, `want an RFC 3339 time`,
		`<p class="field-err" id="u-outcome-err">unknown outcome &#34;bogus&#34;`,
		`<p class="field-err" id="u-group-err">unknown group-by dimension &#34;colour&#34;`,
		`shade: unknown parameter`, `name="keyId" value="k1"`)
	if strings.Contains(body, "u-to-err") || strings.Contains(body, "u-key-err") {
		t.Error("a good field is marked bad")
	}
	if strings.Contains(body, `id="usage-download"`) {
		t.Error("a refused query offers a download")
	}
	if n := f.calls(); n != 0 {
		t.Errorf("the stream was read %d times for a refused query", n)
	}
	// Two dimensions are not a choice of the form.
	requireStatus(t, b.get("/console/usage?group=day,model"), http.StatusBadRequest)
	// A window that ends before it starts: the error is at "to".
	requireContains(t, b.get("/console/usage?from=2026-12-02&to=2026-12-01").Body.String(), `id="u-to-err">`)
}

func TestUsagePageTableTotalsAndEscaping(t *testing.T) {
	f := newFakeReports()
	evil := `<script>alert("m")</script>`
	f.groups[usagelog.DimModel] = []fakeGroup{
		{"claude-haiku-4-5", usagelog.Totals{Requests: 10, Tokens: events.Tokens{InputTokens: 1000, OutputTokens: 200}, CostNanos: 2_000_000}},
		{"claude-opus-4-1", usagelog.Totals{Requests: 3, Refused: 1, Tokens: events.Tokens{InputTokens: 5000, CacheReadTokens: 40_000}, CostNanos: 900_000_000}},
		{evil, usagelog.Totals{Requests: 1, CostNanos: 1}},
		{"", usagelog.Totals{Refused: 4}},
	}
	b := usageServer(t, f)
	rec := b.get("/console/usage?group=model")
	requireStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	if strings.Contains(body, evil) || strings.Contains(body, "<script>alert") {
		t.Fatal("a model name reached the page unescaped")
	}
	requireContains(t, body, `&lt;script&gt;alert(&#34;m&#34;)&lt;/script&gt;`, `<svg class="chart"`, `<span class="muted">(none)</span>`,
		"Total (4 groups)", `<td class="num">14</td>`, `<td class="num">5</td>`, "$0.90")
	// Costliest first.
	opus, haiku := strings.Index(body, "<code>claude-opus-4-1</code>"), strings.Index(body, "<code>claude-haiku-4-5</code>")
	if opus < 0 || haiku < 0 || opus > haiku {
		t.Errorf("rows not by cost: opus at %d, haiku at %d", opus, haiku)
	}
	if n := strings.Count(body, `<rect class="c-bar"`); n != 4 {
		t.Errorf("the chart has %d bars, want 4", n)
	}
}

func TestUsagePageLinksKeysAndAccounts(t *testing.T) {
	f := newFakeReports()
	f.groups[usagelog.DimKey] = []fakeGroup{{"key/1", usagelog.Totals{Requests: 2}}}
	f.groups[usagelog.DimAccount] = []fakeGroup{{"acc-1", usagelog.Totals{Requests: 2}}}
	b := usageServer(t, f)
	requireContains(t, b.get("/console/usage?group=key").Body.String(), `<a href="/console/keys/key%2F1"><code>key/1</code></a>`, "<th scope=\"col\">Key</th>")
	requireContains(t, b.get("/console/usage?group=account").Body.String(), `<a href="/console/accounts/acc-1"><code>acc-1</code></a>`)
}

func TestUsagePageTimeChartFillsGaps(t *testing.T) {
	f := newFakeReports()
	f.groups[usagelog.DimDay] = []fakeGroup{
		{"2026-12-01", usagelog.Totals{Requests: 5, CostNanos: 100}},
		{"2026-12-04", usagelog.Totals{Requests: 7, CostNanos: 300}},
	}
	f.groups[usagelog.DimHour] = []fakeGroup{
		{"2026-12-04T08:00Z", usagelog.Totals{Requests: 1}},
		{"2026-12-04T10:00Z", usagelog.Totals{Requests: 1}},
	}
	b := usageServer(t, f)
	for _, c := range []struct {
		query         string
		buckets, bars int
	}{
		{"group=day&from=2026-11-29&to=2026-12-05", 6, 2},                      // the whole window, 29 November to 4 December
		{"group=day&from=", 4, 2},                                              // open: from the first day with usage to today
		{"group=hour&from=2026-12-04T07:30:00Z&to=2026-12-04T10:00:00Z", 3, 1}, // 07:00, 08:00, 09:00
		{"group=hour&from=2026-12-04T08:00:00Z&to=2026-12-04T11:00:00Z", 3, 2},
	} {
		body := b.get("/console/usage?" + c.query).Body.String()
		if n := strings.Count(body, `<g class="c-bucket">`); n != c.buckets {
			t.Errorf("%s: %d chart buckets, want %d", c.query, n, c.buckets)
		}
		if n := strings.Count(body, `<rect class="c-bar"`); n != c.bars {
			t.Errorf("%s: %d bars, want %d", c.query, n, c.bars)
		}
	}
	// The table lists the groups with usage only.
	body := b.get("/console/usage?group=day&from=2026-11-29").Body.String()
	if n := strings.Count(body, `<tbody><tr>`) + strings.Count(body, `</tr><tr>`); n != 2 {
		t.Errorf("day table has %d rows, want the 2 days with usage", n)
	}
	// A window of more buckets than a page shows: the latest.
	body = b.get("/console/usage?group=hour&from=2025-01-01").Body.String()
	if n := strings.Count(body, `<g class="c-bucket">`); n != maxUsageGroups {
		t.Errorf("a long hourly window has %d chart buckets, want %d", n, maxUsageGroups)
	}
}

func TestUsagePageCapsGroups(t *testing.T) {
	f := newFakeReports()
	for i := range 1200 {
		f.groups[usagelog.DimKey] = append(f.groups[usagelog.DimKey], fakeGroup{fmt.Sprintf("key-%04d", i), usagelog.Totals{Requests: 1, CostNanos: int64(i)}})
	}
	b := usageServer(t, f)
	body := b.get("/console/usage?group=key").Body.String()
	requireContains(t, body, `id="usage-capped">Showing 500 of 1200 groups`, "Total (1200 groups)", `<td class="num">1,200</td>`)
	if n := strings.Count(body, `<a href="/console/keys/`); n != 500 {
		t.Errorf("%d rows shown, want 500", n)
	}
	if !strings.Contains(body, "key-1199") || strings.Contains(body, "<code>key-0000</code>") {
		t.Error("the capped table should keep the costliest keys")
	}
}

func TestUsageExportDownloadsThroughTheConsole(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	rec := b.get("/console/usage/export?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&keyId=k1&format=csv")
	requireStatus(t, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if disp, params, err := mime.ParseMediaType(rec.Header().Get("Content-Disposition")); err != nil || disp != "attachment" ||
		params["filename"] != "usage-20261201T000000Z-20261202T000000Z.csv" {
		t.Errorf("Content-Disposition %q", rec.Header().Get("Content-Disposition"))
	}
	if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("the download lacks the console's headers")
	}
	if rec.Body.String() != f.csv {
		t.Errorf("body %q, want the export's", rec.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Errorf("CSV: %d rows, %v", len(rows), err)
	}
	f.mu.Lock()
	got := f.exports[0]
	f.mu.Unlock()
	if !got.From.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !slices.Equal(got.Filter.Keys, []string{"k1"}) || got.Format != usagelog.CSV {
		t.Errorf("export request %+v", got)
	}
	// NDJSON is the REST export's too.
	rec = b.get("/console/usage/export?from=1d&format=ndjson")
	if ct := rec.Header().Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("ndjson Content-Type %q", ct)
	}
	// An empty window is still a download, of nothing.
	f.mu.Lock()
	f.csv = ""
	f.mu.Unlock()
	rec = b.get("/console/usage/export?from=1d&format=ndjson")
	requireStatus(t, rec, http.StatusOK)
	if rec.Header().Get("Content-Disposition") == "" || rec.Body.Len() != 0 {
		t.Errorf("empty export: disposition %q, %d bytes", rec.Header().Get("Content-Disposition"), rec.Body.Len())
	}
}

func TestUsageExportRefusalsAndFailures(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	rec := b.get("/console/usage/export?from=soon&group=day")
	requireStatus(t, rec, http.StatusBadRequest)
	requireContains(t, rec.Body.String(), "The request was not understood.", "from: &#34;soon&#34;", "group: unknown parameter")
	if rec.Header().Get("Content-Disposition") != "" {
		t.Error("a refused export is a download")
	}

	f.mu.Lock()
	f.fail = errors.New("nats: permissions violation for secret-subject")
	f.mu.Unlock()
	rec = b.get("/console/usage/export?from=1d")
	requireStatus(t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Content-Disposition") != "" || strings.Contains(rec.Body.String(), "secret-subject") {
		t.Error("a failed export before its first byte must be a plain error page")
	}
	requireStatus(t, b.get("/console/usage"), http.StatusServiceUnavailable)

	// Cut after the first bytes: the response is aborted, never ended
	// as if whole.
	f.mu.Lock()
	f.failAfter = true
	f.mu.Unlock()
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("a cut export recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		b.get("/console/usage/export?from=1d")
	}()
}

func TestUsageNeedsASession(t *testing.T) {
	f := newFakeReports()
	e, _ := newTestServer(t, newFakeBackend(), func(c *Config) { c.UsageReports = f })
	b := newBrowser(t, e)
	for _, path := range []string{"/console/usage?group=model", "/console/usage/export?from=1d"} {
		rec := b.get(path)
		requireStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "/console/login?next=") {
			t.Errorf("%s led to %s", path, loc)
		}
	}
	if n := f.calls(); n != 0 {
		t.Errorf("the stream was read %d times without a session", n)
	}
}

func TestUsageOffWithoutReports(t *testing.T) {
	for name, r := range map[string]UsageReports{"nil": nil, "no connection": usagelog.Reports{}} {
		b := usageServer(t, r)
		rec := b.get("/console/usage")
		requireStatus(t, rec, http.StatusOK)
		if !strings.Contains(rec.Body.String(), "The usage export is off") {
			t.Errorf("%s: the page does not say the export is off", name)
		}
		if rec := b.get("/console/usage/export?from=1d"); rec.Code != http.StatusNotFound {
			t.Errorf("%s: export answered %d, want 404", name, rec.Code)
		}
	}
}

func TestUsageLinksOnKeyAndAccountPages(t *testing.T) {
	for _, on := range []bool{true, false} {
		fb := newFakeBackend()
		fb.details = map[string]*KeyDetail{"key-1": {Key: events.Key{ID: "key-1", Name: "team"}, Version: 1}}
		fb.acctByID = map[string]*AccountDetail{"acc-1": {ID: "acc-1", Account: AccountFields{Name: "main", Platform: events.PlatformClaudeConsole}}}
		e, _ := newTestServer(t, fb, func(c *Config) {
			if on {
				c.UsageReports = newFakeReports()
			}
		})
		b := newBrowser(t, e)
		b.signIn("correct horse")
		for path, want := range map[string]string{
			"/console/keys/key-1":     `href="/console/usage/export?from=30d&amp;keyId=key-1" download`,
			"/console/accounts/acc-1": `href="/console/usage/export?accountId=acc-1&amp;from=30d" download`,
		} {
			body := b.get(path).Body.String()
			if strings.Contains(body, want) != on {
				t.Errorf("export on=%v: %s has the export link: %v", on, path, !on)
			}
		}
	}
}

func TestUsagePageShowsFiltersTheSelectsDoNotList(t *testing.T) {
	f := newFakeReports()
	b := usageServer(t, f)
	body := b.get("/console/usage?platform=codex&platform=claude-console&outcome=ok,refused").Body.String()
	requireContains(t, body, `<option value="codex,claude-console" selected>codex,claude-console</option>`,
		`<option value="ok,refused" selected>ok,refused</option>`, `<option value="">Any</option>`)
	req, _ := f.lastAgg(t)
	if !slices.Equal(req.Filter.Platforms, []string{"codex", "claude-console"}) || !slices.Equal(req.Filter.Outcomes, []string{"ok", "refused"}) {
		t.Errorf("filter %+v", req.Filter)
	}
	if strings.Contains(body, `<option value="" selected>`) {
		t.Error("the selects claim any while filters apply")
	}
}

func TestUsagePageTooLongStillOffersTheDownload(t *testing.T) {
	old := usagePageTimeout
	usagePageTimeout = 50 * time.Millisecond
	t.Cleanup(func() { usagePageTimeout = old })
	f := newFakeReports()
	f.slow = true
	b := usageServer(t, f)
	rec := b.get("/console/usage?from=365d")
	requireStatus(t, rec, http.StatusOK)
	requireContains(t, rec.Body.String(), `id="usage-too-long"`, "too many events to group", `id="usage-download" href="/console/usage/export?format=csv&amp;from=2025-12-04T10%3A30%3A15Z`)
	if strings.Contains(rec.Body.String(), `id="usage-table"`) {
		t.Error("a timed-out page shows a table")
	}
}
