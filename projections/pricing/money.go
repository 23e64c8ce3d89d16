package pricing

import (
	"math"
	"strconv"
)

// NanosPerMicro converts micro-dollars (configured limits and quotas, and the
// costs of usage events recorded before costs were kept to the nano-dollar)
// to nano-dollars.
const NanosPerMicro = 1_000

// MicrosToNanos converts micro-dollars to nano-dollars, saturating at the
// int64 range.
func MicrosToNanos(micros int64) int64 {
	switch {
	case micros > math.MaxInt64/NanosPerMicro:
		return math.MaxInt64
	case micros < math.MinInt64/NanosPerMicro:
		return math.MinInt64
	}
	return micros * NanosPerMicro
}

// NanosToMicros rounds nano-dollars to the nearest micro-dollar, halves up:
// only for the costMicros display columns that older scripts read.
func NanosToMicros(nanos int64) int64 {
	q, r := nanos/NanosPerMicro, nanos%NanosPerMicro
	switch {
	case r >= NanosPerMicro/2:
		q++
	case r < -NanosPerMicro/2:
		q--
	}
	return q
}

// NanosToUSD converts nano-dollars to USD for display and for the Cost field
// of usage events (the nearest float64). Never compute with the result.
func NanosToUSD(nanos int64) float64 { return float64(nanos) / 1e9 }

// MicrosToUSD converts micro-dollars (a configured limit) to USD for display.
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

// FormatUSD formats nano-dollars as USD with exactly nine decimals, computed
// from the integer ("12.345678900", "-0.000000001"), never through float64.
func FormatUSD(nanos int64) string {
	u := uint64(nanos)
	sign := ""
	if nanos < 0 {
		u = -u // two's complement: also right for math.MinInt64
		sign = "-"
	}
	frac := strconv.FormatUint(u%1_000_000_000, 10)
	const zeros = "000000000"
	return sign + strconv.FormatUint(u/1_000_000_000, 10) + "." + zeros[len(frac):] + frac
}
