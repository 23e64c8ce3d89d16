package usagelog_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/natstest"
	"relay/events/usagelog"
)

// replayed is what `relay replay --format f` writes for q: Replay into
// the event sink, closed.
func replayed(t *testing.T, js jetstream.JetStream, q usagelog.Query, f usagelog.Format) []byte {
	t.Helper()
	var out bytes.Buffer
	run(t, js, q, usagelog.NewEventSink(&out, f))
	return out.Bytes()
}

// An export is byte for byte what replay writes for the same window and
// filters, in both formats; its CSV parses with encoding/csv into the
// documented columns, one row per request.
func TestExportEqualsReplay(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(300, 31))
	at := func(i int) string { return all[i].at.Format(time.RFC3339Nano) }
	now := time.Now()
	cases := []struct {
		name  string
		query url.Values
	}{
		{"everything", url.Values{}},
		{"window", url.Values{"from": {at(40)}, "to": {at(250)}}},
		{"key list", url.Values{"keyId": {"k1,k3"}}},
		{"repeated key", url.Values{"keyId": {"k1", "k3"}, "to": {at(200)}}},
		{"account and model", url.Values{"accountId": {"a2"}, "model": {"claude-opus-4-6", "gpt-5"}}},
		{"platform and outcome", url.Values{"platform": {events.PlatformCodex}, "outcome": {"ok,upstream_error"}}},
		{"all filters", url.Values{"from": {at(10)}, "to": {at(290)}, "keyId": {"k1,k2,k4"}, "accountId": {"a1,"}, "model": {"claude-sonnet-4-5,mystery-model"},
			"platform": {events.PlatformClaudeConsole}, "outcome": {"ok", "refused", "no_account"}}},
		{"empty window", url.Values{"from": {all[299].at.Add(time.Hour).Format(time.RFC3339Nano)}}},
	}
	for _, tc := range cases {
		for _, f := range []usagelog.Format{usagelog.CSV, usagelog.NDJSON} {
			t.Run(tc.name+"/"+string(f), func(t *testing.T) {
				v := url.Values{"format": {string(f)}}
				for k, vs := range tc.query {
					v[k] = vs
				}
				r, err := usagelog.ParseExportRequest(v, now, time.UTC)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				st, err := usagelog.Export(context.Background(), js, r, &out)
				if err != nil {
					t.Fatal(err)
				}
				want := replayed(t, js, usagelog.Query{Since: r.From, Until: r.To, Filter: r.Filter}, f)
				if !bytes.Equal(out.Bytes(), want) {
					t.Fatalf("export differs from replay:\n%.400s\nwant\n%.400s", out.Bytes(), want)
				}
				if st.Bytes != int64(out.Len()) {
					t.Fatalf("stats say %d bytes, wrote %d", st.Bytes, out.Len())
				}
				if f == usagelog.NDJSON {
					if n := bytes.Count(out.Bytes(), []byte("\n")); uint64(n) != st.Rows || st.Rows != st.Matched {
						t.Fatalf("%d lines, stats rows %d matched %d", n, st.Rows, st.Matched)
					}
					return
				}
				recs, err := csv.NewReader(&out).ReadAll()
				if err != nil {
					t.Fatalf("CSV does not parse: %v", err)
				}
				if !slices.Equal(recs[0], usagelog.CSVColumns) || uint64(len(recs)-1) != st.Rows {
					t.Fatalf("header %v, %d rows, stats rows %d", recs[0], len(recs)-1, st.Rows)
				}
				for _, rec := range recs[1:] {
					if len(rec) != len(usagelog.CSVColumns) {
						t.Fatalf("row of %d fields: %v", len(rec), rec)
					}
				}
			})
		}
	}
	// The filters select what a fold over the published events does.
	r, _ := usagelog.ParseExportRequest(url.Values{"keyId": {"k2"}, "outcome": {"refused"}}, now, time.UTC)
	var out bytes.Buffer
	if _, err := usagelog.Export(context.Background(), js, r, &out); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range all {
		if s.u.KeyID == "k2" && s.u.Outcome == events.OutcomeRefused {
			want = append(want, s.u.ID)
		}
	}
	var got []string
	for _, rec := range recs[1:] {
		got = append(got, rec[0])
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v", got, want)
	}
}

