package edge

import (
	"context"
	"time"

	"relay/projections"
)

// checkCostLimits refuses a request whose key has spent its cost limits.
func (s *Server) checkCostLimits(ctx context.Context, k projections.KeyView, model string, now time.Time) *refusal {
	if k.RateLimitCostMicros == 0 && k.DailyCostLimitMicros == 0 && k.TotalCostLimitMicros == 0 && k.WeeklyOpusCostLimitMicros == 0 {
		return nil
	}
	// Spend totals are not projected yet: fail closed rather than let a
	// limited key spend without bound.
	return refuse(KindOverloaded, "cost_unknown", "the spend of this API key cannot be checked right now")
}
