package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/events/usagelog"
)

// The Usage page (GET /console/usage): an analyst picks a window and
// filters, groups by day, hour, key, account or model, sees the table and
// a chart, and downloads the usage events of exactly that window and
// filter as CSV (GET /console/usage/export, the same export as the REST
// API's GET /api/v2/usage/export, under the console's session).
//
// For this page the console imports relay/events/usagelog (its request
// parser, grouping and export), never NATS itself: the UsageReports it is
// given reads the stream.

// UsageReports reads the USAGE stream for the Usage page; usagelog.Reports
// is the real one (over the analyst's NATS connection).
type UsageReports interface {
	// Location is the zone day and hour groups are counted in.
	Location() *time.Location
	Aggregate(ctx context.Context, r usagelog.ExportRequest, dims []usagelog.Dim) ([][]string, []usagelog.Totals, usagelog.Stats, error)
	Export(ctx context.Context, r usagelog.ExportRequest, w io.Writer) (usagelog.ExportStats, error)
}

var _ UsageReports = usagelog.Reports{}

// maxUsageGroups bounds the rows (and chart buckets) a Usage page shows:
// the rest are counted in the totals and the note says how many there are.
const maxUsageGroups = 500

// usagePageTimeout bounds the folding of a page's window (the download
// has no such bound: it streams). A variable for tests.
var usagePageTimeout = 60 * time.Second

// usageDefaultFrom is the window a Usage page opens with.
const usageDefaultFrom = "7d"

// usageGroups are the group-by choices of the page, in the form's order.
var usageGroups = []usagelog.Dim{usagelog.DimDay, usagelog.DimHour, usagelog.DimKey, usagelog.DimAccount, usagelog.DimModel}

func init() {
	pageNames = append(pageNames, "usagepage")
}

// usageReports is the page's source, nil when the export is off: no
// UsageReports, or a usagelog.Reports without a connection (so relay can
// pass usagelog.Reports{JS: analyst} whether or not it has an analyst).
func (h *Handler) usageReports() UsageReports {
	if r, ok := h.cfg.UsageReports.(usagelog.Reports); ok && r.JS == nil {
		return nil
	}
	return h.cfg.UsageReports
}

func (h *Handler) mountUsage(in *echo.Group) {
	in.GET("/usage", h.usagePage)
	in.GET("/usage/export", h.usageExport)
}

// usageForm is the page's filter form, as typed.
type usageForm struct {
	From, To, KeyID, AccountID, Model, Platform, Outcome, Group string
}

type usageRow struct {
	Dims     []usageCell
	Requests string
	Refused  string
	Input    string
	Output   string
	Cache    string // cache writes / cache reads
	Cost     string
	CostFull string
}

// usageOption is an option of a select; a value the select does not list
// (a comma list typed into the URL) is shown as its own option, so the
// form never claims "any" while a filter applies.
type usageOption struct {
	Value    string
	Selected bool
}

func usageOptions(known []string, value string) []usageOption {
	out := []usageOption{{Value: "", Selected: value == ""}}
	for _, k := range known {
		out = append(out, usageOption{Value: k, Selected: k == value})
	}
	if value != "" && !slices.Contains(known, value) {
		out = append(out, usageOption{Value: value, Selected: true})
	}
	return out
}

type usageCell struct {
	Text, Link string
}

type usagePageView struct {
	page
	Off       bool
	Form      usageForm
	Errors    map[string]string
	Other     []string // errors of parameters the form has no field for
	Groups    []usagelog.Dim
	Platforms []usageOption
	Outcomes  []usageOption
	Timezone  string
	TooLong   bool   // the table took longer than usagePageTimeout
	Window    string // the window as shown, absolute
	Ran       bool
	Columns   []string // catalogue keys of the dimension columns
	Rows      []usageRow
	Total     usageRow
	Count     int
	Capped    bool
	Chart     template.HTML
	ExportURL string
}

