package projections

import (
	"time"

	"relay/events"
	"relay/projections/pricing"
)

// The limits of an API key, one rule for everyone who asks: the relay
// refuses a request by it, the key holder and the admin see it. Pure: the
// caller reads the spend and the counts (relay/store) and passes the clock.

// Limit kinds, in the order the relay checks the cost limits: the names
// key.limit_reached notifications carry (events), and concurrency.
const (
	LimitTotalCost      = events.LimitTotalCost
	LimitDailyCost      = events.LimitDailyCost
	LimitWeeklyOpusCost = events.LimitWeeklyOpusCost
	LimitWindowCost     = events.LimitWindowCost
	LimitWindowRequests = events.LimitWindowRequests
	LimitConcurrency    = "concurrency"
)

// KeyReadings are what a key has used at one moment, as relay/store counts
// it. Costs are in nano-dollars. Readings a caller did not take are zero.
type KeyReadings struct {
	// WindowCostNanos is the cost of the key's rolling rate-limit window.
	WindowCostNanos int64
	// DailyCostNanos is the cost of the local calendar day.
	DailyCostNanos int64
	// WeeklyOpusCostNanos is the cost of Opus models in the local week
	// (Monday 00:00 on).
	WeeklyOpusCostNanos int64
	// TotalCostNanos is the cost of every request ever.
	TotalCostNanos int64
	// WindowRequests is how many requests the key's request window holds;
	// OldestInWindow is the admission time of the oldest of them (zero when
	// none).
	WindowRequests int64
	OldestInWindow time.Time
	// InFlight is how many requests of the key hold a concurrency lease.
	InFlight int64
}

// KeyLimit is one limit of a key. Cost limits count nano-dollars (Limit and
// Used), the others count requests.
type KeyLimit struct {
	Kind  string
	Limit int64
	Used  int64
	// ResetsAt is when used next goes down: the end of the day or week for
	// calendar limits, when the oldest request leaves a sliding request
	// window, a minute from now for the sliding cost window (its cost
	// leaves minute by minute). Zero when nothing is scheduled: the total
	// never resets, concurrency frees as requests end, an empty window has
	// nothing to leave.
	ResetsAt time.Time
	// Reached: a request needing this limit is refused now.
	Reached bool
}

// IsCost reports whether l counts nano-dollars.
func (l KeyLimit) IsCost() bool {
	switch l.Kind {
	case LimitTotalCost, LimitDailyCost, LimitWeeklyOpusCost, LimitWindowCost:
		return true
	}
	return false
}

// KeyLimits returns every limit set on k (a limit of 0 is no limit), cost
// limits first in the order the relay checks them (total, daily, weekly
// Opus, window cost), then window requests and concurrency. Days and weeks
// are local to loc (nil: UTC). Window limits need a window: a key without
// rateLimitWindow has neither.
func KeyLimits(k KeyView, r KeyReadings, now time.Time, loc *time.Location) []KeyLimit {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	var out []KeyLimit
	cost := func(kind string, limitMicros, usedNanos int64, resets time.Time) {
		if limitMicros <= 0 {
			return
		}
		limit := pricing.MicrosToNanos(limitMicros)
		out = append(out, KeyLimit{Kind: kind, Limit: limit, Used: usedNanos, ResetsAt: resets, Reached: usedNanos >= limit})
	}
	cost(LimitTotalCost, k.TotalCostLimitMicros, r.TotalCostNanos, time.Time{})
	cost(LimitDailyCost, k.DailyCostLimitMicros, r.DailyCostNanos, NextLocalDay(local))
	cost(LimitWeeklyOpusCost, k.WeeklyOpusCostLimitMicros, r.WeeklyOpusCostNanos, NextLocalMonday(local))
	window := time.Duration(k.RateLimitWindow) * time.Minute
	if window > 0 {
		cost(LimitWindowCost, k.RateLimitCostMicros, r.WindowCostNanos, now.Add(time.Minute))
		if k.RateLimitRequests > 0 {
			var resets time.Time
			if r.WindowRequests > 0 && !r.OldestInWindow.IsZero() {
				resets = r.OldestInWindow.Add(window)
			}
			out = append(out, KeyLimit{Kind: LimitWindowRequests, Limit: int64(k.RateLimitRequests), Used: r.WindowRequests,
				ResetsAt: resets, Reached: r.WindowRequests >= int64(k.RateLimitRequests)})
		}
	}
	if k.ConcurrencyLimit > 0 {
		out = append(out, KeyLimit{Kind: LimitConcurrency, Limit: int64(k.ConcurrencyLimit), Used: r.InFlight,
			Reached: r.InFlight >= int64(k.ConcurrencyLimit)})
	}
	return out
}

// NextLocalDay is the start of the day after local's, in local's zone.
func NextLocalDay(local time.Time) time.Time {
	y, m, d := local.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, local.Location())
}

// NextLocalMonday is the start of the next Monday after local's day, in
// local's zone (a week later when local is a Monday).
func NextLocalMonday(local time.Time) time.Time {
	y, m, d := local.Date()
	days := (8 - int(local.Weekday())) % 7
	if days == 0 {
		days = 7
	}
	return time.Date(y, m, d+days, 0, 0, 0, 0, local.Location())
}
