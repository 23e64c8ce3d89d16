package admin

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"relay/edge/fault"
)

// Opt is one field of an input. Set reports whether the caller gave it: an
// update changes only the fields set, so an absent field and a zero value
// differ. A transport sets what its request names; a page sets what its
// form shows.
type Opt[T any] struct {
	Set   bool
	Value T
}

// Some is a field set to v.
func Some[T any](v T) Opt[T] { return Opt[T]{Set: true, Value: v} }

// Limits of entity fields, shared by keys and accounts.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 2000
	maxListItems      = 500
	maxModelNameLen   = 200
	// maxUSD bounds money fields so micro-dollars stay far from overflow.
	maxUSD = 1_000_000_000
)

// The rules below never quote the value given: it may be a credential.

// checkText trims s and checks its length (in characters) and that it has
// no control characters (multiline allows line breaks and tabs).
func checkText(field, s string, maxLen int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxLen {
		return "", fault.InvalidField(field, fmt.Sprintf("%s must be at most %d characters", field, maxLen))
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return "", fault.InvalidField(field, field+" must not contain control characters")
		}
	}
	return s, nil
}

// checkName is checkText for a name, which must not be empty.
func checkName(field, s string) (string, error) {
	s, err := checkText(field, s, MaxNameLen, false)
	if err == nil && s == "" {
		err = fault.InvalidField(field, field+" must not be empty")
	}
	return s, err
}

// checkEnum checks that s is one of allowed.
func checkEnum(field, s string, allowed ...string) (string, error) {
	if !slices.Contains(allowed, s) {
		return "", fault.InvalidField(field, fmt.Sprintf("%s must be one of %s", field, strings.Join(allowed, ", ")))
	}
	return s, nil
}

// checkRange checks that n is in [lo, hi].
func checkRange(field string, n int64, lo, hi int) (int, error) {
	if n < int64(lo) || n > int64(hi) {
		return 0, fault.InvalidField(field, fmt.Sprintf("%s must be between %d and %d", field, lo, hi))
	}
	return int(n), nil
}

// parseUSD reads a non-negative amount of US dollars written as a decimal
// number ("5", "0.25", "1e3") and returns it in integer micro-dollars, the
// unit of events, exactly: the text is read as a rational number, never as
// a float, and rounded half away from zero at the micro-dollar.
func parseUSD(field, text string) (int64, error) {
	text = strings.TrimSpace(text)
	if !decimalPattern.MatchString(text) {
		return 0, fault.InvalidField(field, field+" must be a number (US dollars)")
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return 0, fault.InvalidField(field, field+" must be a number (US dollars)")
	}
	if r.Sign() < 0 || r.Cmp(big.NewRat(maxUSD, 1)) > 0 {
		return 0, fault.InvalidField(field, fmt.Sprintf("%s must be between 0 and %d US dollars", field, maxUSD))
	}
	micros := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
	// Round half up (the amount is not negative): floor(x + 1/2).
	micros.Add(micros, big.NewRat(1, 2))
	q := new(big.Int).Quo(micros.Num(), micros.Denom())
	return q.Int64(), nil
}

// decimalPattern is a decimal number, its exponent short enough that
// reading it exactly costs nothing.
var decimalPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$`)

// checkList checks a list of at most maxItems distinct non-empty strings,
// each at most maxLen characters without control characters and, when
// allowed is given, one of allowed. Duplicates are dropped, the order kept.
func checkList(field string, items []string, maxItems, maxLen int, allowed ...string) ([]string, error) {
	if len(items) > maxItems {
		return nil, fault.InvalidField(field, fmt.Sprintf("%s must have at most %d items", field, maxItems))
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, err := checkText(field, item, maxLen, false)
		if err != nil {
			return nil, fault.InvalidField(field, fmt.Sprintf("%s must be an array of strings of at most %d characters without control characters", field, maxLen))
		}
		if s == "" {
			return nil, fault.InvalidField(field, field+" must not contain empty strings")
		}
		if len(allowed) > 0 && !slices.Contains(allowed, s) {
			return nil, fault.InvalidField(field, fmt.Sprintf("%s items must be one of %s", field, strings.Join(allowed, ", ")))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}
