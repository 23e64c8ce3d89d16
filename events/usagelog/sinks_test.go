package usagelog_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/natstest"
	"relay/events/usagelog"
	"relay/projections/pricing"
)

// run replays everything into sink and closes it.
func run(t *testing.T, js jetstream.JetStream, q usagelog.Query, sink usagelog.Sink) {
	t.Helper()
	if _, err := usagelog.Replay(context.Background(), js, q, sink.Add); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNDJSONIsThePayloadsAsStored(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(50, 10))
	var out bytes.Buffer
	run(t, js, usagelog.Query{}, usagelog.NewEventSink(&out, usagelog.NDJSON))
	var want bytes.Buffer
	for _, s := range all {
		want.Write(s.data)
		want.WriteByte('\n')
	}
	if !bytes.Equal(out.Bytes(), want.Bytes()) {
		t.Fatalf("ndjson differs from the stored payloads:\n%.300s\nwant\n%.300s", out.Bytes(), want.Bytes())
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		var u events.Usage
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("line is not a usage event: %v", err)
		}
	}
}

func TestCSVParsesWithTheDocumentedColumns(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(60, 11))
	var out bytes.Buffer
	run(t, js, usagelog.Query{}, usagelog.NewEventSink(&out, usagelog.CSV))
	r := csv.NewReader(&out)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if !slices.Equal(rows[0], usagelog.CSVColumns) {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows)-1 != len(all) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(all))
	}
	col := func(row []string, name string) string { return row[slices.Index(usagelog.CSVColumns, name)] }
	for i, s := range all {
		row, u := rows[i+1], s.u
		checks := map[string]string{
			"id": u.ID, "time": u.Time.Format(time.RFC3339Nano), "keyId": u.KeyID, "accountId": u.AccountID,
			"platform": u.Platform, "model": u.Model, "upstreamModel": u.UpstreamModel, "outcome": u.Outcome,
			"reason": u.Reason, "stream": strconv.FormatBool(u.Stream), "status": strconv.Itoa(u.Status),
			"inputTokens": strconv.FormatInt(u.InputTokens, 10), "cacheCreate1hTokens": strconv.FormatInt(u.CacheCreate1hTokens, 10),
			"cost": pricing.FormatUSD(u.CostNanos), "costMicros": strconv.FormatInt(pricing.NanosToMicros(u.CostNanos), 10),
			"costNanos": strconv.FormatInt(u.CostNanos, 10),
			"priced":    strconv.FormatBool(u.Priced), "ttftMs": strconv.FormatInt(u.TTFTMs, 10),
			"seq": strconv.FormatUint(s.seq, 10), "recordedAt": s.at.UTC().Format(time.RFC3339Nano),
		}
		for name, want := range checks {
			if got := col(row, name); got != want {
				t.Fatalf("row %d %s = %q, want %q", i, name, got, want)
			}
		}
	}
}

// fold is the test's own aggregation over the published events.
func fold(all []stored, keep func(stored) bool, dims func(events.Usage) string) map[string]usagelog.Totals {
	out := map[string]usagelog.Totals{}
	for _, s := range all {
		if !keep(s) {
			continue
		}
		u, k := s.u, dims(s.u)
		t := out[k]
		if u.Outcome == events.OutcomeRefused {
			t.Refused++
		} else {
			t.Requests++
		}
		t.InputTokens += u.InputTokens
		t.OutputTokens += u.OutputTokens
		t.CacheCreateTokens += u.CacheCreateTokens
		t.CacheCreate1hTokens += u.CacheCreate1hTokens
		t.CacheReadTokens += u.CacheReadTokens
		t.ReasoningTokens += u.ReasoningTokens
		t.CostNanos += u.CostNanos
		out[k] = t
	}
	return out
}

