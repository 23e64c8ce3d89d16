package pricing_test

import (
	"strings"
	"testing"

	"relay/projections/pricing"
)

func TestBuiltinIsValid(t *testing.T) {
	tab := pricing.Builtin() // panics if the literal is invalid
	for _, id := range tab.Models() {
		p, ok := tab.Price(id)
		if !ok || p.Model != id {
			t.Errorf("Price(%q) = %+v, %v", id, p, ok)
		}
		if p.Family == "" {
			t.Errorf("%s: built-in models carry a family", id)
		}
		if p.CachedIncludedInInput != (p.Family == pricing.FamilyGPT) {
			t.Errorf("%s: OpenAI dialect and family disagree", id)
		}
	}
	if pricing.Builtin() == tab {
		t.Error("Builtin must build a fresh table")
	}
}

func TestBuiltinListPrices(t *testing.T) {
	tab := pricing.Builtin()
	tests := []struct {
		model                           string
		in, out, write5m, write1h, read int64
		family                          pricing.Family
	}{
		{"claude-opus-5-5", 4_000_000, 20_000_000, 5_000_000, 8_000_000, 200_000, pricing.FamilyOpus},
		{"claude-opus-4-5-20251101", 5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000, pricing.FamilyOpus},
		{"claude-opus-4-1-20250805", 15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000, pricing.FamilyOpus},
		{"claude-opus-4-20250514", 15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000, pricing.FamilyOpus},
		{"claude-sonnet-4-5-20250929", 3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000, pricing.FamilySonnet},
		{"claude-sonnet-4-20250514", 3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000, pricing.FamilySonnet},
		{"claude-haiku-4-5-20251001", 1_000_000, 5_000_000, 1_250_000, 2_000_000, 100_000, pricing.FamilyHaiku},
		{"claude-3-5-haiku-20241022", 800_000, 4_000_000, 1_000_000, 1_600_000, 80_000, pricing.FamilyHaiku},
		{"gpt-5", 1_250_000, 10_000_000, 0, 0, 125_000, pricing.FamilyGPT},
		{"gpt-5-codex", 1_250_000, 10_000_000, 0, 0, 125_000, pricing.FamilyGPT},
		{"gpt-5-mini", 250_000, 2_000_000, 0, 0, 25_000, pricing.FamilyGPT},
		{"gpt-5-nano", 50_000, 400_000, 0, 0, 5_000, pricing.FamilyGPT},
	}
	for _, tt := range tests {
		p, ok := tab.Price(tt.model)
		if !ok {
			t.Errorf("%s: not priced", tt.model)
			continue
		}
		got := [5]int64{p.Input, p.Output, p.CacheWrite5m, p.CacheWrite1h, p.CacheRead}
		want := [5]int64{tt.in, tt.out, tt.write5m, tt.write1h, tt.read}
		if got != want || p.Family != tt.family {
			t.Errorf("%s: got %v %s, want %v %s", tt.model, got, p.Family, want, tt.family)
		}
	}
}

func TestAliases(t *testing.T) {
	tab := pricing.Builtin()
	tests := map[string]string{
		"claude-opus-4-5":         "claude-opus-4-5-20251101",
		"claude-opus-4-1":         "claude-opus-4-1-20250805",
		"claude-opus-4-0":         "claude-opus-4-20250514",
		"claude-sonnet-4-5":       "claude-sonnet-4-5-20250929",
		"claude-sonnet-4-0":       "claude-sonnet-4-20250514",
		"claude-sonnet-4":         "claude-sonnet-4-20250514",
		"claude-haiku-4-5":        "claude-haiku-4-5-20251001",
		"claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
		"gpt-5-2025-08-07":        "gpt-5",
		"claude-opus-5-5":         "claude-opus-5-5", // an id resolves to itself
	}
	for alias, want := range tests {
		p, ok := tab.Price(alias)
		if !ok || p.Model != want {
			t.Errorf("Price(%q).Model = %q, %v; want %q", alias, p.Model, ok, want)
		}
	}
	for _, unknown := range []string{"claude-opus-4-5-2099", "claude-sonnet-4-5-latest", "gpt-5-2099-01-01", "opus"} {
		if _, ok := tab.Price(unknown); ok {
			t.Errorf("Price(%q) resolved; want unknown", unknown)
		}
	}
	// Aliases returns a copy.
	a := tab.Aliases()
	a["claude-opus-4-5"] = "gpt-5"
	if p, _ := tab.Price("claude-opus-4-5"); p.Model != "claude-opus-4-5-20251101" {
		t.Error("Aliases leaked the table's map")
	}
}

func TestIsOpus(t *testing.T) {
	custom, err := pricing.New(
		[]pricing.Price{{Model: "house-model", Family: pricing.FamilyOpus}, {Model: "plain"}},
		map[string]string{"best": "house-model", "cheap": "plain"},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tab   *pricing.Table
		model string
		want  bool
	}{
		{pricing.Builtin(), "claude-opus-5-5", true},
		{pricing.Builtin(), "claude-opus-4-5", true}, // alias
		{pricing.Builtin(), "claude-opus-4-20250514", true},
		{pricing.Builtin(), "claude-sonnet-4-5", false},
		{pricing.Builtin(), "claude-haiku-4-5-20251001", false},
		{pricing.Builtin(), "gpt-5", false},
		{pricing.Builtin(), "claude-opus-9-9", true}, // unknown, but an Opus id
		{pricing.Builtin(), "CLAUDE-OPUS-X", true},
		{pricing.Builtin(), "gpt-6.1-sol", false},
		{custom, "house-model", true}, // by family
		{custom, "best", true},        // alias to an opus-family model
		{custom, "cheap", false},
		{nil, "claude-opus-4-5", true},
	}
	for _, tt := range tests {
		if got := tt.tab.IsOpus(tt.model); got != tt.want {
			t.Errorf("IsOpus(%q) = %v, want %v", tt.model, got, tt.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	ok := pricing.Price{Model: "m", Input: 1}
	tests := []struct {
		name    string
		prices  []pricing.Price
		aliases map[string]string
		want    string
	}{
		{"negative", []pricing.Price{{Model: "m", CacheRead: -1}}, nil, `model "m": cacheRead`},
		{"too large", []pricing.Price{{Model: "m", Output: pricing.MaxPrice + 1}}, nil, `model "m": output`},
		{"empty id", []pricing.Price{{}}, nil, "empty model id"},
		{"family", []pricing.Price{{Model: "m", Family: "Opus"}}, nil, `unknown family "Opus"`},
		{"duplicate", []pricing.Price{ok, ok}, nil, "listed twice"},
		{"dangling alias", []pricing.Price{ok}, map[string]string{"a": "x"}, `alias "a": target "x"`},
		{"alias chain", []pricing.Price{ok}, map[string]string{"a": "m", "b": "a"}, `alias "b": target "a"`},
		{"alias is a model", []pricing.Price{ok}, map[string]string{"m": "m"}, `alias "m": is also a model id`},
		{"empty alias", []pricing.Price{ok}, map[string]string{"": "m"}, "empty alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pricing.New(tt.prices, tt.aliases)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