func TestParseExportRequest(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	good := []struct {
		query string
		want  usagelog.ExportRequest
	}{
		{"", usagelog.ExportRequest{Format: usagelog.CSV}},
		{"format=ndjson&from=24h", usagelog.ExportRequest{Format: usagelog.NDJSON, From: now.Add(-24 * time.Hour)}},
		{"from=2026-05-01&to=2026-05-02T06:00:00Z", usagelog.ExportRequest{Format: usagelog.CSV,
			From: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 5, 2, 6, 0, 0, 0, time.UTC)}},
		{"keyId=a,b&keyId=c&keyId=a&model=claude-opus-4-6&platform=codex&outcome=ok,refused&accountId=x", usagelog.ExportRequest{Format: usagelog.CSV,
			Filter: usagelog.Filter{Keys: []string{"a", "b", "c"}, Models: []string{"claude-opus-4-6"}, Platforms: []string{"codex"},
				Outcomes: []string{"ok", "refused"}, Accounts: []string{"x"}}}},
		{"keyId=&model=+", usagelog.ExportRequest{Format: usagelog.CSV}},
	}
	for _, tc := range good {
		v, _ := url.ParseQuery(tc.query)
		got, err := usagelog.ParseExportRequest(v, now, time.UTC)
		if err != nil || !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) || got.Format != tc.want.Format ||
			!slices.Equal(got.Filter.Keys, tc.want.Filter.Keys) || !slices.Equal(got.Filter.Models, tc.want.Filter.Models) ||
			!slices.Equal(got.Filter.Platforms, tc.want.Filter.Platforms) || !slices.Equal(got.Filter.Outcomes, tc.want.Filter.Outcomes) ||
			!slices.Equal(got.Filter.Accounts, tc.want.Filter.Accounts) {
			t.Errorf("%q: %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
	many := url.Values{"keyId": {strings.Repeat("k,", usagelog.MaxFilterValues) + "last"}}
	bad := []struct {
		query  url.Values
		params []string
	}{
		{url.Values{"format": {"xml"}}, []string{"format"}},
		{url.Values{"from": {"yesterday"}}, []string{"from"}},
		{url.Values{"to": {"-3h"}}, []string{"to"}},
		{url.Values{"from": {"2026-05-02"}, "to": {"2026-05-01"}}, []string{"to"}},
		{url.Values{"platform": {"gemini"}}, []string{"platform"}},
		{url.Values{"outcome": {"ok,fine"}}, []string{"outcome"}},
		{url.Values{"key": {"k1"}}, []string{"key"}},
		{many, nil}, // deduplicated: 2 values
		{url.Values{"keyId": {func() string {
			var b strings.Builder
			for i := range usagelog.MaxFilterValues + 1 {
				b.WriteString("k" + strconv.Itoa(i) + ",")
			}
			return b.String()
		}()}}, []string{"keyId"}},
		{url.Values{"format": {"json"}, "since": {"1h"}, "outcome": {"x"}}, []string{"since", "outcome", "format"}},
	}
	for _, tc := range bad {
		_, err := usagelog.ParseExportRequest(tc.query, now, time.UTC)
		var params []string
		for _, e := range unjoin(err) {
			var pe *usagelog.ParamError
			if !errors.As(e, &pe) || pe.Message == "" {
				t.Fatalf("%v: error %v is no ParamError", tc.query, e)
			}
			params = append(params, pe.Param)
		}
		if !slices.Equal(params, tc.params) {
			t.Errorf("%v: bad params %v (%v), want %v", tc.query, params, err, tc.params)
		}
	}
}

// unjoin returns the errors errors.Join put together (nil for nil).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

func TestExportRequestDownloadNames(t *testing.T) {
	r := usagelog.ExportRequest{Format: usagelog.CSV, From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))}
	if got := r.Filename(); got != "usage-20261031T230000Z-now.csv" {
		t.Errorf("filename %q", got)
	}
	if r.ContentType() != "text/csv; charset=utf-8" {
		t.Errorf("content type %q", r.ContentType())
	}
	r = usagelog.ExportRequest{Format: usagelog.NDJSON, To: time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)}
	if got := r.Filename(); got != "usage-start-20261102T030405Z.ndjson" || r.ContentType() != "application/x-ndjson" {
		t.Errorf("filename %q, content type %q", got, r.ContentType())
	}
}

