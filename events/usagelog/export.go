package usagelog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// ExportRequest is one usage export (GET /api/v2/usage/export): a window
// of the ledger, a filter and a format. Parse it from a URL query with
// ParseExportRequest.
type ExportRequest struct {
	// From and To bound the window [From, To) on the time USAGE stored
	// each event, as `relay replay --since/--until` do; zero is open.
	From, To time.Time
	Filter   Filter
	Format   Format
}

// ExportStats are a finished (or cut) export's totals.
type ExportStats struct {
	Stats
	// Rows counts the rows (CSV) or lines (NDJSON) written, header aside.
	Rows uint64
	// Bytes counts the bytes handed to the writer.
	Bytes int64
}

// Platforms and Outcomes are the values the platform and outcome filters
// accept.
var (
	Platforms = []string{events.PlatformClaudeConsole, events.PlatformCodex}
	Outcomes  = []string{events.OutcomeOK, events.OutcomeUpstreamError, events.OutcomeClientClosed, events.OutcomeRefused, events.OutcomeTimeout, events.OutcomeNoAccount}
)

// ExportParams are the query parameters ParseExportRequest reads; any
// other is refused, so a misspelt filter never silently exports
// everything.
var ExportParams = []string{"from", "to", "keyId", "accountId", "model", "platform", "outcome", "format"}

// MaxFilterValues bounds each filter list of an export.
const MaxFilterValues = 100

// ParamError is a bad query parameter: which one, and what is wrong with
// it (a sentence for the API's error answer).
type ParamError struct {
	Param, Message string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Message }

// ParseExportRequest reads an export's query parameters:
//
//	from, to   RFC 3339 time, date (midnight in loc) or duration ago (24h,
//	           7d), as relay replay's --since and --until
//	keyId, accountId, model, platform, outcome
//	           keep matching events: comma lists, or the parameter
//	           repeated (at most MaxFilterValues values each)
//	format     csv (default) or ndjson
//
// It returns every bad parameter at once, each a *ParamError (errors.As
// finds the first; errors.Join wraps them).
func ParseExportRequest(q url.Values, now time.Time, loc *time.Location) (ExportRequest, error) {
	r := ExportRequest{Format: CSV}
	if loc == nil {
		loc = time.UTC
	}
	errs := unknownParams(q, ExportParams)
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"from", &r.From}, {"to", &r.To}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		t, err := ParseTime(v, now, loc)
		if err != nil {
			errs = append(errs, paramError(p.name, "%v", err))
			continue
		}
		*p.into = t
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.To.After(r.From) {
		errs = append(errs, paramError("to", "%s is not after from %s", r.To.Format(time.RFC3339Nano), r.From.Format(time.RFC3339Nano)))
	}
	errs = append(errs, parseFilter(q, &r.Filter)...)
	if v := strings.TrimSpace(q.Get("format")); v != "" {
		f, err := ParseFormat(v)
		if err != nil {
			errs = append(errs, paramError("format", "%v", err))
		}
		r.Format = f
	}
	return r, errors.Join(errs...)
}

// LiveParams are the query parameters ParseLiveFilter reads.
var LiveParams = []string{"keyId", "accountId", "model", "platform", "outcome"}

// ParseLiveFilter reads the query parameters of the live feed (GET
// /api/v2/usage/live): the filters of an export, nothing else. Errors are
// as ParseExportRequest's.
func ParseLiveFilter(q url.Values) (Filter, error) {
	var f Filter
	errs := unknownParams(q, LiveParams)
	errs = append(errs, parseFilter(q, &f)...)
	return f, errors.Join(errs...)
}

