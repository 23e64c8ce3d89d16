package pricing_test

import (
	"math"
	"testing"

	"relay/projections/pricing"
)

func TestFormatUSD(t *testing.T) {
	tests := []struct {
		nanos int64
		want  string
	}{
		{0, "0.000000000"},
		{1, "0.000000001"},
		{-1, "-0.000000001"},
		{100, "0.000000100"},
		{5_197_500, "0.005197500"},
		{1_000_000_000, "1.000000000"},
		{12_345_678_900, "12.345678900"},
		{-110_250_000_000, "-110.250000000"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		if got := pricing.FormatUSD(tt.nanos); got != tt.want {
			t.Errorf("FormatUSD(%d) = %q, want %q", tt.nanos, got, tt.want)
		}
	}
}

func TestMicrosToNanos(t *testing.T) {
	for _, tt := range []struct{ micros, want int64 }{
		{0, 0}, {1, 1000}, {-7, -7000}, {123_456_789, 123_456_789_000},
		{math.MaxInt64 / 1000, math.MaxInt64 / 1000 * 1000},
		{math.MaxInt64/1000 + 1, math.MaxInt64}, {math.MinInt64/1000 - 1, math.MinInt64},
	} {
		if got := pricing.MicrosToNanos(tt.micros); got != tt.want {
			t.Errorf("MicrosToNanos(%d) = %d, want %d", tt.micros, got, tt.want)
		}
	}
	if got := pricing.NanosToUSD(5_197_500); got != 0.0051975 {
		t.Errorf("NanosToUSD(5197500) = %v", got)
	}
}

func TestUSDConversions(t *testing.T) {
	tests := []struct {
		usd  float64
		want int64
	}{
		{0, 0},
		{0.1, 100_000},
		{3.75, 3_750_000},
		{0.0000005, 1}, // half a micro-dollar rounds away from zero
		{0.0000004, 0},
		{-2.5, -2_500_000},
		{1e300, math.MaxInt64},
		{math.Inf(1), math.MaxInt64},
		{math.Inf(-1), math.MinInt64},
		{math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := pricing.USDToMicros(tt.usd); got != tt.want {
			t.Errorf("USDToMicros(%v) = %d, want %d", tt.usd, got, tt.want)
		}
	}
	for _, m := range []int64{0, 1, 125_000, 110_250_000, 123_456_789_012} {
		if got := pricing.USDToMicros(pricing.MicrosToUSD(m)); got != m {
			t.Errorf("round trip of %d gave %d", m, got)
		}
	}
	if got := pricing.MicrosToUSD(64_000); got != 0.064 {
		t.Errorf("MicrosToUSD(64000) = %v", got)
	}
}
