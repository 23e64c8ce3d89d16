package pricing

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxPrice bounds every price of a table: one million dollars per million
// tokens, in micro-dollars. It keeps the exact sum of Cost far inside 128 bits.
const MaxPrice int64 = 1_000_000 * 1_000_000

// Family groups models for limits and statistics.
type Family string

// Model families. The empty Family means "other".
const (
	FamilyOpus   Family = "opus"
	FamilySonnet Family = "sonnet"
	FamilyHaiku  Family = "haiku"
	FamilyGPT    Family = "gpt"
)

func (f Family) valid() bool {
	switch f {
	case "", FamilyOpus, FamilySonnet, FamilyHaiku, FamilyGPT:
		return true
	}
	return false
}

// Price is one model's list price. Every amount is micro-dollars per million
// tokens.
type Price struct {
	// Model is the canonical model id (never an alias).
	Model  string
	Family Family
	// CachedIncludedInInput marks the OpenAI dialect: input tokens include
	// the cache reads, which are priced at CacheRead instead of Input.
	// Anthropic reports them apart (false).
	CachedIncludedInInput bool

	Input        int64
	Output       int64
	CacheWrite5m int64
	CacheWrite1h int64
	CacheRead    int64
}

func (p Price) validate() error {
	var errs []error
	if p.Model == "" {
		errs = append(errs, errors.New("empty model id"))
	}
	if !p.Family.valid() {
		errs = append(errs, fmt.Errorf("unknown family %q (want opus, sonnet, haiku, gpt or empty)", p.Family))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"input", p.Input}, {"output", p.Output}, {"cacheWrite5m", p.CacheWrite5m},
		{"cacheWrite1h", p.CacheWrite1h}, {"cacheRead", p.CacheRead},
	} {
		if f.v < 0 || f.v > MaxPrice {
			errs = append(errs, fmt.Errorf("%s: %d µ$/MTok outside [0, %d]", f.name, f.v, MaxPrice))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model %q: %w", p.Model, err)
	}
	return nil
}

// Table maps model ids and aliases to prices. It is immutable after
// construction and safe for concurrent use. A nil *Table knows no model.
type Table struct {
	models  map[string]Price
	aliases map[string]string
}

// New builds a table from prices and aliases (alias -> model id). It rejects
// duplicate ids, negative or oversized prices, unknown families, an alias
// that is also a model id, and an alias whose target is not a model id
// (aliases do not chain).
func New(prices []Price, aliases map[string]string) (*Table, error) {
	t, err := build(prices, aliases)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return t, nil
}

func build(prices []Price, aliases map[string]string) (*Table, error) {
	t := &Table{
		models:  make(map[string]Price, len(prices)),
		aliases: make(map[string]string, len(aliases)),
	}
	var errs []error
	for _, p := range prices {
		if err := p.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := t.models[p.Model]; dup {
			errs = append(errs, fmt.Errorf("model %q: listed twice", p.Model))
			continue
		}
		t.models[p.Model] = p
	}
	for alias, target := range aliases {
		switch _, isModel := t.models[alias]; {
		case alias == "":
			errs = append(errs, errors.New("empty alias"))
		case isModel:
			errs = append(errs, fmt.Errorf("alias %q: is also a model id", alias))
		default:
			if _, ok := t.models[target]; !ok {
				errs = append(errs, fmt.Errorf("alias %q: target %q is not a model id", alias, target))
				continue
			}
			t.aliases[alias] = target
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Price returns the price of model: its exact id first, then the alias
// table. Nothing else matches: "claude-opus-4-5-2099" is unknown even though
// "claude-opus-4-5" is an alias.
func (t *Table) Price(model string) (Price, bool) {
	if t == nil {
		return Price{}, false
	}
	if p, ok := t.models[model]; ok {
		return p, true
	}
	if id, ok := t.aliases[model]; ok {
		return t.models[id], true
	}
	return Price{}, false
}

// IsOpus reports whether usage of model counts toward the weekly Opus cost
// limit: its family is opus, or its id (as requested or as resolved)
// contains "opus" in any case. The second rule covers unknown models on
// purpose: a new or misspelled Opus id that the table cannot price must not
// slip past an Opus limit just because it is unpriced.
func (t *Table) IsOpus(model string) bool {
	if p, ok := t.Price(model); ok && (p.Family == FamilyOpus || containsOpus(p.Model)) {
		return true
	}
	return containsOpus(model)
}

func containsOpus(s string) bool { return strings.Contains(strings.ToLower(s), "opus") }

// Models returns the canonical model ids of the table, sorted.
func (t *Table) Models() []string {
	if t == nil {
		return nil
	}
	ids := make([]string, 0, len(t.models))
	for id := range t.models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Aliases returns a copy of the alias table (alias -> model id).
func (t *Table) Aliases() map[string]string {
	out := make(map[string]string)
	if t == nil {
		return out
	}
	for a, id := range t.aliases {
		out[a] = id
	}
	return out
}
