package projections_test

import (
	"reflect"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
)

func TestKeyLimitsRule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Wednesday 2026-12-02 23:30 UTC is Thursday 00:30 in Berlin.
	now := time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC)
	utcNextDay := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	utcNextMonday := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	berlinNextDay := time.Date(2026, 12, 4, 0, 0, 0, 0, berlin)
	oldest := now.Add(-7 * time.Minute)
	type L = projections.KeyLimit
	cases := []struct {
		name string
		key  events.Key
		r    projections.KeyReadings
		loc  *time.Location
		want []L
	}{
		{name: "no limits", key: events.Key{}, r: projections.KeyReadings{TotalCostNanos: 5, InFlight: 3}, want: nil},
		{
			name: "every limit under, in check order",
			key: events.Key{TotalCostLimitMicros: 10, DailyCostLimitMicros: 5, WeeklyOpusCostLimitMicros: 7, RateLimitWindow: 60,
				RateLimitCostMicros: 2, RateLimitRequests: 4, ConcurrencyLimit: 2},
			r: projections.KeyReadings{TotalCostNanos: 9_999, DailyCostNanos: 4_999, WeeklyOpusCostNanos: 1, WindowCostNanos: 1_999,
				WindowRequests: 3, OldestInWindow: oldest, InFlight: 1},
			want: []L{
				{Kind: projections.LimitTotalCost, Limit: 10_000, Used: 9_999},
				{Kind: projections.LimitDailyCost, Limit: 5_000, Used: 4_999, ResetsAt: utcNextDay},
				{Kind: projections.LimitWeeklyOpusCost, Limit: 7_000, Used: 1, ResetsAt: utcNextMonday},
				{Kind: projections.LimitWindowCost, Limit: 2_000, Used: 1_999, ResetsAt: now.Add(time.Minute)},
				{Kind: projections.LimitWindowRequests, Limit: 4, Used: 3, ResetsAt: oldest.Add(time.Hour)},
				{Kind: projections.LimitConcurrency, Limit: 2, Used: 1},
			},
		},
		{
			name: "every limit reached at exactly its value",
			key: events.Key{TotalCostLimitMicros: 10, DailyCostLimitMicros: 5, WeeklyOpusCostLimitMicros: 7, RateLimitWindow: 1,
				RateLimitCostMicros: 2, RateLimitRequests: 4, ConcurrencyLimit: 2},
			r: projections.KeyReadings{TotalCostNanos: 10_000, DailyCostNanos: 5_000, WeeklyOpusCostNanos: 7_001, WindowCostNanos: 2_000,
				WindowRequests: 4, OldestInWindow: now.Add(-30 * time.Second), InFlight: 2},
			want: []L{
				{Kind: projections.LimitTotalCost, Limit: 10_000, Used: 10_000, Reached: true},
				{Kind: projections.LimitDailyCost, Limit: 5_000, Used: 5_000, ResetsAt: utcNextDay, Reached: true},
				{Kind: projections.LimitWeeklyOpusCost, Limit: 7_000, Used: 7_001, ResetsAt: utcNextMonday, Reached: true},
				{Kind: projections.LimitWindowCost, Limit: 2_000, Used: 2_000, ResetsAt: now.Add(time.Minute), Reached: true},
				{Kind: projections.LimitWindowRequests, Limit: 4, Used: 4, ResetsAt: now.Add(30 * time.Second), Reached: true},
				{Kind: projections.LimitConcurrency, Limit: 2, Used: 2, Reached: true},
			},
		},
		{
			name: "window limits need a window",
			key:  events.Key{RateLimitCostMicros: 2, RateLimitRequests: 4},
			r:    projections.KeyReadings{WindowCostNanos: 9_000, WindowRequests: 9},
			want: nil,
		},
		{
			name: "an empty request window resets nothing",
			key:  events.Key{RateLimitWindow: 5, RateLimitRequests: 1},
			want: []L{{Kind: projections.LimitWindowRequests, Limit: 1}},
		},
		{
			name: "days and weeks are local",
			key:  events.Key{DailyCostLimitMicros: 1, WeeklyOpusCostLimitMicros: 1},
			loc:  berlin,
			want: []L{
				{Kind: projections.LimitDailyCost, Limit: 1_000, ResetsAt: berlinNextDay},
				{Kind: projections.LimitWeeklyOpusCost, Limit: 1_000, ResetsAt: time.Date(2026, 12, 7, 0, 0, 0, 0, berlin)},
			},
		},
		{
			name: "negative limits are no limits",
			key:  events.Key{TotalCostLimitMicros: -1, ConcurrencyLimit: -1, RateLimitWindow: 1, RateLimitRequests: -1},
			want: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := projections.KeyLimits(projections.KeyView{Key: c.key}, c.r, now, c.loc)
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				g, w := got[i], c.want[i]
				if !g.ResetsAt.Equal(w.ResetsAt) {
					t.Fatalf("%s resets %v, want %v", g.Kind, g.ResetsAt, w.ResetsAt)
				}
				g.ResetsAt, w.ResetsAt = time.Time{}, time.Time{}
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("limit %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestLimitResetsAtLocalMidnightAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		now        time.Time
		day, week  time.Time
		dayHoursIn time.Duration
	}{
		// Saturday before the end of summer time: the next day is 25 hours.
		{now: time.Date(2026, 10, 24, 12, 0, 0, 0, berlin), day: time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), week: time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), dayHoursIn: 12 * time.Hour},
		// A Monday: the week resets next Monday, not today.
		{now: time.Date(2026, 12, 7, 0, 0, 0, 0, berlin), day: time.Date(2026, 12, 8, 0, 0, 0, 0, berlin), week: time.Date(2026, 12, 14, 0, 0, 0, 0, berlin), dayHoursIn: 24 * time.Hour},
		// A Sunday just before midnight.
		{now: time.Date(2026, 12, 6, 23, 59, 59, 0, berlin), day: time.Date(2026, 12, 7, 0, 0, 0, 0, berlin), week: time.Date(2026, 12, 7, 0, 0, 0, 0, berlin), dayHoursIn: time.Second},
	}
	for _, c := range cases {
		ls := projections.KeyLimits(projections.KeyView{Key: events.Key{DailyCostLimitMicros: 1, WeeklyOpusCostLimitMicros: 1}}, projections.KeyReadings{}, c.now.UTC(), berlin)
		if len(ls) != 2 || !ls[0].ResetsAt.Equal(c.day) || !ls[1].ResetsAt.Equal(c.week) {
			t.Fatalf("at %v: %+v, want day %v week %v", c.now, ls, c.day, c.week)
		}
		if got := ls[0].ResetsAt.Sub(c.now); got != c.dayHoursIn {
			t.Fatalf("at %v: day resets in %v, want %v", c.now, got, c.dayHoursIn)
		}
	}
}