func paramError(param, format string, args ...any) error {
	return &ParamError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// unknownParams refuses every parameter of q not in known, sorted.
func unknownParams(q url.Values, known []string) []error {
	var unknown []string
	for k := range q {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	var errs []error
	for _, k := range unknown {
		errs = append(errs, paramError(k, "unknown parameter: want %s", strings.Join(known, ", ")))
	}
	return errs
}

// parseFilter reads the filter parameters of q into f: comma lists or
// repeated parameters, duplicates dropped, at most MaxFilterValues each,
// platforms and outcomes among the known ones.
func parseFilter(q url.Values, f *Filter) []error {
	var errs []error
	list := func(name string, into *[]string, allowed []string) {
		for _, v := range q[name] {
			for part := range strings.SplitSeq(v, ",") {
				if part = strings.TrimSpace(part); part != "" && !slices.Contains(*into, part) {
					*into = append(*into, part)
				}
			}
		}
		if len(*into) > MaxFilterValues {
			errs = append(errs, paramError(name, "%d values: at most %d", len(*into), MaxFilterValues))
			return
		}
		for _, v := range *into {
			if allowed != nil && !slices.Contains(allowed, v) {
				errs = append(errs, paramError(name, "unknown %s %q: want one of %s", name, v, strings.Join(allowed, ", ")))
				return
			}
		}
	}
	list("keyId", &f.Keys, nil)
	list("accountId", &f.Accounts, nil)
	list("model", &f.Models, nil)
	list("platform", &f.Platforms, Platforms)
	list("outcome", &f.Outcomes, Outcomes)
	return errs
}

// ContentType is the media type of the export's body.
func (r ExportRequest) ContentType() string {
	if r.Format == NDJSON {
		return "application/x-ndjson"
	}
	return "text/csv; charset=utf-8"
}

// Filename names the download: usage-<from>-<to>.<csv|ndjson>, the bounds
// in UTC to the second ("start" and "now" for open ones).
func (r ExportRequest) Filename() string {
	bound := func(t time.Time, open string) string {
		if t.IsZero() {
			return open
		}
		return t.UTC().Format("20060102T150405Z")
	}
	return "usage-" + bound(r.From, "start") + "-" + bound(r.To, "now") + "." + string(r.Format)
}

// Export streams the usage events of r's window that pass r's filter from
// USAGE to w, in r's format: exactly what `relay replay --format F` writes
// for the same window and filters (NDJSON: the payloads as stored; CSV: a
// header of CSVColumns and a row per request). One ordered consumer reads
// from the window's start (found by the server) and stops at To or at the
// stream's last sequence when the export began, whichever comes first;
// rows are written as they are read, through one 256 KiB buffer, so memory
// stays flat whatever the window.
//
// The JetStream handle should be the analyst's (read-only) connection.
//
// Nothing reaches w before the stream has been found and the consumer
// created: an error from that (NATS unreachable, no USAGE, not allowed)
// leaves w untouched (Bytes 0) and the caller may still answer with an
// error status. An error after (ctx cancelled, w failing, NATS lost)
// leaves what was already written, a truncated export: an HTTP handler
// must abort the response (http.ErrAbortHandler), never end it cleanly.
func Export(ctx context.Context, js jetstream.JetStream, r ExportRequest, w io.Writer) (ExportStats, error) {
	var st ExportStats
	cw := &countingWriter{w: w}
	sink := NewEventSink(cw, r.Format)
	add := sink.Add
	if r.Format == CSV {
		add = func(e *Event) error {
			if !e.Counted { // counts of refusals have no CSV row
				st.Rows++
			}
			return sink.Add(e)
		}
	} else {
		add = func(e *Event) error { st.Rows++; return sink.Add(e) }
	}
	var err error
	st.Stats, err = Replay(ctx, js, Query{Since: r.From, Until: r.To, Filter: r.Filter, Batch: exportBatch}, add)
	if err == nil {
		err = sink.Close()
	}
	st.Bytes = cw.n
	return st, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var _ io.Writer = (*countingWriter)(nil)

// exportBatch is an export's pull batch, an eighth of a replay's: an
// export runs inside the edge, next to the traffic it serves, and a
// smaller pull halves its heap (about 5 MB at the peak, against 14 MB with
// 4096) at the same speed.
const exportBatch = 512

// Aggregate folds the events of r's window and filter (r.Format aside)
// into one Totals per group of dims, as `relay replay --group-by` does, and
// returns the groups' dimension values (in the order of dims) and totals,
// sorted: the table of a usage page grouped by day, hour, key, account or
// model. Memory grows with the number of groups, never with the events.
// Day and hour buckets are in loc (nil: UTC).
func Aggregate(ctx context.Context, js jetstream.JetStream, r ExportRequest, dims []Dim, loc *time.Location) ([][]string, []Totals, Stats, error) {
	sink := NewAggregateSink(io.Discard, NDJSON, dims, loc)
	st, err := Replay(ctx, js, Query{Since: r.From, Until: r.To, Filter: r.Filter, Batch: exportBatch}, sink.Add)
	if err != nil {
		return nil, nil, st, err
	}
	keys, totals := sink.Groups()
	return keys, totals, st, nil
}
