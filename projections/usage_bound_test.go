package projections_test

import (
	"fmt"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
)

var builtinTable = pricing.Builtin()

// knownBuiltin is UsageOptions.Known for the built-in price table.
func knownBuiltin(model string) bool {
	_, ok := builtinTable.Price(model)
	return ok
}

func TestUsageStatsModel(t *testing.T) {
	opts := projections.UsageOptions{Known: knownBuiltin}
	refused := func(u *events.Usage) {
		// As the edge records a refusal: priced (it costs nothing), no tokens.
		u.Outcome, u.Status, u.Tokens, u.CostNanos, u.Priced, u.UpstreamModel = events.OutcomeRefused, 429, events.Tokens{}, 0, true, ""
	}
	for _, tc := range []struct {
		name string
		u    events.Usage
		opts projections.UsageOptions
		want string
	}{
		{"priced model", mkUsage(nil), opts, "claude-sonnet-4-5-20250929"},
		{"alias of the table", mkUsage(func(u *events.Usage) { u.Model = "claude-opus-4-5" }), opts, "claude-opus-4-5"},
		{"unpriced model", mkUsage(func(u *events.Usage) { u.Model, u.Priced, u.CostNanos = "gpt-6.1-sol", false, 0 }), opts, projections.OtherModel},
		{"invented name", mkUsage(func(u *events.Usage) { u.Model, u.Priced, u.CostNanos = "x-00042", false, 0 }), opts, projections.OtherModel},
		{"priced by PRICING_FILE at the edge", mkUsage(func(u *events.Usage) { u.Model = "gpt-6.1-sol" }), opts, "gpt-6.1-sol"},
		{"name an account maps to a priced model", mkUsage(func(u *events.Usage) { u.Model, u.UpstreamModel = "sonnet", "claude-sonnet-4-5-20250929" }), opts, "sonnet"},
		{"refused, known model", mkUsage(refused), opts, "claude-sonnet-4-5-20250929"},
		{"refused, invented name", mkUsage(func(u *events.Usage) { refused(u); u.Model = "x-00042" }), opts, projections.OtherModel},
		{"no account, invented name", mkUsage(func(u *events.Usage) {
			u.Outcome, u.Status, u.Tokens, u.CostNanos, u.Priced = events.OutcomeNoAccount, 503, events.Tokens{}, 0, true
			u.Model = "x-00042"
		}), opts, projections.OtherModel},
		{"no table: refusals fold", mkUsage(refused), projections.UsageOptions{}, projections.OtherModel},
		{"no table: priced requests keep theirs", mkUsage(nil), projections.UsageOptions{}, "claude-sonnet-4-5-20250929"},
		{"empty model", mkUsage(func(u *events.Usage) { u.Model, u.Priced = "", false }), opts, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := projections.UsageStatsModel(tc.u, tc.opts); got != tc.want {
				t.Fatalf("UsageStatsModel = %q, want %q", got, tc.want)
			}
			for _, d := range projections.UsageDeltas(tc.u, tc.opts) {
				switch d.Dim {
				case projections.DimModel:
					if d.ID != tc.want {
						t.Fatalf("model counter under %q", d.ID)
					}
				case projections.DimKeyModel, projections.DimAccountModel:
					if _, m := projections.SplitPairID(d.ID); m != tc.want {
						t.Fatalf("%s counter under %q", d.Dim, d.ID)
					}
				}
			}
		})
	}
}

// TestDistinctModelNamesFromOneKeyAreBounded is issue 13's attack on the
// projection: one key sends 20,000 model names it made up, half of them
// refused by its rate limit, half relayed unpriced. Every model dimension
// folds them into "other": the distinct counters (dimension, id, bucket)
// are as many as for one model, and "other" counts every request.
func TestDistinctModelNamesFromOneKeyAreBounded(t *testing.T) {
	const n = 20000
	opts := projections.UsageOptions{Known: knownBuiltin, IsOpus: builtinTable.IsOpus}
	us := make([]events.Usage, n)
	for i := range us {
		us[i] = mkUsage(func(u *events.Usage) {
			u.ID = fmt.Sprintf("r%d", i)
			u.Time = usageT0.Add(time.Duration(i) * 10 * time.Millisecond) // 200 s: several seconds and minutes
			u.Model, u.UpstreamModel, u.Priced, u.CostNanos = fmt.Sprintf("made-up-model-%05d", i), fmt.Sprintf("made-up-model-%05d", i), false, 0
			if i%2 == 0 {
				u.Outcome, u.Status, u.Tokens, u.Priced, u.AccountID, u.UpstreamModel = events.OutcomeRefused, 429, events.Tokens{}, true, "", ""
			}
		})
	}
	type counter struct {
		dim   projections.Dimension
		id    string
		gran  projections.Granularity
		label string
	}
	distinct := func(ds []projections.Delta) (counters map[counter]bool, models map[string]bool) {
		counters, models = map[counter]bool{}, map[string]bool{}
		for _, d := range ds {
			counters[counter{d.Dim, d.ID, d.Gran, d.Label}] = true
			switch d.Dim {
			case projections.DimModel:
				models[d.ID] = true
			case projections.DimKeyModel, projections.DimAccountModel:
				_, m := projections.SplitPairID(d.ID)
				models[m] = true
			}
		}
		return counters, models
	}
	var each []projections.Delta
	for _, u := range us {
		each = append(each, projections.UsageDeltas(u, opts)...)
	}
	one, _ := distinct(projections.UsageDeltas(us[1], opts))
	for name, ds := range map[string][]projections.Delta{"UsageDeltas": each, "UsageBatchDeltas": projections.UsageBatchDeltas(us, opts)} {
		counters, models := distinct(ds)
		if len(models) != 1 || !models[projections.OtherModel] {
			t.Errorf("%s: %d model names in the counters, want only %q", name, len(models), projections.OtherModel)
		}
		// Beyond one event's counters: the second and minute buckets of 200
		// s and the week bucket, whatever the number of names.
		if len(counters) > len(one)+250 {
			t.Errorf("%s: %d distinct counters for %d names (one event: %d)", name, len(counters), n, len(one))
		}
		m := map[usageKey]int64{}
		foldDeltas(m, ds)
		day := projections.BucketLabel(projections.GranDay, usageT0, time.UTC)
		got := sumCounters(m, projections.DimKeyModel, projections.PairID("k1", projections.OtherModel), projections.GranDay, day)
		if got.Requests != n/2 || got.Refused != n/2 || got.Unpriced != n/2 {
			t.Errorf("%s: the key's %q counters %+v, want %d requests, %d refused, %d unpriced", name, projections.OtherModel, got, n/2, n/2, n/2)
		}
	}
}
