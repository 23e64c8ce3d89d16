package usage

import (
	"encoding/json"
	"strconv"

	"relay/events"
)

// FromJSON extracts the token usage and the model from body, a complete
// non-streaming response of the dialect d (an Anthropic Message or an OpenAI
// Response). ok is true only for a well-formed JSON object with a "usage"
// object; it is false for an error body, a truncated or malformed body, or an
// unknown dialect. It never panics, whatever body holds.
func FromJSON(body []byte, d Dialect) (t events.Tokens, model string, ok bool) {
	if !json.Valid(body) {
		return t, "", false
	}
	v, found := member(body, "usage")
	if !found {
		return t, "", false
	}
	switch d {
	case Anthropic:
		var u anthropicUsage
		if !decode(v, &u) {
			return t, "", false
		}
		u.merge(&t)
	case OpenAI:
		var u openaiUsage
		if !decode(v, &u) {
			return t, "", false
		}
		u.apply(&t)
	default:
		return t, "", false
	}
	if m, found := member(body, "model"); found {
		model, _ = jsonString(m, "")
	}
	return t, model, true
}

// decode decodes the small JSON object v into dst. A field of an unexpected
// type only loses that field: encoding/json fills the others and reports an
// UnmarshalTypeError, which is no reason to lose a whole usage report.
func decode(v []byte, dst any) bool {
	if len(v) == 0 || v[0] != '{' {
		return false
	}
	err := json.Unmarshal(v, dst)
	if err == nil {
		return true
	}
	_, typeErr := err.(*json.UnmarshalTypeError)
	return typeErr
}

// maxCount bounds a token count. It is far beyond any real figure and keeps
// sums of counts clear of int64 overflow.
const maxCount = 1 << 50

// count is a token count as an upstream writes it. Decoding it never fails:
// anything but a non-negative number (null, a string, a negative or huge
// number) reads as absent, so one odd field does not cost the others.
type count struct {
	n   int64
	set bool
}

func (c *count) UnmarshalJSON(b []byte) error {
	*c = count{}
	if n, ok := parseCount(b); ok {
		*c = count{n: n, set: true}
	}
	return nil
}

func parseCount(b []byte) (int64, bool) {
	if len(b) > 0 && len(b) <= 15 {
		var n int64
		digits := true
		for _, c := range b {
			if c < '0' || c > '9' {
				digits = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if digits {
			return n, n <= maxCount
		}
	}
	// Some providers write counts as floats ("12.0", "1.2e3").
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(f >= 0 && f <= maxCount) {
		return 0, false
	}
	return int64(f), true
}
