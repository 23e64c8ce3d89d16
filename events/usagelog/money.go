package usagelog

import "strconv"

// The two money formats of the ledger's output, the same as
// projections/pricing's FormatUSD and NanosToMicros (a test checks they
// agree): this package imports nothing of ours but relay/events, so the
// edge, the workers and the CLI may all use it.

const nanosPerMicro = 1000

// formatUSD writes nano-dollars as USD with nine decimals ("0.005197500").
func formatUSD(nanos int64) string {
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

// appendUSD appends formatUSD(nanos) to b.
func appendUSD(b []byte, nanos int64) []byte {
	u := uint64(nanos)
	if nanos < 0 {
		u = -u
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, u/1_000_000_000, 10)
	b = append(b, '.')
	frac := u % 1_000_000_000
	for d := uint64(100_000_000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// nanosToMicros rounds nano-dollars to the nearest micro-dollar, halves up:
// only for the costMicros columns older scripts read.
func nanosToMicros(nanos int64) int64 {
	q, r := nanos/nanosPerMicro, nanos%nanosPerMicro
	switch {
	case r >= nanosPerMicro/2:
		q++
	case r < -nanosPerMicro/2:
		q--
	}
	return q
}
