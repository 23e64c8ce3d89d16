package usagelog

import (
	"math"
	"testing"

	"relay/projections/pricing"
)

// The ledger writes money exactly as the rest of relay does.
func TestMoneyFormatsAgreeWithPricing(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 499, 500, 501, -499, -500, -501, 999, 1000, 5_197_500, -5_197_500, 123_456_789_012, math.MaxInt64, math.MinInt64, math.MinInt64 + 1} {
		if got, want := formatUSD(n), pricing.FormatUSD(n); got != want {
			t.Errorf("formatUSD(%d) = %q, pricing says %q", n, got, want)
		}
		if got, want := nanosToMicros(n), pricing.NanosToMicros(n); got != want {
			t.Errorf("nanosToMicros(%d) = %d, pricing says %d", n, got, want)
		}
	}
}