func TestGroupByTotalsEqualAFold(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(300, 12))
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // time/tzdata is linked in: the zone is always there
	}
	cases := []struct {
		by   string
		loc  *time.Location
		q    usagelog.Query
		keep func(stored) bool
		key  func(events.Usage) string
	}{
		{"key", time.UTC, usagelog.Query{}, func(stored) bool { return true }, func(u events.Usage) string { return u.KeyID }},
		{"day,key", time.UTC, usagelog.Query{}, func(stored) bool { return true },
			func(u events.Usage) string { return u.Time.UTC().Format(time.DateOnly) + "|" + u.KeyID }},
		{"hour", time.UTC, usagelog.Query{}, func(stored) bool { return true },
			func(u events.Usage) string { return u.Time.UTC().Format("2006-01-02T15:00Z07:00") }},
		{"day", berlin, usagelog.Query{}, func(stored) bool { return true },
			func(u events.Usage) string { return u.Time.In(berlin).Format(time.DateOnly) }},
		{"hour,platform", berlin, usagelog.Query{}, func(stored) bool { return true },
			func(u events.Usage) string {
				return u.Time.In(berlin).Format("2006-01-02T15:00Z07:00") + "|" + u.Platform
			}},
		{"model,account", time.UTC, usagelog.Query{Filter: usagelog.Filter{Keys: []string{"k1"}}},
			func(s stored) bool { return s.u.KeyID == "k1" }, func(u events.Usage) string { return u.Model + "|" + u.AccountID }},
		{"platform,key,model", time.UTC, usagelog.Query{Until: all[150].at, Filter: usagelog.Filter{Outcomes: []string{events.OutcomeOK, events.OutcomeRefused}}},
			func(s stored) bool {
				return s.at.Before(all[150].at) && (s.u.Outcome == events.OutcomeOK || s.u.Outcome == events.OutcomeRefused)
			}, func(u events.Usage) string { return u.Platform + "|" + u.KeyID + "|" + u.Model }},
	}
	for _, tc := range cases {
		t.Run(tc.by+"/"+tc.loc.String(), func(t *testing.T) {
			dims, err := usagelog.ParseDims(tc.by)
			if err != nil {
				t.Fatal(err)
			}
			want := fold(all, tc.keep, tc.key)
			sink := usagelog.NewAggregateSink(&bytes.Buffer{}, usagelog.NDJSON, dims, tc.loc)
			run(t, js, tc.q, sink)
			keys, totals := sink.Groups()
			if len(keys) != len(want) {
				t.Fatalf("%d groups, want %d", len(keys), len(want))
			}
			for i, k := range keys {
				if w, ok := want[strings.Join(k, "|")]; !ok || w != totals[i] {
					t.Fatalf("group %v: %+v, want %+v", k, totals[i], w)
				}
			}
			if !slices.IsSortedFunc(keys, slices.Compare) {
				t.Fatal("groups not sorted")
			}
		})
	}
}

