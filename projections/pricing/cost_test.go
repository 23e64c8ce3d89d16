package pricing_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"relay/events"
	"relay/projections/pricing"
)

// Expected costs are worked out by hand in the comments: tokens × $/MTok.
func TestCostPerFamily(t *testing.T) {
	tab := pricing.Builtin()
	tests := []struct {
		name  string
		model string
		tok   events.Tokens
		want  int64
	}{
		{"opus 5.5 every kind", "claude-opus-5-5",
			events.Tokens{InputTokens: 1000, OutputTokens: 2000, CacheCreateTokens: 3000, CacheCreate1hTokens: 1000, CacheReadTokens: 10000},
			// 1000×4 + 2000×20 + 2000×5 + 1000×8 + 10000×0.2 = 4000+40000+10000+8000+2000
			64_000_000},
		{"opus 4.5 dated id", "claude-opus-4-5-20251101",
			events.Tokens{InputTokens: 100, OutputTokens: 50},
			// 100×5 + 50×25
			1_750_000},
		{"opus 4.1 one million of each", "claude-opus-4-1-20250805",
			events.Tokens{InputTokens: 1e6, OutputTokens: 1e6, CacheCreateTokens: 1e6, CacheReadTokens: 1e6},
			// $15 + $75 + $18.75 + $1.50
			110_250_000_000},
		{"opus 4.6 undated id", "claude-opus-4-6",
			events.Tokens{InputTokens: 1e6, CacheCreateTokens: 2e6, CacheCreate1hTokens: 1e6},
			// $5 + $6.25 + $10
			21_250_000_000},
		{"sonnet 4.5 fractions of a micro-dollar", "claude-sonnet-4-5-20250929",
			events.Tokens{InputTokens: 1234, OutputTokens: 567, CacheCreateTokens: 890, CacheCreate1hTokens: 390, CacheReadTokens: 4321},
			// 1234×3 + 567×15 + 500×3.75 + 390×6 + 4321×0.3 = 3702+8505+1875+2340+1296.3 = 17718.3
			17_718_300},
		{"sonnet 4 via alias", "claude-sonnet-4-0",
			events.Tokens{InputTokens: 1e6, OutputTokens: 1e6},
			// $3 + $15
			18_000_000_000},
		{"sonnet 5.5", "claude-sonnet-5-5",
			events.Tokens{InputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 1e6},
			// $2 + $10 + $0.10
			12_100_000_000},
		{"haiku 4.5 a tenth of a micro-dollar", "claude-haiku-4-5-20251001",
			events.Tokens{InputTokens: 7, OutputTokens: 3, CacheReadTokens: 9},
			// 7×1 + 3×5 + 9×0.1 = 22.9
			22_900},
		{"haiku 3.5", "claude-3-5-haiku-20241022",
			events.Tokens{InputTokens: 10, OutputTokens: 10, CacheCreateTokens: 10, CacheCreate1hTokens: 5, CacheReadTokens: 10},
			// 10×0.8 + 10×4 + 5×1 + 5×1.6 + 10×0.08 = 8+40+5+8+0.8 = 61.8
			61_800},
		{"gpt-5 cached priced once", "gpt-5",
			events.Tokens{InputTokens: 10000, CacheReadTokens: 8000, OutputTokens: 500, ReasoningTokens: 300},
			// (10000−8000)×1.25 + 8000×0.125 + 500×10 = 2500+1000+5000; reasoning is inside output
			8_500_000},
		{"gpt-5-codex", "gpt-5-codex",
			events.Tokens{InputTokens: 1e6, CacheReadTokens: 1e6, OutputTokens: 1e6},
			// 0×1.25 + $0.125 + $10
			10_125_000_000},
		{"gpt-5-mini", "gpt-5-mini",
			events.Tokens{InputTokens: 1e6, OutputTokens: 1e6},
			// $0.25 + $2
			2_250_000_000},
		{"gpt-5-nano snapshot alias", "gpt-5-nano-2025-08-07",
			events.Tokens{InputTokens: 2e6, CacheReadTokens: 1e6, OutputTokens: 1e6},
			// 1e6×0.05 + 1e6×0.005 + 1e6×0.40
			455_000_000},
		{"zero tokens", "claude-opus-5-5", events.Tokens{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, priced := tab.Cost(tt.model, tt.tok)
			if !priced || got != tt.want {
				t.Fatalf("Cost(%q) = %d, %v; want %d, true", tt.model, got, priced, tt.want)
			}
		})
	}
}

