package adminapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"relay/edge/fault"
	"relay/edge/httpx"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Admin entity bodies are read field by field rather than into a struct, for
// two reasons: an update must know which fields were sent (only those
// change, so an absent field and a zero value differ), and every error must
// name the field in the API's terms. The messages never quote the value
// sent: it may be a credential.

// fieldSpec is one field of an admin entity's JSON body: its API name, the
// names it sets in the event payload (T's wire form), and how it is parsed
// and validated into T.
type fieldSpec[T any] struct {
	name string
	wire []string
	set  func(raw json.RawMessage, dst *T) error
}

// readFields decodes the request body as one JSON object and applies every
// field it names, in the order of specs, onto dst. It returns the names
// sent; a field specs do not know is an error naming it.
func readFields[T any](c echo.Context, specs []fieldSpec[T], dst *T) (map[string]bool, error) {
	var body map[string]json.RawMessage
	if err := httpx.DecodeJSON(c, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, fault.New(fault.Invalid, "request body must be a JSON object")
	}
	names := make([]string, 0, len(body))
	for name := range body {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.ContainsFunc(specs, func(f fieldSpec[T]) bool { return f.name == name }) {
			shown := name
			if utf8.RuneCountInString(shown) > 64 {
				shown = string([]rune(shown)[:64]) + "..."
			}
			return nil, fault.InvalidField(shown, fmt.Sprintf("unknown or read-only field %s", shown))
		}
	}
	sent := make(map[string]bool, len(body))
	for _, f := range specs {
		raw, ok := body[f.name]
		if !ok {
			continue
		}
		if err := f.set(raw, dst); err != nil {
			return nil, err
		}
		sent[f.name] = true
	}
	return sent, nil
}

// wireChanges returns the fields of payload (marshalled in its wire form)
// that the sent API fields and the extra wire names set: the Changes of an
// update event.
func wireChanges[T any](payload any, specs []fieldSpec[T], sent map[string]bool, extra ...string) (json.RawMessage, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	changes := map[string]json.RawMessage{}
	for _, f := range specs {
		if sent[f.name] {
			for _, w := range f.wire {
				changes[w] = all[w]
			}
		}
	}
	for _, w := range extra {
		changes[w] = all[w]
	}
	return json.Marshal(changes)
}

func jsonIsNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// jsonNumber reads a JSON number literal; unlike json.Number alone it
// refuses a number in a string ("5").
func jsonNumber(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	var n json.Number
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return string(n), true
}

// jsonString reads a string of at most maxLen characters without control
// characters (multiline allows line breaks and tabs), trimmed of
// surrounding space. null is refused unless nullable, and then reads as "".
func jsonString(field string, raw json.RawMessage, maxLen int, nullable, multiline bool) (string, error) {
	if jsonIsNull(raw) {
		if nullable {
			return "", nil
		}
		return "", fault.InvalidField(field, field+" must not be null")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fault.InvalidField(field, field+" must be a string")
	}
	if strings.ContainsRune(s, utf8.RuneError) && !sentReplacementChar(raw) {
		// An unpaired surrogate escape (\ud800), which encoding/json
		// decodes to U+FFFD.
		return "", fault.InvalidField(field, field+" must be valid UTF-8 (no unpaired surrogate escapes)")
	}
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

// sentReplacementChar reports whether a JSON string literal holds U+FFFD
// itself, raw or escaped, rather than something decoding to it.
func sentReplacementChar(raw json.RawMessage) bool {
	return bytes.Contains(raw, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`))
}

// jsonEnum reads a string that must be one of allowed.
func jsonEnum(field string, raw json.RawMessage, allowed ...string) (string, error) {
	var s string
	if jsonIsNull(raw) || json.Unmarshal(raw, &s) != nil || !slices.Contains(allowed, s) {
		return "", fault.InvalidField(field, fmt.Sprintf("%s must be one of %s", field, strings.Join(allowed, ", ")))
	}
	return s, nil
}

func jsonBool(field string, raw json.RawMessage) (bool, error) {
	var b bool
	if jsonIsNull(raw) || json.Unmarshal(raw, &b) != nil {
		return false, fault.InvalidField(field, field+" must be true or false")
	}
	return b, nil
}

// jsonInt reads an integer in [lo, hi].
func jsonInt(field string, raw json.RawMessage, lo, hi int) (int, error) {
	n, ok := jsonNumber(raw)
	if !ok {
		return 0, fault.InvalidField(field, field+" must be an integer")
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fault.InvalidField(field, field+" must be an integer")
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, fault.InvalidField(field, fmt.Sprintf("%s must be between %d and %d", field, lo, hi))
	}
	return int(v), nil
}

// maxUSD bounds money fields so micro-dollars stay far from overflow.
const maxUSD = 1e9

// jsonUSD reads a non-negative amount of US dollars and returns it in
// integer micro-dollars, the unit of events and Redis.
func jsonUSD(field string, raw json.RawMessage) (int64, error) {
	n, ok := jsonNumber(raw)
	if !ok {
		return 0, fault.InvalidField(field, field+" must be a number (US dollars)")
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fault.InvalidField(field, field+" must be a number (US dollars)")
	}
	if f < 0 || f > maxUSD {
		return 0, fault.InvalidField(field, fmt.Sprintf("%s must be between 0 and %.0f US dollars", field, maxUSD))
	}
	return int64(math.Round(f * 1e6)), nil
}

// usd turns micro-dollars into US dollars for responses.
func usdFromMicros(micros int64) float64 { return float64(micros) / 1e6 }

// jsonTime reads an RFC 3339 time or null.
func jsonTime(field string, raw json.RawMessage) (*time.Time, error) {
	if jsonIsNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, fault.InvalidField(field, field+" must be an RFC 3339 date-time string or null")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fault.InvalidField(field, field+" must be an RFC 3339 date-time such as 2030-01-02T15:04:05Z")
	}
	t = t.UTC()
	return &t, nil
}

// jsonStrings reads a list of at most maxItems distinct non-empty strings,
// each at most maxLen characters and, when allowed is given, one of
// allowed. null reads as an empty list. Duplicates are dropped, the order
// kept.
func jsonStrings(field string, raw json.RawMessage, maxItems, maxLen int, allowed ...string) ([]string, error) {
	out := []string{}
	if jsonIsNull(raw) {
		return out, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, fault.InvalidField(field, field+" must be an array of strings")
	}
	if len(items) > maxItems {
		return nil, fault.InvalidField(field, fmt.Sprintf("%s must have at most %d items", field, maxItems))
	}
	for _, item := range items {
		s, err := jsonString(field, item, maxLen, false, false)
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
