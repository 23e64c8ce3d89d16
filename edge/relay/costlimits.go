package relay

import (
	"context"
	"sync"
	"time"

	"relay/edge/fault"
	"relay/projections"
)

// Cost limits are checked against spend projected from usage events, so they
// can be overshot by the cost of the requests in flight when a limit is
// crossed plus those whose usage the projection has not counted yet. The
// lag tracker bounds the second part: when this edge's own usage events wait
// longer than maxSpendLag to be counted, keys with cost limits are refused
// (fail closed) until the projection catches up. Workers hand a dead
// worker's events on after workers.DefaultAckWait (3 s), within this bound.
const maxSpendLag = 5 * time.Second

// checkCostLimits refuses a request whose key has spent one of its cost
// limits. Window, daily and weekly limits clear with time (429 with
// Retry-After); the total limit does not (403).
func (s *Relay) checkCostLimits(ctx context.Context, k projections.KeyView, model string, now time.Time) *refusal {
	weekly := k.WeeklyOpusCostLimitMicros > 0 && s.prices.Current().IsOpus(model)
	if k.RateLimitCostMicros == 0 && k.DailyCostLimitMicros == 0 && k.TotalCostLimitMicros == 0 && !weekly {
		return nil
	}
	window := 0
	if k.RateLimitCostMicros > 0 {
		window = k.RateLimitWindow
	}
	spend, err := s.store.KeySpend(ctx, k.ID, now, s.cfg.Location, window)
	if err != nil {
		s.log.Warn().Err(err).Str("keyId", k.ID).Msg("spend unreadable: refusing a cost-limited key")
		return refuse(fault.Overloaded, "spend_unknown", "the spend of this API key cannot be checked right now; try again shortly")
	}
	if s.spendLag.lagging(spend.Checkpoint, now) {
		return refuse(fault.Overloaded, "spend_stale", "usage accounting is catching up; try again shortly")
	}
	// The rule is projections.KeyLimits, the one the key holder sees; the
	// relay refuses by the first cost limit reached, in its order (total,
	// daily, weekly Opus, window cost). Request-window and concurrency
	// limits are the admission's (store.Admit).
	readings := projections.KeyReadings{WindowCostNanos: spend.WindowNanos, DailyCostNanos: spend.DailyNanos,
		WeeklyOpusCostNanos: spend.WeeklyOpusNanos, TotalCostNanos: spend.TotalNanos}
	for _, l := range projections.KeyLimits(k, readings, now, s.cfg.Location) {
		if !l.Reached {
			continue
		}
		switch l.Kind {
		case projections.LimitTotalCost:
			return refuse(fault.Forbidden, "total_cost_limit", "total cost limit of this API key reached")
		case projections.LimitDailyCost:
			return retryAt(refuse(fault.RateLimited, "daily_cost_limit", "daily cost limit of this API key reached"), now, l.ResetsAt)
		case projections.LimitWeeklyOpusCost:
			if weekly {
				return retryAt(refuse(fault.RateLimited, "weekly_opus_cost_limit", "weekly Opus cost limit of this API key reached"), now, l.ResetsAt)
			}
		case projections.LimitWindowCost:
			if window > 0 {
				// The window slides: cost leaves it minute by minute, so
				// look again within a minute.
				return retryAt(refuse(fault.RateLimited, "window_cost_limit", "cost limit of this API key's rate-limit window reached"), now, l.ResetsAt)
			}
		}
	}
	return nil
}

func retryAt(r *refusal, now, at time.Time) *refusal {
	r.err.RetryAfter = max(1, int(at.Sub(now).Seconds()+0.999))
	return r
}

// lagTracker remembers the usage events this edge published that the usage
// projection has not counted yet.
type lagTracker struct {
	mu      sync.Mutex // mu protects pending
	pending []published
}

type published struct {
	seq uint64
	at  time.Time
}

// maxTracked bounds memory; past it the oldest entries go, so under a
// backlog that large the tracker notices the lag later (by the age of the
// oldest entry it kept).
const maxTracked = 4096

func (l *lagTracker) add(seq uint64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= maxTracked {
		l.pending = l.pending[1:]
	}
	l.pending = append(l.pending, published{seq, at})
}

// lagging drops what checkpoint covers and reports whether an uncounted event
// is older than maxSpendLag.
func (l *lagTracker) lagging(checkpoint uint64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.pending) && l.pending[i].seq <= checkpoint {
		i++
	}
	l.pending = l.pending[i:]
	return len(l.pending) > 0 && now.Sub(l.pending[0].at) > maxSpendLag
}
