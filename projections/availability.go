package projections

import (
	"time"

	"relay/projections/pricing"
)

// The availability rule: why an account cannot take a request now. The
// scheduler applies it to choose (the first reason excludes the account),
// and the availability route to explain (every reason, worded).

// Reasons an account cannot take a request, as usage events record them
// (Exclusion.Reason) and the availability route reports them. An account's
// health state (rate_limited, overloaded, ...) is a reason too.
const (
	ReasonDeleted       = "deleted"
	ReasonInactive      = "inactive"
	ReasonUnschedulable = "unschedulable"
	ReasonModel         = "model_not_supported"
	ReasonQuota         = "quota_exceeded"
	ReasonBusy          = "max_concurrency"
)

// AccountLoad is an account's use at a moment, as read from Redis.
type AccountLoad struct {
	// QuotaDay is the start of the current quota day (QuotaDayStart) and
	// SpentNanos the account's spend since then.
	QuotaDay   time.Time
	SpentNanos int64
	// InFlight is the number of requests holding a lease on the account.
	InFlight int
}

// Unavailable is one reason an account cannot take a request.
type Unavailable struct {
	// Reason is one of the Reason constants or a health state.
	Reason string
	// Until is when a health state ends.
	Until time.Time
}

// Unavailability lists every reason account a, in health st, cannot take a
// request for model at now; none: it can. An empty model stands for any
// model. With load nil, the quota and the concurrency are not checked
// (the scheduler checks them against Redis at the moment of choice:
// OverQuota, and the lease script). The order is fixed: configuration,
// health, model, quota, concurrency.
func Unavailability(a AccountView, st AccountStateView, model string, load *AccountLoad, now time.Time) []Unavailable {
	var out []Unavailable
	if a.CreatedSeq == 0 || a.IsDeleted {
		out = append(out, Unavailable{Reason: ReasonDeleted})
	}
	if !a.IsActive {
		out = append(out, Unavailable{Reason: ReasonInactive})
	}
	if !a.Schedulable {
		out = append(out, Unavailable{Reason: ReasonUnschedulable})
	}
	if state := st.ActiveAt(now); state != "" {
		out = append(out, Unavailable{Reason: state, Until: st.Until})
	}
	if model != "" {
		if _, ok := a.UpstreamModel(model); !ok {
			out = append(out, Unavailable{Reason: ReasonModel})
		}
	}
	if load != nil {
		if OverQuota(a, load.SpentNanos) {
			out = append(out, Unavailable{Reason: ReasonQuota})
		}
		if a.MaxConcurrency > 0 && load.InFlight >= a.MaxConcurrency {
			out = append(out, Unavailable{Reason: ReasonBusy})
		}
	}
	return out
}

// OverQuota reports whether account a, having spent spentNanos in its
// current quota day, has reached its daily quota (configured in
// micro-dollars, spend counted in nano-dollars).
func OverQuota(a AccountView, spentNanos int64) bool {
	return a.DailyQuotaMicros > 0 && spentNanos >= pricing.MicrosToNanos(a.DailyQuotaMicros)
}

// QuotaDayStart is the start of the quota day containing local: the last
// reset time (HH:mm) at or before it, midnight when none is set.
func QuotaDayStart(reset string, local time.Time) time.Time {
	h, m := 0, 0
	if t, err := time.Parse("15:04", reset); err == nil {
		h, m = t.Hour(), t.Minute()
	}
	y, mo, d := local.Date()
	start := time.Date(y, mo, d, h, m, 0, 0, local.Location())
	if start.After(local) {
		start = start.AddDate(0, 0, -1)
	}
	return start
}