// An export that cannot start (no USAGE stream here) writes nothing, so
// the caller can still answer with an error status; one whose writer
// fails reports the writer's error.
func TestExportErrors(t *testing.T) {
	t.Run("before the first byte", func(t *testing.T) {
		srv := natstest.Start(t)
		_, js := srv.Connect(t)
		ctx := context.Background()
		if err := js.DeleteStream(ctx, events.StreamUsage); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := usagelog.Export(ctx, js, usagelog.ExportRequest{Format: usagelog.CSV}, &out)
		if err == nil || out.Len() != 0 || st.Bytes != 0 {
			t.Fatalf("err %v, wrote %d bytes (stats %d)", err, out.Len(), st.Bytes)
		}
	})
	t.Run("writer fails", func(t *testing.T) {
		srv := natstest.Start(t)
		_, js := srv.Connect(t)
		publish(t, js, fixture(2000, 32)) // more than the sink's buffer
		broken := errors.New("client went away")
		_, err := usagelog.Export(context.Background(), js, usagelog.ExportRequest{Format: usagelog.NDJSON}, failingWriter{broken})
		if !errors.Is(err, broken) {
			t.Fatalf("err %v, want the writer's", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := natstest.Start(t)
		_, js := srv.Connect(t)
		publish(t, js, fixture(20, 33))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := usagelog.Export(ctx, js, usagelog.ExportRequest{Format: usagelog.CSV}, io.Discard); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// Aggregate is `relay replay --group-by` for an export's window and
// filter: the totals of a fold over the matching events, per group.
func TestAggregateEqualsAFold(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(200, 34))
	r, err := usagelog.ParseExportRequest(url.Values{"from": {all[20].at.Format(time.RFC3339Nano)}, "to": {all[180].at.Format(time.RFC3339Nano)},
		"outcome": {"ok,refused"}}, time.Now(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	keys, totals, st, err := usagelog.Aggregate(context.Background(), js, r, []usagelog.Dim{usagelog.DimDay, usagelog.DimModel}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	want := fold(all, func(s stored) bool {
		return !s.at.Before(all[20].at) && s.at.Before(all[180].at) && (s.u.Outcome == events.OutcomeOK || s.u.Outcome == events.OutcomeRefused)
	}, func(u events.Usage) string { return u.Time.UTC().Format(time.DateOnly) + "|" + u.Model })
	if len(keys) != len(want) || len(totals) != len(keys) || st.Matched == 0 {
		t.Fatalf("%d groups (%d totals, %d events), want %d", len(keys), len(totals), st.Matched, len(want))
	}
	for i, k := range keys {
		if w, ok := want[strings.Join(k, "|")]; !ok || w != totals[i] {
			t.Fatalf("group %v: %+v, want %+v", k, totals[i], w)
		}
	}
}

// The live feed takes the export's filters and nothing else.
func TestParseLiveFilter(t *testing.T) {
	f, err := usagelog.ParseLiveFilter(url.Values{"keyId": {"a,b"}, "outcome": {"ok"}, "platform": {"codex"}, "model": {"m"}, "accountId": {"x", "y"}})
	if err != nil || !slices.Equal(f.Keys, []string{"a", "b"}) || !slices.Equal(f.Outcomes, []string{"ok"}) ||
		!slices.Equal(f.Platforms, []string{"codex"}) || !slices.Equal(f.Models, []string{"m"}) || !slices.Equal(f.Accounts, []string{"x", "y"}) {
		t.Fatalf("%+v %v", f, err)
	}
	_, err = usagelog.ParseLiveFilter(url.Values{"from": {"1h"}, "format": {"csv"}, "outcome": {"nope"}})
	var params []string
	for _, e := range unjoin(err) {
		var pe *usagelog.ParamError
		if !errors.As(e, &pe) {
			t.Fatalf("error %v is no ParamError", e)
		}
		params = append(params, pe.Param)
	}
	if !slices.Equal(params, []string{"format", "from", "outcome"}) {
		t.Fatalf("bad params %v (%v)", params, err)
	}
}
