package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Load reads a price file (PRICING_FILE) and returns the built-in table
// overridden and extended by it:
//
//	{
//	  "models": {
//	    "<id>": {"input": 3, "output": 15, "cacheWrite5m": 3.75, "cacheWrite1h": 6,
//	             "cacheRead": 0.3, "family": "sonnet", "openai": false}
//	  },
//	  "aliases": {"<alias>": "<id>"}
//	}
//
// Prices are USD per million tokens, plain decimals parsed exactly into
// micro-dollars ("0.125" is 125_000 µ$/MTok); more than six significant
// decimals, an exponent, a negative price or one above MaxPrice is an error
// naming the model and the field. input, output and cacheRead are required;
// cacheWrite5m and cacheWrite1h too unless "openai" is true (OpenAI has no
// cache-write price). "family" is opus, sonnet, haiku, gpt or omitted.
//
// A model in the file replaces the built-in entry of that id as a whole (and
// shadows a built-in alias of that name); an alias in the file adds to or
// replaces a built-in alias. Unknown fields and trailing data are errors.
func Load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("pricing: %s: %w", path, err)
	}
	return t, nil
}

type fileTable struct {
	Models  map[string]fileModel `json:"models"`
	Aliases map[string]string    `json:"aliases"`
}

type fileModel struct {
	Input        json.Number `json:"input"`
	Output       json.Number `json:"output"`
	CacheWrite5m json.Number `json:"cacheWrite5m"`
	CacheWrite1h json.Number `json:"cacheWrite1h"`
	CacheRead    json.Number `json:"cacheRead"`
	Family       Family      `json:"family"`
	OpenAI       bool        `json:"openai"`
}

func parse(data []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileTable
	if err := dec.Decode(&f); err != nil {
		if err == io.EOF {
			return nil, errors.New("empty file")
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}

	prices := make(map[string]Price)
	for _, p := range builtinPrices() {
		prices[p.Model] = p
	}
	aliases := builtinAliases()
	var errs []error
	for id, m := range f.Models {
		p, err := m.price(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		prices[id] = p
		delete(aliases, id)
	}
	for alias, id := range f.Aliases {
		aliases[alias] = id
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	list := make([]Price, 0, len(prices))
	for _, p := range prices {
		list = append(list, p)
	}
	return build(list, aliases)
}

func (m fileModel) price(id string) (Price, error) {
	p := Price{Model: id, Family: m.Family, CachedIncludedInInput: m.OpenAI}
	var errs []error
	for _, f := range []struct {
		name     string
		v        json.Number
		dst      *int64
		optional bool
	}{
		{"input", m.Input, &p.Input, false},
		{"output", m.Output, &p.Output, false},
		{"cacheWrite5m", m.CacheWrite5m, &p.CacheWrite5m, m.OpenAI},
		{"cacheWrite1h", m.CacheWrite1h, &p.CacheWrite1h, m.OpenAI},
		{"cacheRead", m.CacheRead, &p.CacheRead, false},
	} {
		if f.v == "" {
			if !f.optional {
				errs = append(errs, fmt.Errorf("model %q: field %q: missing", id, f.name))
			}
			continue
		}
		v, err := parseMicros(string(f.v))
		if err != nil {
			errs = append(errs, fmt.Errorf("model %q: field %q: %w", id, f.name, err))
			continue
		}
		*f.dst = v
	}
	if err := errors.Join(errs...); err != nil {
		return Price{}, err
	}
	if err := p.validate(); err != nil {
		return Price{}, err
	}
	return p, nil
}

// parseMicros parses a plain non-negative decimal number of USD per million
// tokens into micro-dollars per million tokens, exactly.
func parseMicros(s string) (int64, error) {
	switch {
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("negative price %s", s)
	case strings.ContainsAny(s, "eE"):
		return 0, fmt.Errorf("price %s: write a plain decimal, without an exponent", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 6 {
		return 0, fmt.Errorf("price %s: more than 6 decimals (finer than one micro-dollar per MTok)", s)
	}
	if !allDigits(whole) || !allDigits(frac) || whole == "" {
		return 0, fmt.Errorf("price %q: not a decimal number", s)
	}
	const maxWhole = MaxPrice / 1_000_000
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > maxWhole {
		return 0, fmt.Errorf("price %s: above the maximum of %d USD per MTok", s, maxWhole)
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	}
	v := w*1_000_000 + f
	if v > MaxPrice {
		return 0, fmt.Errorf("price %s: above the maximum of %d USD per MTok", s, maxWhole)
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
