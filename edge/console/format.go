package console

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Figures as pages show them. Money stays in integer nano-dollars until it
// is written; nothing goes through float64 but ratios.

const nanosPerDollar = 1_000_000_000

// formatUSD writes nano-dollars as dollars: cents from a dollar up, four
// decimals below (a day of light use costs fractions of a cent), rounded
// half away from zero.
func formatUSD(nanos int64) string {
	neg := nanos < 0
	if neg {
		nanos = -nanos
	}
	decimals := 2
	if nanos < nanosPerDollar && nanos != 0 {
		decimals = 4
	}
	unit := int64(1)
	for range 9 - decimals {
		unit *= 10
	}
	units := (nanos + unit/2) / unit // in 10^-decimals dollars
	scale := int64(1)
	for range decimals {
		scale *= 10
	}
	whole, frac := units/scale, units%scale
	s := "$" + groupDigits(whole) + "." + leftPad(strconv.FormatInt(frac, 10), decimals)
	if neg {
		return "-" + s
	}
	return s
}

// formatUSDExact writes nano-dollars with all nine decimals (titles).
func formatUSDExact(nanos int64) string {
	neg := nanos < 0
	if neg {
		nanos = -nanos
	}
	s := "$" + groupDigits(nanos/nanosPerDollar) + "." + leftPad(strconv.FormatInt(nanos%nanosPerDollar, 10), 9)
	if neg {
		return "-" + s
	}
	return s
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// groupDigits writes n with a comma every three digits.
func groupDigits(n int64) string {
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// compact writes a large count short: 12,345 as 12.3K (English) or 1.2万
// (Chinese counts in ten-thousands); counts under 10,000 stay whole.
func compact(lang string, n int64) string {
	if n < 0 {
		return "-" + compact(lang, -n)
	}
	if n < 10_000 {
		return groupDigits(n)
	}
	type unit struct {
		size   int64
		suffix string
	}
	units := []unit{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}
	if lang == "zh-CN" {
		units = []unit{{1e12, "万亿"}, {1e8, "亿"}, {1e4, "万"}}
	}
	for _, u := range units {
		if n >= u.size {
			tenths := (n*10 + u.size/2) / u.size
			if tenths >= 1000 {
				return groupDigits((tenths+5)/10) + u.suffix
			}
			s := strconv.FormatInt(tenths/10, 10)
			if tenths%10 != 0 {
				s += "." + strconv.FormatInt(tenths%10, 10)
			}
			return s + u.suffix
		}
	}
	return groupDigits(n)
}

// percent writes part/whole as a percentage with one decimal, or "–" when
// whole is zero.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "–"
	}
	return strconv.FormatFloat(math.Round(float64(part)*1000/float64(whole))/10, 'f', 1, 64) + "%"
}

// cacheHitRate is the share of input tokens read from the prompt cache:
// cache reads over all input (uncached, cache writes and cache reads).
func cacheHitRate(c Counters) string {
	return percent(c.CacheReadTokens, c.InputTokens+c.CacheCreateTokens+c.CacheReadTokens)
}

// formatTime writes t in loc to the minute, with the zone's name.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// relative writes how far t is from now ("in 12 min", "3 h ago").
func relative(l *Locale, t, now time.Time) string {
	d := t.Sub(now)
	future := d >= 0
	if !future {
		d = -d
	}
	var n int64
	var unit string
	switch {
	case d < time.Minute:
		return l.T("time.now")
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "min"
	case d < 48*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	default:
		n, unit = int64(d/(24*time.Hour)), "day"
	}
	amount := l.F("time.unit."+unit, n)
	if future {
		return l.F("time.in", amount)
	}
	return l.F("time.ago", amount)
}