// usageQuery splits the page's query into the export request's parameters
// and the group-by choice; a first visit (no from at all) gets the default
// window.
func usageQuery(q url.Values) (url.Values, string) {
	params := url.Values{}
	for k, vs := range q {
		if k == "group" {
			continue
		}
		params[k] = vs
	}
	if _, ok := q["from"]; !ok {
		params.Set("from", usageDefaultFrom)
	}
	group := strings.TrimSpace(q.Get("group"))
	if group == "" {
		group = string(usagelog.DimDay)
	}
	return params, group
}

// usageNow is the page's clock, to the second: relative bounds ("7d")
// and the open end are pinned to it, so the download link names exactly
// the window the table shows.
func (h *Handler) usageNow() time.Time { return h.cfg.Now().UTC().Truncate(time.Second) }

func (h *Handler) usagePage(c echo.Context) error {
	p, err := h.newPage(c, "usagepage.title", "usage")
	if err != nil {
		return err
	}
	v := usagePageView{page: p, Groups: usageGroups, Errors: map[string]string{}}
	reports := h.usageReports()
	if reports == nil {
		v.Off = true
		return h.render(c, http.StatusOK, "usagepage", v)
	}
	loc := reports.Location()
	v.Timezone = loc.String()
	params, group := usageQuery(c.Request().URL.Query())
	v.Form = usageForm{
		From: params.Get("from"), To: params.Get("to"), KeyID: strings.Join(params["keyId"], ","),
		AccountID: strings.Join(params["accountId"], ","), Model: strings.Join(params["model"], ","),
		Platform: strings.Join(params["platform"], ","), Outcome: strings.Join(params["outcome"], ","), Group: group,
	}
	v.Platforms, v.Outcomes = usageOptions(usagelog.Platforms, v.Form.Platform), usageOptions(usagelog.Outcomes, v.Form.Outcome)
	now := h.usageNow()
	req, perr := usagelog.ParseExportRequest(params, now, loc)
	dims, derr := usagelog.ParseDims(group)
	if derr == nil && (len(dims) != 1 || !slices.Contains(usageGroups, dims[0])) {
		derr = errors.New("want one of day, hour, key, account, model")
	}
	if derr != nil {
		v.Errors["group"] = derr.Error()
	}
	for _, pe := range paramErrors(perr) {
		switch pe.Param {
		case "from", "to", "keyId", "accountId", "model", "platform", "outcome":
			if v.Errors[pe.Param] == "" {
				v.Errors[pe.Param] = pe.Message
			}
		default:
			v.Other = append(v.Other, pe.Error())
		}
	}
	if len(v.Errors) > 0 || len(v.Other) > 0 {
		return h.render(c, http.StatusBadRequest, "usagepage", v)
	}
	if req.To.IsZero() {
		req.To = now
	}
	req.Format = usagelog.CSV
	v.Ran = true
	v.Window = usageWindow(p.L, req, loc)
	v.ExportURL = "/console/usage/export?" + exportQuery(req).Encode()
	ctx, cancel := context.WithTimeout(c.Request().Context(), usagePageTimeout)
	defer cancel()
	keys, totals, _, err := reports.Aggregate(ctx, req, dims)
	if errors.Is(err, context.DeadlineExceeded) && c.Request().Context().Err() == nil {
		// A window too heavy to fold while a browser waits: say so, and
		// still offer its download (which streams, however long).
		v.TooLong = true
		return h.render(c, http.StatusOK, "usagepage", v)
	}
	if err != nil {
		return h.failed(c, err)
	}
	v.Columns = []string{"usagepage.col." + string(dims[0])}
	h.fillUsage(&v, req, dims[0], keys, totals, loc)
	return h.render(c, http.StatusOK, "usagepage", v)
}

// paramErrors lists the *usagelog.ParamError of err (a join of them).
func paramErrors(err error) []*usagelog.ParamError {
	if err == nil {
		return nil
	}
	var out []*usagelog.ParamError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var pe *usagelog.ParamError
		if errors.As(e, &pe) {
			out = append(out, pe)
		} else {
			out = append(out, &usagelog.ParamError{Param: "", Message: e.Error()})
		}
	}
	walk(err)
	return out
}