// The written aggregates carry the same numbers, as JSON and as CSV.
func TestGroupByOutput(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(80, 13))
	want := fold(all, func(stored) bool { return true }, func(u events.Usage) string { return u.KeyID })
	dims := []usagelog.Dim{usagelog.DimKey}

	var js1 bytes.Buffer
	run(t, js, usagelog.Query{}, usagelog.NewAggregateSink(&js1, usagelog.NDJSON, dims, time.UTC))
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(js1.String()), "\n") {
		var row struct {
			KeyID     string      `json:"keyId"`
			Requests  int64       `json:"requests"`
			Refused   int64       `json:"refused"`
			Input     int64       `json:"inputTokens"`
			Cost      json.Number `json:"cost"`
			CostNanos int64       `json:"costNanos"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		w := want[row.KeyID]
		if row.Requests != w.Requests || row.Refused != w.Refused || row.Input != w.InputTokens || row.CostNanos != w.CostNanos || string(row.Cost) != pricing.FormatUSD(w.CostNanos) {
			t.Fatalf("row %s, want %+v", line, w)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d rows, want %d", n, len(want))
	}

	var c bytes.Buffer
	run(t, js, usagelog.Query{}, usagelog.NewAggregateSink(&c, usagelog.CSV, dims, time.UTC))
	rows, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], append([]string{"keyId"}, usagelog.TotalsColumns...)) || len(rows) != len(want)+1 {
		t.Fatalf("csv header %v, %d rows", rows[0], len(rows))
	}
	for _, row := range rows[1:] {
		cost, nanos := row[1+slices.Index(usagelog.TotalsColumns, "cost")], row[1+slices.Index(usagelog.TotalsColumns, "costNanos")]
		if cost != pricing.FormatUSD(want[row[0]].CostNanos) || nanos != strconv.FormatInt(want[row[0]].CostNanos, 10) {
			t.Fatalf("row %v: cost, want %s", row, pricing.FormatUSD(want[row[0]].CostNanos))
		}
	}
}

func TestReprice(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(200, 14))
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	same, err := pricing.Load(write("same.json", `{"models":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Opus 4.6 at twice its list price, and the unknown model priced.
	changed, err := pricing.Load(write("changed.json", `{"models":{
		"claude-opus-4-6": {"input": 10, "output": 50, "cacheWrite5m": 12.5, "cacheWrite1h": 20, "cacheRead": 1, "family": "opus"},
		"mystery-model": {"input": 1, "output": 2, "cacheWrite5m": 1.25, "cacheWrite1h": 2, "cacheRead": 0.1}}}`))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same table: no difference", func(t *testing.T) {
		sink := usagelog.NewRepriceSink(&bytes.Buffer{}, usagelog.NDJSON, nil, time.UTC, pricer(same))
		run(t, js, usagelog.Query{}, sink)
		keys, rows := sink.Groups()
		if len(keys) != len(testKeys) {
			t.Fatalf("%d groups, want one per key", len(keys))
		}
		for i, r := range rows {
			if r.DifferenceNanos() != 0 || r.RecordedNanos != r.RecomputedNanos {
				t.Fatalf("key %v: %+v", keys[i], r)
			}
		}
		if tot := sink.Total(); tot.Events != int64(len(all)) || tot.DifferenceNanos() != 0 {
			t.Fatalf("total %+v", tot)
		}
	})

	t.Run("changed table: the exact difference", func(t *testing.T) {
		want := map[string]usagelog.Reprice{}
		for _, s := range all {
			u := s.u
			r := want[u.Model]
			r.Events++
			r.RecordedNanos += u.CostNanos
			model := u.UpstreamModel
			if model == "" {
				model = u.Model
			}
			cost, priced := changed.Cost(model, u.Tokens)
			if u.Outcome == events.OutcomeRefused || u.Outcome == events.OutcomeNoAccount {
				cost, priced = 0, true
			}
			r.RecomputedNanos += cost
			if !priced {
				r.Unpriced++
			}
			want[u.Model] = r
		}
		if want["claude-opus-4-6"].DifferenceNanos() <= 0 {
			t.Fatal("fixture has no opus cost to re-price")
		}
		var out bytes.Buffer
		sink := usagelog.NewRepriceSink(&out, usagelog.CSV, []usagelog.Dim{usagelog.DimModel}, time.UTC, pricer(changed))
		run(t, js, usagelog.Query{}, sink)
		keys, rows := sink.Groups()
		if len(keys) != len(want) {
			t.Fatalf("%d groups, want %d", len(keys), len(want))
		}
		for i, k := range keys {
			if rows[i] != want[k[0]] {
				t.Fatalf("model %s: %+v, want %+v", k[0], rows[i], want[k[0]])
			}
		}
		recs, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs[1:] {
			w := want[rec[0]]
			if rec[5] != pricing.FormatUSD(w.DifferenceNanos()) || rec[11] != strconv.FormatInt(w.DifferenceNanos(), 10) ||
				rec[8] != strconv.FormatInt(pricing.NanosToMicros(w.DifferenceNanos()), 10) {
				t.Fatalf("csv row %v, want difference %d", rec, w.DifferenceNanos())
			}
		}
	})
}
