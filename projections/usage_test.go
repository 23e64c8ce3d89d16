package projections_test

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed

	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

func usageZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Buckets in zones with half-hour offsets and across both DST changes.
func TestBuckets(t *testing.T) {
	kolkata, newYork, berlin := usageZone(t, "Asia/Kolkata"), usageZone(t, "America/New_York"), usageZone(t, "Europe/Berlin")
	tests := []struct {
		name  string
		at    string
		loc   *time.Location
		g     projections.Granularity
		label string
		start string // RFC 3339 in UTC
		next  string
	}{
		{"kolkata last second of March", "2026-03-31T18:29:59.999Z", kolkata, projections.GranDay, "2026-03-31", "2026-03-30T18:30:00Z", "2026-03-31T18:30:00Z"},
		{"kolkata first instant of April", "2026-03-31T18:30:00Z", kolkata, projections.GranDay, "2026-04-01", "2026-03-31T18:30:00Z", "2026-04-01T18:30:00Z"},
		{"kolkata month turns at 18:30 UTC", "2026-03-31T18:30:00Z", kolkata, projections.GranMonth, "2026-04", "2026-03-31T18:30:00Z", "2026-04-30T18:30:00Z"},
		{"kolkata month before", "2026-03-31T18:29:59Z", kolkata, projections.GranMonth, "2026-03", "2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z"},
		{"kolkata hour starts at :30 UTC", "2026-03-31T18:29:59Z", kolkata, projections.GranHour, "2026-03-31T23+0530", "2026-03-31T17:30:00Z", "2026-03-31T18:30:00Z"},
		{"kolkata week of a Wednesday", "2026-04-01T00:00:00Z", kolkata, projections.GranWeek, "2026-03-30", "2026-03-29T18:30:00Z", "2026-04-05T18:30:00Z"},
		{"kolkata Sunday night is the week before", "2026-03-29T18:29:59Z", kolkata, projections.GranWeek, "2026-03-23", "2026-03-22T18:30:00Z", "2026-03-29T18:30:00Z"},
		{"kolkata Monday 00:00 starts a week", "2026-03-29T18:30:00Z", kolkata, projections.GranWeek, "2026-03-30", "2026-03-29T18:30:00Z", "2026-04-05T18:30:00Z"},

		{"new york last EST hour", "2026-03-08T06:59:59Z", newYork, projections.GranHour, "2026-03-08T01-0500", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"},
		{"new york first EDT hour", "2026-03-08T07:00:00Z", newYork, projections.GranHour, "2026-03-08T03-0400", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
		{"new york spring day has 23 hours", "2026-03-08T12:00:00Z", newYork, projections.GranDay, "2026-03-08", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"},
		{"new york first 01:00 of fall back", "2026-11-01T05:30:00Z", newYork, projections.GranHour, "2026-11-01T01-0400", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"},
		{"new york second 01:00 of fall back", "2026-11-01T06:30:00Z", newYork, projections.GranHour, "2026-11-01T01-0500", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"},
		{"new york fall day has 25 hours", "2026-11-01T12:00:00Z", newYork, projections.GranDay, "2026-11-01", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"},
		{"new york week across spring forward", "2026-03-09T03:59:59Z", newYork, projections.GranWeek, "2026-03-02", "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z"},
		{"new york week starts Monday after the change", "2026-03-09T04:00:00Z", newYork, projections.GranWeek, "2026-03-09", "2026-03-09T04:00:00Z", "2026-03-16T04:00:00Z"},

		{"berlin October has 31 days and 745 hours", "2026-10-15T00:00:00Z", berlin, projections.GranMonth, "2026-10", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		{"berlin day of the change", "2026-03-29T00:30:00Z", berlin, projections.GranDay, "2026-03-29", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"},

		{"utc minute", "2026-03-08T06:59:59.5Z", time.UTC, projections.GranMinute, fmt.Sprint(ts("2026-03-08T06:59:00Z").Unix() / 60), "2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z"},
		{"second", "2026-03-08T06:59:59.5Z", newYork, projections.GranSecond, fmt.Sprint(ts("2026-03-08T06:59:59Z").Unix()), "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := ts(tc.at)
			if got := projections.BucketLabel(tc.g, at, tc.loc); got != tc.label {
				t.Errorf("label %q, want %q", got, tc.label)
			}
			start := projections.BucketStart(tc.g, at, tc.loc)
			if !start.Equal(ts(tc.start)) {
				t.Errorf("start %v, want %s", start.UTC(), tc.start)
			}
			if next := projections.NextBucket(tc.g, start, tc.loc); !next.Equal(ts(tc.next)) {
				t.Errorf("next %v, want %s", next.UTC(), tc.next)
			}
			// Every instant of the bucket has the bucket's label.
			if got := projections.BucketLabel(tc.g, start, tc.loc); got != tc.label {
				t.Errorf("label of the start %q, want %q", got, tc.label)
			}
			if got := projections.BucketLabel(tc.g, ts(tc.next).Add(-time.Nanosecond), tc.loc); got != tc.label {
				t.Errorf("label of the last instant %q, want %q", got, tc.label)
			}
		})
	}
}

// Walking hour buckets across a DST day visits every instant once: 23
// distinct hours in spring, 25 in autumn.
func TestHourWalkAcrossDST(t *testing.T) {
	newYork := usageZone(t, "America/New_York")
	for _, tc := range []struct {
		day   string
		hours int
	}{{"2026-03-08", 23}, {"2026-11-01", 25}, {"2026-06-01", 24}} {
		d, _ := time.ParseInLocation(time.DateOnly, tc.day, newYork)
		end := projections.NextBucket(projections.GranDay, d, newYork)
		labels := map[string]bool{}
		n := 0
		for h := projections.BucketStart(projections.GranHour, d, newYork); h.Before(end); h = projections.NextBucket(projections.GranHour, h, newYork) {
			labels[projections.BucketLabel(projections.GranHour, h, newYork)] = true
			n++
		}
		if n != tc.hours || len(labels) != tc.hours {
			t.Errorf("%s: %d hours, %d labels, want %d", tc.day, n, len(labels), tc.hours)
		}
	}
}

func TestBucketExpiry(t *testing.T) {
	newYork := usageZone(t, "America/New_York")
	at := ts("2026-03-08T12:34:56Z") // 08:34:56 EDT
	tests := []struct {
		g    projections.Granularity
		want time.Time
	}{
		{projections.GranSecond, ts("2026-03-08T12:34:57Z").Add(projections.SecondRetention)},
		{projections.GranHour, ts("2026-03-08T13:00:00Z").Add(projections.HourlyRetention)},
		{projections.GranDay, time.Date(2026, 3, 9+projections.DailyDays, 0, 0, 0, 0, newYork)},
		{projections.GranWeek, ts("2026-03-09T04:00:00Z").Add(projections.WeeklyRetention)},
		{projections.GranMonth, time.Time{}},
		{projections.GranAll, time.Time{}},
	}
	for _, tc := range tests {
		if got := projections.BucketExpiry(tc.g, at, newYork); !got.Equal(tc.want) {
			t.Errorf("%s: expiry %v, want %v", tc.g, got, tc.want)
		}
	}
}

// fold sums deltas per counter the way store applies them: sums add, max
// and min keep the extreme.
type usageKey struct {
	dim       projections.Dimension
	id, label string
	gran      projections.Granularity
	field     string
}

func foldDeltas(into map[usageKey]int64, ds []projections.Delta) {
	for _, d := range ds {
		k := usageKey{d.Dim, d.ID, d.Label, d.Gran, d.Field}
		cur, seen := into[k]
		switch d.Agg {
		case projections.AggMax:
			if !seen || d.Amount > cur {
				into[k] = d.Amount
			}
		case projections.AggMin:
			if !seen || d.Amount < cur {
				into[k] = d.Amount
			}
		default:
			into[k] = cur + d.Amount
		}
	}
}

func sumCounters(m map[usageKey]int64, dim projections.Dimension, id string, g projections.Granularity, label string) projections.UsageCounters {
	var c projections.UsageCounters
	for k, v := range m {
		if k.dim == dim && k.id == id && k.gran == g && k.label == label {
			c.Add(k.field, v)
		}
	}
	return c
}

var usageT0 = ts("2026-03-10T10:15:30Z")

func mkUsage(mod func(*events.Usage)) events.Usage {
	u := events.Usage{
		ID: "r1", Time: usageT0, KeyID: "k1", AccountID: "a1", Platform: events.PlatformClaudeConsole,
		Model: "claude-sonnet-4-5-20250929", Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
		Tokens:    events.Tokens{InputTokens: 100, OutputTokens: 50, CacheCreateTokens: 30, CacheCreate1hTokens: 10, CacheReadTokens: 400, ReasoningTokens: 5},
		CostNanos: 1234, Priced: true, TTFTMs: 300,
	}
	if mod != nil {
		mod(&u)
	}
	return u
}

func TestUsageDeltasCounters(t *testing.T) {
	tok := projections.UsageCounters{InputTokens: 100, OutputTokens: 50, CacheCreateTokens: 30, CacheCreate1hTokens: 10, CacheReadTokens: 400, ReasoningTokens: 5, CostNanos: 1234}
	with := func(c projections.UsageCounters, mod func(*projections.UsageCounters)) projections.UsageCounters {
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		u    events.Usage
		want projections.UsageCounters
	}{
		{"ok", mkUsage(nil), with(tok, func(c *projections.UsageCounters) { c.Requests, c.TTFTSumMs, c.TTFTCount = 1, 300, 1 })},
		{"refused counts apart", mkUsage(func(u *events.Usage) {
			u.Outcome, u.Status, u.Tokens, u.CostNanos, u.Priced, u.TTFTMs = events.OutcomeRefused, 429, events.Tokens{}, 0, false, 0
		}), projections.UsageCounters{Refused: 1}},
		{"upstream error", mkUsage(func(u *events.Usage) {
			u.Outcome, u.Status, u.Tokens, u.CostNanos, u.TTFTMs = events.OutcomeUpstreamError, 529, events.Tokens{}, 0, 0
		}), projections.UsageCounters{Requests: 1, Errors: 1}},
		{"client closed with 200 is an error", mkUsage(func(u *events.Usage) { u.Outcome = events.OutcomeClientClosed }),
			with(tok, func(c *projections.UsageCounters) { c.Requests, c.Errors, c.TTFTSumMs, c.TTFTCount = 1, 1, 300, 1 })},
		{"ok with status 400 is an error", mkUsage(func(u *events.Usage) { u.Status, u.TTFTMs = 400, 0 }),
			with(tok, func(c *projections.UsageCounters) { c.Requests, c.Errors = 1, 1 })},
		{"unpriced", mkUsage(func(u *events.Usage) { u.Model, u.Priced, u.CostNanos, u.TTFTMs = "gpt-6.1-sol", false, 0, 0 }),
			with(tok, func(c *projections.UsageCounters) { c.Requests, c.Unpriced, c.CostNanos = 1, 1, 0 })},
		// An event recorded before costs were kept to the nano-dollar has
		// costMicros only: it folds to the same total as it always did.
		{"recorded in micro-dollars", mkUsage(func(u *events.Usage) { u.CostNanos, u.CostMicros = 0, 1234 }),
			with(tok, func(c *projections.UsageCounters) {
				c.Requests, c.TTFTSumMs, c.TTFTCount, c.CostNanos = 1, 300, 1, 1_234_000
			})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[usageKey]int64{}
			foldDeltas(m, projections.UsageDeltas(tc.u, projections.UsageOptions{}))
			model := projections.StatsModel(tc.u.Model)
			for _, target := range []struct {
				dim projections.Dimension
				id  string
			}{
				{projections.DimAll, ""}, {projections.DimKey, "k1"}, {projections.DimAccount, "a1"},
				{projections.DimModel, model}, {projections.DimPlatform, tc.u.Platform},
				{projections.DimKeyModel, projections.PairID("k1", model)}, {projections.DimAccountModel, projections.PairID("a1", model)},
			} {
				for _, g := range projections.StatsGrans {
					label := projections.BucketLabel(g, usageT0, time.UTC)
					want := tc.want
					if !projections.HasBuckets(target.dim, g) {
						want = projections.UsageCounters{}
					}
					if got := sumCounters(m, target.dim, target.id, g, label); got != want {
						t.Errorf("%s %q %s: %+v\nwant %+v", target.dim, target.id, g, got, want)
					}
				}
			}
			if got := m[usageKey{projections.DimKey, "k1", "", projections.GranAll, projections.FieldLastUsedAt}]; got != usageT0.UnixMilli() {
				t.Errorf("lastUsedAt %d", got)
			}
		})
	}
}

func TestUsageDeltasSpend(t *testing.T) {
	tab := pricing.Builtin()
	opts := projections.UsageOptions{IsOpus: tab.IsOpus}
	minute := projections.BucketLabel(projections.GranMinute, usageT0, time.UTC)
	week := projections.BucketLabel(projections.GranWeek, usageT0, time.UTC)
	tests := []struct {
		name      string
		u         events.Usage
		opts      projections.UsageOptions
		week      int64
		opus      int64
		keyMinute int64
	}{
		{"sonnet is not opus", mkUsage(nil), opts, 1234, 0, 1234},
		{"opus", mkUsage(func(u *events.Usage) { u.Model = "claude-opus-4-5-20251101" }), opts, 1234, 1234, 1234},
		{"opus upstream of an alias", mkUsage(func(u *events.Usage) { u.Model, u.UpstreamModel = "my-alias", "claude-opus-5-5" }), opts, 1234, 1234, 1234},
		{"unknown opus id still counts", mkUsage(func(u *events.Usage) { u.Model = "Claude-OPUS-9" }), opts, 1234, 1234, 1234},
		{"no opus test", mkUsage(func(u *events.Usage) { u.Model = "claude-opus-5-5" }), projections.UsageOptions{}, 1234, 0, 1234},
		{"free request spends nothing", mkUsage(func(u *events.Usage) { u.CostNanos = 0 }), opts, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[usageKey]int64{}
			foldDeltas(m, projections.UsageDeltas(tc.u, tc.opts))
			if got := m[usageKey{projections.DimKey, "k1", week, projections.GranWeek, projections.FieldCostNanos}]; got != tc.week {
				t.Errorf("week cost %d, want %d", got, tc.week)
			}
			if got := m[usageKey{projections.DimKey, "k1", week, projections.GranWeek, projections.FieldOpusCostNanos}]; got != tc.opus {
				t.Errorf("week opus cost %d, want %d", got, tc.opus)
			}
			if got := m[usageKey{projections.DimKey, "k1", minute, projections.GranMinute, projections.FieldCostNanos}]; got != tc.keyMinute {
				t.Errorf("key minute cost %d, want %d", got, tc.keyMinute)
			}
			if got := m[usageKey{projections.DimAccount, "a1", minute, projections.GranMinute, projections.FieldCostNanos}]; got != tc.keyMinute {
				t.Errorf("account minute cost %d, want %d", got, tc.keyMinute)
			}
		})
	}
}

func TestUsageDeltasEdgeCases(t *testing.T) {
	long := strings.Repeat("m", 1000)
	ds := projections.UsageDeltas(mkUsage(func(u *events.Usage) { u.AccountID, u.Model, u.Platform = "", long, "" }), projections.UsageOptions{})
	for _, d := range ds {
		if d.Dim == projections.DimAccount || d.Dim == projections.DimAccountModel {
			t.Fatalf("account counter without an account: %+v", d)
		}
		if d.Dim == projections.DimModel && d.ID != long[:projections.MaxModelLen] {
			t.Fatalf("model id %d bytes", len(d.ID))
		}
		if d.Dim == projections.DimPlatform && d.ID != "unknown" {
			t.Fatalf("platform %q", d.ID)
		}
		if d.Amount == 0 {
			t.Fatalf("zero delta %+v", d)
		}
	}
	if got := projections.StatsModel(""); got != "unknown" {
		t.Fatalf("StatsModel(\"\") = %q", got)
	}
	if id, model := projections.SplitPairID(projections.PairID("k1", "a:b")); id != "k1" || model != "a:b" {
		t.Fatalf("SplitPairID = %q %q", id, model)
	}
	codex := mkUsage(func(u *events.Usage) { u.Platform = events.PlatformCodex })
	if got := projections.TotalTokens(codex); got != 100+50+30 {
		t.Fatalf("codex total tokens %d: cache reads are inside input", got)
	}
	if got := projections.TotalTokens(mkUsage(nil)); got != 100+50+30+400 {
		t.Fatalf("claude total tokens %d", got)
	}
}

// Folding is order-independent and folding a sequence equals summing each
// event's counters: the fold commutes, which is what lets workers apply
// usage events in any order.
func TestUsageFoldCommutes(t *testing.T) {
	berlin := usageZone(t, "Europe/Berlin")
	opts := projections.UsageOptions{Loc: berlin, IsOpus: pricing.Builtin().IsOpus}
	var us []events.Usage
	for i := range 50 {
		us = append(us, mkUsage(func(u *events.Usage) {
			u.Time = ts("2026-03-28T20:00:00Z").Add(time.Duration(i) * 17 * time.Minute) // across the DST night
			u.KeyID = fmt.Sprint("k", i%3)
			u.CostNanos = int64(i * 1000)
			if i%7 == 0 {
				u.Outcome = events.OutcomeRefused
			}
		}))
	}
	forward, backward := map[usageKey]int64{}, map[usageKey]int64{}
	for _, u := range us {
		foldDeltas(forward, projections.UsageDeltas(u, opts))
	}
	for i := len(us) - 1; i >= 0; i-- {
		foldDeltas(backward, projections.UsageDeltas(us[i], opts))
	}
	if len(forward) != len(backward) {
		t.Fatalf("%d counters forward, %d backward", len(forward), len(backward))
	}
	for k, v := range forward {
		if backward[k] != v {
			t.Fatalf("%+v: %d forward, %d backward", k, v, backward[k])
		}
	}
	var want projections.UsageCounters
	for _, u := range us {
		if u.Outcome == events.OutcomeRefused {
			want.Refused++
		} else {
			want.Requests++
			want.TTFTSumMs += u.TTFTMs
			want.TTFTCount++
		}
		want.InputTokens += u.InputTokens
		want.OutputTokens += u.OutputTokens
		want.CacheCreateTokens += u.CacheCreateTokens
		want.CacheCreate1hTokens += u.CacheCreate1hTokens
		want.CacheReadTokens += u.CacheReadTokens
		want.ReasoningTokens += u.ReasoningTokens
		want.CostNanos += u.CostNanos
	}
	if got := sumCounters(forward, projections.DimAll, "", projections.GranAll, ""); got != want {
		t.Fatalf("all time %+v\nwant %+v", got, want)
	}
	var days projections.UsageCounters
	for _, d := range []string{"2026-03-28", "2026-03-29"} {
		days = days.Plus(sumCounters(forward, projections.DimAll, "", projections.GranDay, d))
	}
	if days != want {
		t.Fatalf("sum of the days %+v\nwant %+v", days, want)
	}
}

// The deltas of one event, as a golden file: any change of what is counted
// where shows up in review. Run with -update to rewrite it.
func TestUsageDeltasGolden(t *testing.T) {
	berlin := usageZone(t, "Europe/Berlin")
	u := mkUsage(func(u *events.Usage) {
		u.Model = "claude-opus-4-5-20251101"
		u.Time = ts("2026-10-25T00:30:00.123Z") // 02:30 CEST, before the fall-back hour repeats
	})
	var b strings.Builder
	for _, d := range projections.UsageDeltas(u, projections.UsageOptions{Loc: berlin, IsOpus: pricing.Builtin().IsOpus}) {
		exp := "-"
		if !d.ExpireAt.IsZero() {
			exp = d.ExpireAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s %q %s %q %s %d agg=%d exp=%s\n", d.Dim, d.ID, d.Gran, d.Label, d.Field, d.Amount, d.Agg, exp)
	}
	path := filepath.Join("testdata", "usage_deltas.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("deltas differ from %s (run with -update after checking):\n%s", path, b.String())
	}
}

// A batch's deltas fold to exactly what its events' deltas fold to, bucket
// expiries included, whatever mix of keys, accounts, models, platforms,
// outcomes and seconds the batch holds.
func TestUsageBatchDeltasEqualEachEventsDeltas(t *testing.T) {
	berlin := usageZone(t, "Europe/Berlin")
	opts := projections.UsageOptions{Loc: berlin, IsOpus: pricing.Builtin().IsOpus}
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	for round := range 200 {
		var us []events.Usage
		for i := range 1 + rng.IntN(60) {
			us = append(us, mkUsage(func(u *events.Usage) {
				u.ID = fmt.Sprint("r", round, "-", i)
				u.Time = ts("2026-03-29T00:59:58Z").Add(time.Duration(rng.IntN(4000)) * time.Millisecond) // across 03:00 CEST
				u.KeyID = pick("k1", "k2", "")
				u.AccountID = pick("a1", "a2", "")
				u.Model = pick("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "", "mystery")
				u.UpstreamModel = pick("", "claude-opus-4-5-20251101")
				u.Platform = pick(events.PlatformClaudeConsole, events.PlatformCodex, "")
				u.Outcome = pick(events.OutcomeOK, events.OutcomeRefused, events.OutcomeUpstreamError)
				u.Status = []int{200, 429, 500}[rng.IntN(3)]
				u.TTFTMs = int64(rng.IntN(3) * 100)
				u.Priced = rng.IntN(4) > 0
				u.InputTokens, u.CacheReadTokens = int64(rng.IntN(1000)), int64(rng.IntN(3)*500)
				u.CostNanos = int64(rng.IntN(3) * 1500)
			}))
		}
		each, batch := map[usageKey]int64{}, map[usageKey]int64{}
		eachExp, batchExp := map[usageKey]time.Time{}, map[usageKey]time.Time{}
		var eachDeltas []projections.Delta
		for _, u := range us {
			eachDeltas = append(eachDeltas, projections.UsageDeltas(u, opts)...)
		}
		batchDeltas := projections.UsageBatchDeltas(us, opts)
		foldDeltas(each, eachDeltas)
		foldDeltas(batch, batchDeltas)
		foldExpiries(eachExp, eachDeltas)
		foldExpiries(batchExp, batchDeltas)
		if !maps.Equal(each, batch) {
			t.Fatalf("round %d (%d events): batch fold differs\n each %v\nbatch %v", round, len(us), each, batch)
		}
		if !maps.Equal(eachExp, batchExp) {
			t.Fatalf("round %d: bucket expiries differ", round)
		}
		if len(batchDeltas) > len(eachDeltas) {
			t.Fatalf("round %d: %d batch deltas, more than the %d of the events", round, len(batchDeltas), len(eachDeltas))
		}
	}
}

// foldExpiries keeps each counter's latest expiry.
func foldExpiries(into map[usageKey]time.Time, ds []projections.Delta) {
	for _, d := range ds {
		k := usageKey{d.Dim, d.ID, d.Label, d.Gran, d.Field}
		if d.ExpireAt.After(into[k]) {
			into[k] = d.ExpireAt
		}
	}
}

// Similar events in one second collapse into one event's worth of deltas.
func TestUsageBatchDeltasOfSimilarEvents(t *testing.T) {
	us := make([]events.Usage, 100)
	for i := range us {
		us[i] = mkUsage(func(u *events.Usage) { u.Time = usageT0.Add(time.Duration(i) * time.Millisecond) })
	}
	one := projections.UsageDeltas(us[0], projections.UsageOptions{})
	if got := len(projections.UsageBatchDeltas(us, projections.UsageOptions{})); got != len(one) {
		t.Fatalf("100 similar events gave %d deltas, one gives %d", got, len(one))
	}
}

// A count of n refusals folds into the key's, the platform's and the
// whole's refused counters and first/last use exactly as n per-request
// refusals (usage.recorded, outcome refused) of the same minute did, in a
// zone with a 45-minute offset; only the per-model counters are left out
// (counts carry no model).
func TestRefusalDeltasEqualPerRequestRefusals(t *testing.T) {
	loc := usageZone(t, "Asia/Kathmandu")
	o := projections.UsageOptions{Loc: loc}
	minute := ts("2026-03-10T23:59:00Z")
	first, last := minute.Add(2*time.Second), minute.Add(58*time.Second)
	const n = 37
	old := map[usageKey]int64{}
	for i := range n {
		at := first.Add(time.Duration(i) * time.Second)
		if i == n-1 {
			at = last
		}
		foldDeltas(old, projections.UsageDeltas(events.Usage{
			ID: fmt.Sprint(i), Time: at, KeyID: "k1", Platform: events.PlatformCodex,
			Outcome: events.OutcomeRefused, Reason: "requests", Status: 429,
		}, o))
	}
	counted := map[usageKey]int64{}
	foldDeltas(counted, projections.RefusalDeltas(events.RefusalsCounted{
		KeyID: "k1", Platform: events.PlatformCodex, Outcome: events.OutcomeRefused, Reason: "requests",
		Time: minute, Count: n, First: first, Last: last, Edge: "e1",
	}, o))
	for k := range old {
		if k.dim == projections.DimModel || k.dim == projections.DimKeyModel {
			delete(old, k)
		}
	}
	if len(counted) == 0 || !maps.Equal(old, counted) {
		t.Fatalf("a count of %d folds to\n%v\nper-request refusals to\n%v", n, counted, old)
	}
	if got := sumCounters(counted, projections.DimKey, "k1", projections.GranAll, ""); got != (projections.UsageCounters{Refused: n}) {
		t.Fatalf("key all-time counters %+v", got)
	}
	if ds := projections.RefusalDeltas(events.RefusalsCounted{KeyID: "k1", Time: minute, Count: 0}, o); len(ds) != 0 {
		t.Fatalf("an empty count adds %v", ds)
	}
}
