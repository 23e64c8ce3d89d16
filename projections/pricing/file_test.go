package pricing_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"relay/events"
	"relay/projections/pricing"
)

func writeFile(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "pricing.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadOverridesAndExtends(t *testing.T) {
	path := writeFile(t, t.TempDir(), `{
	  "models": {
	    "claude-sonnet-4-5-20250929": {"input": 1, "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 0.5, "family": "sonnet"},
	    "gpt-6.1-sol": {"input": 2, "output": 16, "cacheRead": 0.2, "family": "gpt", "openai": true},
	    "claude-opus-4-5": {"input": 9, "output": 9, "cacheWrite5m": 9, "cacheWrite1h": 9, "cacheRead": 9, "family": "opus"}
	  },
	  "aliases": {"sol": "gpt-6.1-sol", "claude-haiku-4-5": "claude-3-5-haiku-20241022"}
	}`)
	tab, err := pricing.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		model string
		tok   events.Tokens
		want  int64
	}{
		// Overridden: 1e6×1 + 1e6×2 + 1e6×3 + 1e6×4 + 1e6×0.5, via the built-in alias.
		{"override", "claude-sonnet-4-5", events.Tokens{InputTokens: 1e6, OutputTokens: 1e6, CacheCreateTokens: 2e6, CacheCreate1hTokens: 1e6, CacheReadTokens: 1e6}, 10_500_000_000},
		// Extended, OpenAI dialect: (1e6−5e5)×2 + 5e5×0.2 + 1e6×16.
		{"extend", "gpt-6.1-sol", events.Tokens{InputTokens: 1e6, CacheReadTokens: 5e5, OutputTokens: 1e6}, 17_100_000_000},
		{"new alias", "sol", events.Tokens{OutputTokens: 1e6}, 16_000_000_000},
		// A file model shadows the built-in alias of the same name...
		{"model shadows alias", "claude-opus-4-5", events.Tokens{InputTokens: 1e6}, 9_000_000_000},
		// ...and leaves the dated model alone.
		{"untouched dated id", "claude-opus-4-5-20251101", events.Tokens{InputTokens: 1e6}, 5_000_000_000},
		{"retargeted alias", "claude-haiku-4-5", events.Tokens{InputTokens: 1e6}, 800_000_000},
		{"untouched built-in", "gpt-5", events.Tokens{InputTokens: 1e6}, 1_250_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, priced := tab.Cost(tt.model, tt.tok)
			if !priced || got != tt.want {
				t.Fatalf("Cost(%q) = %d, %v; want %d", tt.model, got, priced, tt.want)
			}
		})
	}
	if p, _ := tab.Price("sol"); !p.CachedIncludedInInput || p.Family != pricing.FamilyGPT || p.CacheWrite5m != 0 {
		t.Errorf("gpt-6.1-sol = %+v", p)
	}
	if _, ok := pricing.Builtin().Price("gpt-6.1-sol"); ok {
		t.Error("Load changed the built-in table")
	}
}

func TestLoadParsesDecimalsExactly(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{`0.125`, 125_000},
		{`"0.125"`, 125_000}, // a quoted JSON number is accepted too
		{`0.1`, 100_000},
		{`2.675`, 2_675_000},
		{`3.7500000`, 3_750_000}, // trailing zeros are not precision
		{`0.000001`, 1},
		{`0`, 0},
		{`1000000`, pricing.MaxPrice},
		{`999999.999999`, pricing.MaxPrice - 1},
	}
	for _, tt := range tests {
		path := writeFile(t, t.TempDir(), `{"models":{"m":{"input":`+tt.in+`,"output":0,"cacheRead":0,"openai":true}}}`)
		tab, err := pricing.Load(path)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if p, _ := tab.Price("m"); p.Input != tt.want {
			t.Errorf("%s: got %d, want %d", tt.in, p.Input, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	const good = `"input":1,"output":1,"cacheWrite5m":1,"cacheWrite1h":1`
	tests := []struct {
		name string
		body string
		want []string // every one must appear in the error
	}{
		{"unknown top-level field", `{"model":{}}`, []string{`unknown field "model"`}},
		{"unknown model field", `{"models":{"m":{` + good + `,"cacheRead":1,"inputs":2}}}`, []string{`unknown field "inputs"`}},
		{"negative", `{"models":{"m":{` + good + `,"cacheRead":-0.3}}}`, []string{`model "m"`, `field "cacheRead"`, "negative"}},
		{"too many decimals", `{"models":{"m":{` + good + `,"cacheRead":0.1234567}}}`, []string{`model "m"`, `field "cacheRead"`, "more than 6 decimals"}},
		{"exponent", `{"models":{"m":{` + good + `,"cacheRead":1e-3}}}`, []string{`field "cacheRead"`, "exponent"}},
		{"too large", `{"models":{"m":{` + good + `,"cacheRead":1000000.000001}}}`, []string{`field "cacheRead"`, "maximum"}},
		{"not a number", `{"models":{"m":{` + good + `,"cacheRead":"cheap"}}}`, []string{"cheap"}},
		{"missing field", `{"models":{"m":{"input":1,"output":1,"cacheRead":1}}}`, []string{`model "m"`, `field "cacheWrite5m": missing`, `field "cacheWrite1h": missing`}},
		{"unknown family", `{"models":{"m":{` + good + `,"cacheRead":1,"family":"Opus"}}}`, []string{`model "m"`, `unknown family "Opus"`}},
		{"dangling alias", `{"aliases":{"a":"nope"}}`, []string{`alias "a"`, `"nope"`}},
		{"alias over a model", `{"aliases":{"gpt-5":"gpt-5-mini"}}`, []string{`alias "gpt-5": is also a model id`}},
		{"trailing data", `{}{}`, []string{"after the JSON object"}},
		{"empty", ``, []string{"empty file"}},
		{"not JSON", `models: {}`, []string{"invalid character"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), tt.body)
			tab, err := pricing.Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %v", tab.Models())
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := pricing.Load(filepath.Join(t.TempDir(), "absent.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadEmptyObjectIsBuiltin(t *testing.T) {
	tab, err := pricing.Load(writeFile(t, t.TempDir(), "{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(tab.Models(), ","), strings.Join(pricing.Builtin().Models(), ","); got != want {
		t.Errorf("models %s, want %s", got, want)
	}
}