// exportQuery writes r back as export parameters, its bounds absolute.
func exportQuery(r usagelog.ExportRequest) url.Values {
	q := url.Values{}
	if !r.From.IsZero() {
		q.Set("from", r.From.UTC().Format(time.RFC3339Nano))
	}
	if !r.To.IsZero() {
		q.Set("to", r.To.UTC().Format(time.RFC3339Nano))
	}
	for _, f := range []struct {
		name string
		vals []string
	}{{"keyId", r.Filter.Keys}, {"accountId", r.Filter.Accounts}, {"model", r.Filter.Models}, {"platform", r.Filter.Platforms}, {"outcome", r.Filter.Outcomes}} {
		if len(f.vals) > 0 {
			q.Set(f.name, strings.Join(f.vals, ","))
		}
	}
	q.Set("format", string(usagelog.CSV))
	return q
}

func usageWindow(l *Locale, r usagelog.ExportRequest, loc *time.Location) string {
	from := l.T("usagepage.start")
	if !r.From.IsZero() {
		from = r.From.In(loc).Format("2006-01-02 15:04:05")
	}
	return from + " – " + r.To.In(loc).Format("2006-01-02 15:04:05")
}

// fillUsage turns the groups into the table (at most maxUsageGroups rows:
// the latest buckets of a time grouping, the costliest of the others) and
// the chart.
func (h *Handler) fillUsage(v *usagePageView, req usagelog.ExportRequest, dim usagelog.Dim, keys [][]string, totals []usagelog.Totals, loc *time.Location) {
	lang := v.L.Tag
	v.Count = len(keys)
	var sum usagelog.Totals
	for i := range totals {
		addTotals(&sum, &totals[i])
	}
	v.Total = usageRowOf(lang, nil, sum)
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	timed := dim == usagelog.DimDay || dim == usagelog.DimHour
	if !timed {
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmp.Or(cmp.Compare(totals[b].CostNanos, totals[a].CostNanos), cmp.Compare(totals[b].Requests, totals[a].Requests))
		})
	}
	if len(idx) > maxUsageGroups {
		v.Capped = true
		if timed {
			idx = idx[len(idx)-maxUsageGroups:]
		} else {
			idx = idx[:maxUsageGroups]
		}
	}
	for _, i := range idx {
		cell := usageCell{Text: keys[i][0]}
		switch dim {
		case usagelog.DimKey:
			cell.Link = "/console/keys/" + url.PathEscape(keys[i][0])
		case usagelog.DimAccount:
			if keys[i][0] != "" {
				cell.Link = "/console/accounts/" + url.PathEscape(keys[i][0])
			}
		}
		v.Rows = append(v.Rows, usageRowOf(lang, []usageCell{cell}, totals[i]))
	}
	if timed {
		v.Chart = renderChart(chartInput{Granularity: granularityOf(dim), Buckets: timeBuckets(dim, keys, totals, idx, loc, req.From, req.To), Loc: loc, L: v.L})
	} else {
		v.Chart = renderRankChart(v.L, keys, totals, idx)
	}
}

func addTotals(s, t *usagelog.Totals) {
	s.Requests += t.Requests
	s.Refused += t.Refused
	s.InputTokens += t.InputTokens
	s.OutputTokens += t.OutputTokens
	s.CacheCreateTokens += t.CacheCreateTokens
	s.CacheCreate1hTokens += t.CacheCreate1hTokens
	s.CacheReadTokens += t.CacheReadTokens
	s.ReasoningTokens += t.ReasoningTokens
	s.CostNanos += t.CostNanos
}

func usageRowOf(lang string, dims []usageCell, t usagelog.Totals) usageRow {
	return usageRow{
		Dims:     dims,
		Requests: groupDigits(t.Requests), Refused: groupDigits(t.Refused),
		Input: compact(lang, t.InputTokens), Output: compact(lang, t.OutputTokens),
		Cache: compact(lang, t.CacheCreateTokens) + " / " + compact(lang, t.CacheReadTokens),
		Cost:  formatUSD(t.CostNanos), CostFull: formatUSDExact(t.CostNanos),
	}
}

