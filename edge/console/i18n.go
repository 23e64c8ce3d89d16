package console

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Languages the console speaks, the first being the default. Every string a
// page shows comes from the catalogue of its language
// (assets/i18n/<tag>.json, a flat object of key to text); a test checks
// that both catalogues hold the same keys and that every key the templates
// and the Go code use exists.
var languages = []string{"en", "zh-CN"}

// Locale is one language's catalogue.
type Locale struct {
	Tag  string
	msgs map[string]string
}

// T returns the text of key. A missing key shows as the key itself (the
// catalogue test keeps that from shipping).
func (l *Locale) T(key string) string {
	if m, ok := l.msgs[key]; ok {
		return m
	}
	return key
}

// F formats the text of key with args, as fmt.Sprintf.
func (l *Locale) F(key string, args ...any) string {
	return fmt.Sprintf(l.T(key), args...)
}

// Has reports whether key is in the catalogue.
func (l *Locale) Has(key string) bool {
	_, ok := l.msgs[key]
	return ok
}

func loadLocales(assets fs.FS) (map[string]*Locale, error) {
	out := make(map[string]*Locale, len(languages))
	for _, tag := range languages {
		b, err := fs.ReadFile(assets, "assets/i18n/"+tag+".json")
		if err != nil {
			return nil, err
		}
		var msgs map[string]string
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", tag, err)
		}
		out[tag] = &Locale{Tag: tag, msgs: msgs}
	}
	return out, nil
}

// supported maps a language tag as browsers send it to one of ours: any
// Chinese goes to Simplified Chinese (the console has no Traditional
// catalogue, and Chinese readers read it more easily than English), any
// English to English.
func supported(tag string) (string, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	base, _, _ := strings.Cut(tag, "-")
	switch base {
	case "en":
		return "en", true
	case "zh":
		return "zh-CN", true
	}
	return "", false
}

// negotiate picks the language of an Accept-Language header: the
// supported tag of highest q (the earlier on ties), else English.
func negotiate(header string) string {
	type choice struct {
		tag string
		q   float64
		i   int
	}
	var choices []choice
	for i, part := range strings.Split(header, ",") {
		if i >= 32 {
			break // no browser sends more; bound the work
		}
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if t, ok := supported(tag); ok && q > 0 {
			choices = append(choices, choice{t, q, i})
		}
	}
	if len(choices) == 0 {
		return languages[0]
	}
	sort.SliceStable(choices, func(a, b int) bool { return choices[a].q > choices[b].q })
	return choices[0].tag
}
