package pricing

// Builtin returns relay's built-in table: Anthropic and OpenAI list prices in
// micro-dollars per million tokens. Each call builds a fresh table.
//
// Sources: claude-opus-5-5, claude-opus-4-5, claude-sonnet-4-5 and
// claude-haiku-4-5 as Claude Code 2.1.328 prices them (UPSTREAMS.md); the
// other Claude models from Anthropic's pricing page (5m cache writes 1.25×
// input, 1h writes 2×, reads 0.1×, except where the page says otherwise);
// GPT-5 from OpenAI's list prices (no cache-write price). Models priced in
// bands by prompt length (claude-haiku-5-5) or not listed here (gpt-6.1-sol)
// are left out on purpose: they are unpriced until PRICING_FILE prices them.
// Long-context surcharges (requests over 200K tokens on some 4.x models) are
// not modelled.
func Builtin() *Table {
	t, err := New(builtinPrices(), builtinAliases())
	if err != nil {
		panic(err) // the literal below is checked by TestBuiltinIsValid
	}
	return t
}

func claude(id string, f Family, in, out, write5m, write1h, read int64) Price {
	return Price{Model: id, Family: f, Input: in, Output: out, CacheWrite5m: write5m, CacheWrite1h: write1h, CacheRead: read}
}

func openai(id string, in, cachedIn, out int64) Price {
	return Price{Model: id, Family: FamilyGPT, CachedIncludedInInput: true, Input: in, Output: out, CacheRead: cachedIn}
}

func builtinPrices() []Price {
	return []Price{
		// claude(id, family, input, output, cacheWrite5m, cacheWrite1h, cacheRead)
		claude("claude-opus-5-5", FamilyOpus, 4_000_000, 20_000_000, 5_000_000, 8_000_000, 200_000),
		claude("claude-opus-5", FamilyOpus, 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000),
		claude("claude-opus-4-8", FamilyOpus, 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000),
		claude("claude-opus-4-7", FamilyOpus, 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000),
		claude("claude-opus-4-6", FamilyOpus, 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000),
		claude("claude-opus-4-5-20251101", FamilyOpus, 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000),
		claude("claude-opus-4-1-20250805", FamilyOpus, 15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000),
		claude("claude-opus-4-20250514", FamilyOpus, 15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000),

		// Sonnet 5.5 cache reads: 0.05× input since 2026-10-07.
		claude("claude-sonnet-5-5", FamilySonnet, 2_000_000, 10_000_000, 2_500_000, 4_000_000, 100_000),
		claude("claude-sonnet-5", FamilySonnet, 2_000_000, 10_000_000, 2_500_000, 4_000_000, 200_000),
		claude("claude-sonnet-4-6", FamilySonnet, 3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000),
		claude("claude-sonnet-4-5-20250929", FamilySonnet, 3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000),
		claude("claude-sonnet-4-20250514", FamilySonnet, 3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000),

		claude("claude-haiku-4-5-20251001", FamilyHaiku, 1_000_000, 5_000_000, 1_250_000, 2_000_000, 100_000),
		claude("claude-3-5-haiku-20241022", FamilyHaiku, 800_000, 4_000_000, 1_000_000, 1_600_000, 80_000),

		// openai(id, input, cachedInput, output)
		openai("gpt-5", 1_250_000, 125_000, 10_000_000),
		openai("gpt-5-codex", 1_250_000, 125_000, 10_000_000),
		openai("gpt-5-mini", 250_000, 25_000, 2_000_000),
		openai("gpt-5-nano", 50_000, 5_000, 400_000),
	}
}

// builtinAliases are the providers' own aliases and snapshot names, each
// pointing at one dated (or undated canonical) model id.
func builtinAliases() map[string]string {
	return map[string]string{
		"claude-opus-4-5":         "claude-opus-4-5-20251101",
		"claude-opus-4-1":         "claude-opus-4-1-20250805",
		"claude-opus-4-0":         "claude-opus-4-20250514",
		"claude-opus-4":           "claude-opus-4-20250514",
		"claude-sonnet-4-5":       "claude-sonnet-4-5-20250929",
		"claude-sonnet-4-0":       "claude-sonnet-4-20250514",
		"claude-sonnet-4":         "claude-sonnet-4-20250514",
		"claude-haiku-4-5":        "claude-haiku-4-5-20251001",
		"claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
		"gpt-5-2025-08-07":        "gpt-5",
		"gpt-5-mini-2025-08-07":   "gpt-5-mini",
		"gpt-5-nano-2025-08-07":   "gpt-5-nano",
	}
}