func granularityOf(d usagelog.Dim) Granularity {
	if d == usagelog.DimHour {
		return Hourly
	}
	return Daily
}

// Bucket labels of usagelog's day and hour groups.
const (
	usageDayLayout  = time.DateOnly
	usageHourLayout = "2006-01-02T15:00Z07:00"
)

// timeBuckets makes the chart's buckets: every day or hour of the window
// [from, to) (from the first group when from is open), empty ones
// included, at most maxUsageGroups (the latest).
func timeBuckets(dim usagelog.Dim, keys [][]string, totals []usagelog.Totals, idx []int, loc *time.Location, from, to time.Time) []Bucket {
	layout := usageDayLayout
	if dim == usagelog.DimHour {
		layout = usageHourLayout
	}
	floor := func(t time.Time) time.Time {
		t = t.In(loc)
		if dim == usagelog.DimHour {
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	prev := func(t time.Time) time.Time {
		if dim == usagelog.DimHour {
			return floor(t.Add(-time.Hour))
		}
		return time.Date(t.Year(), t.Month(), t.Day()-1, 0, 0, 0, 0, loc)
	}
	byLabel := make(map[string]int, len(idx))
	for _, i := range idx {
		byLabel[keys[i][0]] = i
	}
	if len(idx) == 0 && from.IsZero() {
		return nil
	}
	if from.IsZero() {
		t, err := time.ParseInLocation(layout, keys[idx[0]][0], loc)
		if err != nil {
			return nil
		}
		from = t
	}
	first := floor(from)
	var out []Bucket
	for t := floor(to.Add(-time.Nanosecond)); !t.Before(first) && len(out) < maxUsageGroups; t = prev(t) {
		b := Bucket{Start: t}
		if i, ok := byLabel[t.Format(layout)]; ok {
			tt := totals[i]
			b.Counters = Counters{Requests: tt.Requests, Refused: tt.Refused, CostNanos: tt.CostNanos,
				InputTokens: tt.InputTokens, OutputTokens: tt.OutputTokens, CacheCreateTokens: tt.CacheCreateTokens, CacheReadTokens: tt.CacheReadTokens}
		}
		out = append(out, b)
	}
	slices.Reverse(out)
	return out
}

// rankChartBars is how many groups the ranking chart draws.
const rankChartBars = 15

// renderRankChart draws the costliest groups (idx is sorted by cost) as
// horizontal bars, their cost and requests in each bar's tooltip. Every
// text is escaped here: the result is trusted HTML.
func renderRankChart(l *Locale, keys [][]string, totals []usagelog.Totals, idx []int) template.HTML {
	idx = idx[:min(len(idx), rankChartBars)]
	const rowH, labelW, valueW, w = 24, 220, 110, chartW
	hgt := max(rowH*len(idx)+8, 60)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		w, hgt, html.EscapeString(l.T("usagepage.chartAria")))
	if len(idx) == 0 {
		fmt.Fprintf(&b, `<text class="c-empty" x="%d" y="%d" text-anchor="middle">%s</text></svg>`, w/2, hgt/2, html.EscapeString(l.T("chart.empty")))
		return template.HTML(b.String())
	}
	var top int64
	for _, i := range idx {
		top = max(top, totals[i].CostNanos)
	}
	plotW := float64(w - labelW - valueW)
	for row, i := range idx {
		y := 4 + row*rowH
		name := keys[i][0]
		if name == "" {
			name = l.T("usagepage.none")
		}
		label := name
		if r := []rune(label); len(r) > 30 {
			label = string(r[:29]) + "…"
		}
		title := l.F("usagepage.barTooltip", name, groupDigits(totals[i].Requests), formatUSD(totals[i].CostNanos))
		fmt.Fprintf(&b, `<g class="c-bucket"><title>%s</title><rect class="c-hover" x="0" y="%d" width="%d" height="%d"/>`, html.EscapeString(title), y, w, rowH)
		fmt.Fprintf(&b, `<text class="c-axis" x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+rowH/2+4, html.EscapeString(label))
		bw := 0.0
		if top > 0 {
			bw = max(plotW*float64(totals[i].CostNanos)/float64(top), 1)
		}
		fmt.Fprintf(&b, `<rect class="c-bar" x="%d" y="%d" width="%.1f" height="%d"/>`, labelW, y+4, bw, rowH-8)
		fmt.Fprintf(&b, `<text class="c-axis c-axis-cost" x="%.1f" y="%d">%s</text></g>`, float64(labelW)+bw+6, y+rowH/2+4, html.EscapeString(formatUSD(totals[i].CostNanos)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// usageExport streams the usage events of the query's window and filter
// as a download: the REST export's parser and writer, under the console's
// session. An error before anything is written is an error page; one
// after cuts the download (the browser reports it failed), never ends it
// as if it were whole.
func (h *Handler) usageExport(c echo.Context) error {
	reports := h.usageReports()
	if reports == nil {
		return h.errorPage(c, http.StatusNotFound, "usagepage.off")
	}
	req, err := usagelog.ParseExportRequest(c.Request().URL.Query(), h.usageNow(), reports.Location())
	if err != nil {
		return h.errorDetail(c, http.StatusBadRequest, "error.badRequest", err.Error())
	}
	w := &lazyDownload{c: c, req: req, ctl: http.NewResponseController(c.Response().Writer)}
	defer w.done()
	start := time.Now()
	st, err := reports.Export(c.Request().Context(), req, w)
	if err != nil {
		if !w.started {
			return h.failed(c, err)
		}
		h.cfg.Logger.Warn().Err(err).Uint64("rows", st.Rows).Int64("bytes", st.Bytes).Msg("console: usage export cut")
		panic(http.ErrAbortHandler)
	}
	w.start() // an empty NDJSON export writes no byte
	h.cfg.Logger.Info().Uint64("rows", st.Rows).Int64("bytes", st.Bytes).Dur("took", time.Since(start)).Msg("console: usage export")
	return nil
}

// usageWriteTimeout bounds each write of a download to the browser, as the
// REST export's: the deadline moves with every write, so a long download
// on a good link is never cut, and a browser that stops reading is
// dropped.
const usageWriteTimeout = time.Minute

// lazyDownload sends the download's headers with its first bytes, so an
// export that fails before writing can still answer with an error page.
type lazyDownload struct {
	c       echo.Context
	ctl     *http.ResponseController
	req     usagelog.ExportRequest
	started bool
}

func (d *lazyDownload) start() {
	if d.started {
		return
	}
	d.started = true
	hd := d.c.Response().Header()
	hd.Set(echo.HeaderContentType, d.req.ContentType())
	hd.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": d.req.Filename()}))
	_ = d.ctl.SetWriteDeadline(time.Now().Add(usageWriteTimeout))
	d.c.Response().WriteHeader(http.StatusOK)
}

func (d *lazyDownload) Write(p []byte) (int, error) {
	d.start()
	_ = d.ctl.SetWriteDeadline(time.Now().Add(usageWriteTimeout))
	return d.c.Response().Write(p)
}

// done lifts the write deadline: the connection may serve another request.
func (d *lazyDownload) done() { _ = d.ctl.SetWriteDeadline(time.Time{}) }

// entityUsageLinks are a key's or account's usage download (its last 30
// days, as its page's chart) and its Usage page; none when the export is
// off.
func (h *Handler) entityUsageLinks(keyID, accountID string) (export, more string) {
	if h.usageReports() == nil {
		return "", ""
	}
	q := url.Values{"from": {fmt.Sprintf("%dd", entityDays)}}
	if keyID != "" {
		q.Set("keyId", keyID)
	}
	if accountID != "" {
		q.Set("accountId", accountID)
	}
	export = "/console/usage/export?" + q.Encode()
	q.Set("group", string(usagelog.DimDay))
	return export, "/console/usage?" + q.Encode()
}
