package admin

import (
	"context"
	"time"

	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// The keys list's usage against each limit. A minimal reading for the
// console, to be merged with the key limit status rule (projections
// KeyLimits, admin.KeyHolderStats) when that lands: the cost limits from
// the spend relay checks them against (store.KeySpend), and today's usage.
// The request window's count is not read here yet.

// Console limit kinds (console.LimitUsage.Kind).
const (
	ConsoleLimitWindowCost     = "window_cost"
	ConsoleLimitDailyCost      = "daily_cost"
	ConsoleLimitWeeklyOpusCost = "weekly_opus_cost"
	ConsoleLimitTotalCost      = "total_cost"
)

// ConsoleLimit is one cost limit of a key in nano-dollars, what it has
// used and when that usage starts again (zero: never, or continuously).
type ConsoleLimit struct {
	Kind        string
	Limit, Used int64
	ResetsAt    time.Time
}

// ConsoleKeyUse is a key's usage today and against its cost limits.
type ConsoleKeyUse struct {
	Today  projections.UsageCounters
	Limits []ConsoleLimit
}

// ConsoleKeyLimits reads the usage of each key of ids (missing keys are
// left out).
func (s *Service) ConsoleKeyLimits(ctx context.Context, ids []string) (map[string]ConsoleKeyUse, error) {
	out := make(map[string]ConsoleKeyUse, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	keys := map[string]projections.KeyView{}
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, id := range ids {
			if k, ok := cat.Keys[id]; ok {
				keys[id] = k
			}
		}
	})
	day := projections.NextBucket(projections.GranDay, projections.BucketStart(projections.GranDay, now, loc), loc)
	week := projections.NextBucket(projections.GranWeek, projections.BucketStart(projections.GranWeek, now, loc), loc)
	for _, id := range ids {
		k, ok := keys[id]
		if !ok {
			continue
		}
		st, err := s.store.KeyStats(ctx, id, store.StatsRange{Days: 1, Now: now, Loc: loc})
		if err != nil {
			return nil, err
		}
		use := ConsoleKeyUse{Today: st.Total}
		window := 0
		if k.RateLimitCostMicros > 0 {
			window = k.RateLimitWindow
		}
		if k.RateLimitCostMicros > 0 || k.DailyCostLimitMicros > 0 || k.WeeklyOpusCostLimitMicros > 0 || k.TotalCostLimitMicros > 0 {
			sp, err := s.store.KeySpend(ctx, id, now, loc, min(window, store.MaxDayWindowMinutes))
			if err != nil {
				return nil, err
			}
			add := func(kind string, micros, used int64, resets time.Time) {
				if micros > 0 {
					use.Limits = append(use.Limits, ConsoleLimit{Kind: kind, Limit: pricing.MicrosToNanos(micros), Used: used, ResetsAt: resets})
				}
			}
			add(ConsoleLimitWindowCost, k.RateLimitCostMicros, sp.WindowNanos, time.Time{})
			add(ConsoleLimitDailyCost, k.DailyCostLimitMicros, sp.DailyNanos, day)
			add(ConsoleLimitWeeklyOpusCost, k.WeeklyOpusCostLimitMicros, sp.WeeklyOpusNanos, week)
			add(ConsoleLimitTotalCost, k.TotalCostLimitMicros, sp.TotalNanos, time.Time{})
		}
		out[id] = use
	}
	return out, nil
}