func TestCostCacheWrites(t *testing.T) {
	tab := pricing.Builtin()
	const m = "claude-sonnet-4-5" // 5m $3.75, 1h $6
	tests := []struct {
		name        string
		total, oneH int64
		want        int64
	}{
		{"no breakdown is 5-minute", 1e6, 0, 3_750_000_000},
		{"all 1-hour", 1e6, 1e6, 6_000_000_000},
		{"half and half", 1e6, 5e5, 1_875_000_000 + 3_000_000_000},
		// Inconsistent: more 1-hour tokens than writes. Every reported 1-hour
		// token is still priced: 300×6, and no 5-minute part.
		{"1-hour above total", 100, 300, 1_800_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := tab.Cost(m, events.Tokens{CacheCreateTokens: tt.total, CacheCreate1hTokens: tt.oneH})
			if got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCostClampsBadCounts(t *testing.T) {
	tab := pricing.Builtin()
	tests := []struct {
		name  string
		model string
		tok   events.Tokens
		want  int64
	}{
		// OpenAI cacheRead above input: no uncached part, 200×0.125 = 25.
		{"openai read above input", "gpt-5", events.Tokens{InputTokens: 100, CacheReadTokens: 200}, 25_000},
		{"negative counts are zero", "claude-opus-5-5", events.Tokens{InputTokens: -5, OutputTokens: -1, CacheReadTokens: -9, CacheCreateTokens: -3, CacheCreate1hTokens: -2}, 0},
		// Anthropic: cache reads are apart from input, never subtracted: 100×4 + 100×0.2.
		{"anthropic read not subtracted", "claude-opus-5-5", events.Tokens{InputTokens: 100, CacheReadTokens: 100}, 420_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tab.Cost(tt.model, tt.tok); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// A price file may give six decimals: $0.000_125/MTok is 0.125 n$ per token,
// the one case where a cost is rounded, half up, once per request.
func TestCostRoundsHalfUpOnce(t *testing.T) {
	tab, err := pricing.New([]pricing.Price{{Model: "fine", Input: 125, Output: 400, CacheRead: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  events.Tokens
		want int64
	}{
		{"0.375 down", events.Tokens{InputTokens: 3}, 0},
		{"0.5 up", events.Tokens{InputTokens: 4}, 1},
		{"1.5 up", events.Tokens{InputTokens: 12}, 2},
		{"0.25 + 0.4 summed before rounding", events.Tokens{InputTokens: 2, OutputTokens: 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tab.Cost("fine", tt.tok); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCostUnknownModels(t *testing.T) {
	tab := pricing.Builtin()
	for _, m := range []string{
		"gpt-6.1-sol",
		"claude-opus-4-5-2099", // no prefix matching
		"claude-opus-4-5-20251101-v2",
		"claude-opus",
		"Claude-Opus-4-5", // ids are case-sensitive
		"claude-haiku-5-5",
		" gpt-5",
		"",
	} {
		got, priced := tab.Cost(m, events.Tokens{InputTokens: 1e6, OutputTokens: 1e6})
		if priced || got != 0 {
			t.Errorf("Cost(%q) = %d, %v; want 0, false", m, got, priced)
		}
	}
	var nilTable *pricing.Table
	if got, priced := nilTable.Cost("gpt-5", events.Tokens{InputTokens: 1}); priced || got != 0 {
		t.Errorf("nil table: %d, %v", got, priced)
	}
}

func TestCostOverflow(t *testing.T) {
	tab := pricing.Builtin()
	const maxTok = math.MaxInt64
	tests := []struct {
		name  string
		model string
		tok   events.Tokens
		want  int64
	}{
		// 1e13 × 75e6 = 7.5e20 overflows an int64 numerator; the result (7.5e17 n$) does not.
		{"numerator beyond int64", "claude-opus-4-1", events.Tokens{OutputTokens: 1e13}, 750_000_000_000_000_000},
		// (2^63−1)/2500 tokens at $0.40/MTok, 400 n$ each, is just inside int64.
		{"large count that fits", "gpt-5-nano", events.Tokens{OutputTokens: math.MaxInt64 / 2500}, math.MaxInt64 / 2500 * 400},
		{"saturates", "claude-opus-4-1", events.Tokens{OutputTokens: maxTok}, math.MaxInt64},
		{"every field at max saturates", "claude-opus-4-1", events.Tokens{
			InputTokens: maxTok, OutputTokens: maxTok, CacheCreateTokens: maxTok,
			CacheCreate1hTokens: maxTok, CacheReadTokens: maxTok, ReasoningTokens: maxTok,
		}, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tab.Cost(tt.model, tt.tok); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// The 128-bit sum against math/big on awkward counts.
func TestCostMatchesBigRat(t *testing.T) {
	tab := pricing.Builtin()
	counts := []int64{0, 1, 3, 999_999, 1_000_001, 123_456_789_012, 1 << 40, math.MaxInt64 / 200_000_000}
	for _, model := range tab.Models() {
		p, _ := tab.Price(model)
		for _, n := range counts {
			tok := events.Tokens{InputTokens: n + 7, OutputTokens: n, CacheCreateTokens: n + 3, CacheCreate1hTokens: n / 2, CacheReadTokens: n / 3}
			in := tok.InputTokens
			if p.CachedIncludedInInput {
				in -= tok.CacheReadTokens
			}
			sum := new(big.Int)
			for _, term := range [][2]int64{
				{in, p.Input}, {tok.OutputTokens, p.Output},
				{tok.CacheCreateTokens - tok.CacheCreate1hTokens, p.CacheWrite5m},
				{tok.CacheCreate1hTokens, p.CacheWrite1h}, {tok.CacheReadTokens, p.CacheRead},
			} {
				sum.Add(sum, new(big.Int).Mul(big.NewInt(term[0]), big.NewInt(term[1])))
			}
			sum.Add(sum, big.NewInt(500)) // half up
			sum.Quo(sum, big.NewInt(1_000))
			want := int64(math.MaxInt64)
			if sum.IsInt64() {
				want = sum.Int64()
			}
			if got, _ := tab.Cost(model, tok); got != want {
				t.Errorf("%s n=%d: got %d, want %d", model, n, got, want)
			}
		}
	}
}

func BenchmarkCost(b *testing.B) {
	tab := pricing.Builtin()
	tok := events.Tokens{InputTokens: 12_345, OutputTokens: 2_345, CacheCreateTokens: 40_000, CacheCreate1hTokens: 10_000, CacheReadTokens: 150_000}
	var sink int64
	for b.Loop() {
		c, _ := tab.Cost("claude-sonnet-4-5", tok)
		sink += c
	}
	_ = sink
}

// The one rule of what a recorded request costs: by the upstream's model
// when known, nothing for requests that reached no upstream.
func TestRequestCost(t *testing.T) {
	tab := pricing.Builtin()
	tok := events.Tokens{InputTokens: 1000, OutputTokens: 100}
	sonnet, _ := tab.Cost("claude-sonnet-4-5-20250929", tok)
	opus, _ := tab.Cost("claude-opus-4-5-20251101", tok)
	if sonnet == 0 || opus == sonnet {
		t.Fatalf("sonnet %d, opus %d: the test needs two different prices", sonnet, opus)
	}
	for _, tc := range []struct {
		name, outcome, model, upstream string
		nanos                          int64
		priced                         bool
	}{
		{"requested model", events.OutcomeOK, "claude-sonnet-4-5-20250929", "", sonnet, true},
		{"upstream model wins", events.OutcomeOK, "claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", opus, true},
		{"failed requests are charged what they report", events.OutcomeUpstreamError, "claude-sonnet-4-5-20250929", "", sonnet, true},
		{"refused", events.OutcomeRefused, "claude-sonnet-4-5-20250929", "", 0, true},
		{"no account", events.OutcomeNoAccount, "claude-sonnet-4-5-20250929", "", 0, true},
		{"unknown model", events.OutcomeOK, "mystery-model", "", 0, false},
	} {
		nanos, priced := tab.RequestCost(tc.outcome, tc.model, tc.upstream, tok)
		if nanos != tc.nanos || priced != tc.priced {
			t.Errorf("%s: %d n$ priced %v, want %d priced %v", tc.name, nanos, priced, tc.nanos, tc.priced)
		}
	}
	if got := pricing.ChargedModel("asked", ""); got != "asked" {
		t.Errorf("ChargedModel without an upstream model = %q", got)
	}
}

// Every built-in list price has at most three decimals in USD per million
// tokens, so it is a whole number of nano-dollars per token and no request's
// cost is ever rounded.
func TestBuiltinPricesAreWholeNanosPerToken(t *testing.T) {
	tab := pricing.Builtin()
	for _, model := range tab.Models() {
		p, _ := tab.Price(model)
		for _, v := range []int64{p.Input, p.Output, p.CacheWrite5m, p.CacheWrite1h, p.CacheRead} {
			if v%1000 != 0 {
				t.Errorf("%s: %d µ$/MTok is not a whole number of n$ per token", model, v)
			}
		}
	}
}

// The figures of issue 17, as Claude Code's own total_cost_usd has them.
func TestCostIsExactToTheNanoDollar(t *testing.T) {
	tab := pricing.Builtin()
	// 120 input, 17 output, 30 cache-write and 50 cache-read tokens on
	// sonnet 4.5: 360 + 255 + 112.5 + 15 = 742.5 µ$ a request.
	tok := events.Tokens{InputTokens: 120, OutputTokens: 17, CacheCreateTokens: 30, CacheReadTokens: 50}
	var sum int64
	for range 7 {
		c, _ := tab.Cost("claude-sonnet-4-5-20250929", tok)
		sum += c
	}
	if sum != 5_197_500 || pricing.FormatUSD(sum) != "0.005197500" {
		t.Fatalf("7 sonnet requests: %d n$ (%s USD), want 5197500 n$ = $0.0051975", sum, pricing.FormatUSD(sum))
	}
	if c, _ := tab.Cost("claude-haiku-4-5-20251001", events.Tokens{CacheReadTokens: 1}); c != 100 {
		t.Fatalf("one haiku cache read: %d n$, want 100 ($0.0000001)", c)
	}
}

// Cost is additive for every priced model: the sum of requests' costs is the
// cost of their summed tokens, so totals never drift from the list price.
func TestCostOfSumsIsSumOfCosts(t *testing.T) {
	tab := pricing.Builtin()
	rng := rand.New(rand.NewPCG(17, 5))
	for _, model := range tab.Models() {
		for trial := range 50 {
			var total events.Tokens
			var sum int64
			for range 1 + rng.IntN(20) {
				tok := events.Tokens{
					InputTokens: rng.Int64N(200_000), OutputTokens: rng.Int64N(64_000),
					CacheCreateTokens: rng.Int64N(50_000), CacheReadTokens: rng.Int64N(500_000),
				}
				tok.CacheCreate1hTokens = rng.Int64N(tok.CacheCreateTokens + 1)
				tok.InputTokens += tok.CacheReadTokens // valid for both dialects
				c, _ := tab.Cost(model, tok)
				sum += c
				total.InputTokens += tok.InputTokens
				total.OutputTokens += tok.OutputTokens
				total.CacheCreateTokens += tok.CacheCreateTokens
				total.CacheCreate1hTokens += tok.CacheCreate1hTokens
				total.CacheReadTokens += tok.CacheReadTokens
			}
			if whole, _ := tab.Cost(model, total); whole != sum {
				t.Fatalf("%s trial %d: requests sum to %d n$, their tokens cost %d n$", model, trial, sum, whole)
			}
		}
	}
}
