package pricing

import (
	"math"
	"strconv"
)

// MicrosToUSD converts micro-dollars to USD for display and for the Cost
// field of usage events (the nearest float64). Never compute with the result.
func MicrosToUSD(micros int64) float64 { return float64(micros) / 1e6 }

// USDToMicros converts a USD amount (a configured limit, say) to micro-dollars,
// rounded to the nearest micro-dollar, halves away from zero. NaN is 0;
// amounts beyond the int64 range saturate.
func USDToMicros(usd float64) int64 {
	v := math.Round(usd * 1e6)
	switch {
	case math.IsNaN(v):
		return 0
	case v >= 0x1p63:
		return math.MaxInt64
	case v < -0x1p63:
		return math.MinInt64
	}
	return int64(v)
}

// FormatUSD formats micro-dollars as USD with exactly six decimals, computed
// from the integer ("12.345678", "-0.000001"), never through float64.
func FormatUSD(micros int64) string {
	u := uint64(micros)
	sign := ""
	if micros < 0 {
		u = -u // two's complement: also right for math.MinInt64
		sign = "-"
	}
	frac := strconv.FormatUint(u%1_000_000, 10)
	const zeros = "000000"
	return sign + strconv.FormatUint(u/1_000_000, 10) + "." + zeros[len(frac):] + frac
}
