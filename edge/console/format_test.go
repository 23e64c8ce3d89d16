package console

import (
	"testing"
	"time"
)

func TestFormatUSD(t *testing.T) {
	for nanos, want := range map[int64]string{
		0:                 "$0.00",
		1:                 "$0.0000",
		49_999:            "$0.0000",
		50_000:            "$0.0001",
		12_345_678:        "$0.0123",
		999_950_000:       "$1.0000",
		1_000_000_000:     "$1.00",
		1_234_567_890:     "$1.23",
		1_235_000_000:     "$1.24",
		1_234_567_000_000: "$1,234.57",
		-2_500_000_000:    "-$2.50",
	} {
		if got := formatUSD(nanos); got != want {
			t.Errorf("formatUSD(%d) = %q, want %q", nanos, got, want)
		}
	}
	if got := formatUSDExact(1_234_567_000_001); got != "$1,234.567000001" {
		t.Errorf("formatUSDExact = %q", got)
	}
}

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int64
		want string
	}{
		{"en", 9_999, "9,999"},
		{"en", 10_000, "10K"},
		{"en", 98_765, "98.8K"},
		{"en", 999_999, "1,000K"},
		{"en", 1_250_000, "1.3M"},
		{"en", 3_000_000_000, "3B"},
		{"zh-CN", 12_345, "1.2万"},
		{"zh-CN", 250_000_000, "2.5亿"},
		{"en", -12_000, "-12K"},
	} {
		if got := compact(tc.lang, tc.n); got != tc.want {
			t.Errorf("compact(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
}

func TestCacheHitRate(t *testing.T) {
	if got := cacheHitRate(Counters{}); got != "–" {
		t.Errorf("no input: %q", got)
	}
	if got := cacheHitRate(Counters{InputTokens: 1, CacheCreateTokens: 1, CacheReadTokens: 1}); got != "33.3%" {
		t.Errorf("a third: %q", got)
	}
}

func TestRelative(t *testing.T) {
	locales, err := loadLocales(assetsFS)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 30 * time.Second, "just now"},
		{"en", 12 * time.Minute, "in 12 min"},
		{"en", -3 * time.Hour, "3 h ago"},
		{"en", 72 * time.Hour, "in 3 days"},
		{"zh-CN", 12 * time.Minute, "12 分钟后"},
		{"zh-CN", -3 * time.Hour, "3 小时前"},
	} {
		if got := relative(locales[tc.lang], now.Add(tc.d), now); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.lang, tc.d, got, tc.want)
		}
	}
}
