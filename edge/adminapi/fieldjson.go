package adminapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
)

// Admin entity bodies are read field by field into an action's typed input
// (admin.KeyInput, admin.AccountInput): an update must know which fields
// were sent (only those change, so an absent field and a zero value differ),
// and every error must name the field in the API's terms. This file is the
// JSON half of that: the types of JSON values and null. What a value may
// be (lengths, ranges, enums) is the action's rule. The messages never
// quote the value sent: it may be a credential.

// fieldDecoder decodes one field of an input T from its JSON value.
type fieldDecoder[T any] struct {
	name   string
	decode func(raw json.RawMessage, in *T) error
}

// readInput decodes the request body as one JSON object and every field it
// names into in, in the order of fields. A field fields do not know is an
// error naming it.
func readInput[T any](c echo.Context, fields []fieldDecoder[T], in *T) error {
	var body map[string]json.RawMessage
	if err := httpx.DecodeJSON(c, &body); err != nil {
		return err
	}
	return decodeFields(body, fields, in)
}

func decodeFields[T any](body map[string]json.RawMessage, fields []fieldDecoder[T], in *T) error {
	if body == nil {
		return fault.New(fault.Invalid, "request body must be a JSON object")
	}
	names := make([]string, 0, len(body))
	for name := range body {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.ContainsFunc(fields, func(f fieldDecoder[T]) bool { return f.name == name }) {
			shown := name
			if utf8.RuneCountInString(shown) > 64 {
				shown = string([]rune(shown)[:64]) + "..."
			}
			return fault.InvalidField(shown, fmt.Sprintf("unknown or read-only field %s", shown))
		}
	}
	for _, f := range fields {
		if raw, ok := body[f.name]; ok {
			if err := f.decode(raw, in); err != nil {
				return err
			}
		}
	}
	return nil
}

// Field decoders by JSON type. dst points at the input's field.

// textField is a JSON string; null reads as "" when nullable.
func textField[T any](name string, nullable bool, dst func(*T) *admin.Opt[string]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		s, err := jsonString(name, raw, nullable)
		*dst(in) = admin.Some(s)
		return err
	}}
}

func boolField[T any](name string, dst func(*T) *admin.Opt[bool]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		b, err := jsonBool(name, raw)
		*dst(in) = admin.Some(b)
		return err
	}}
}

func intField[T any](name string, dst func(*T) *admin.Opt[int64]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		n, err := jsonInt(name, raw)
		*dst(in) = admin.Some(n)
		return err
	}}
}

// usdField is an amount of US dollars: a JSON number, passed on as the
// decimal text it was written in, so the action reads it exactly.
func usdField[T any](name string, dst func(*T) *admin.Opt[string]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		n, ok := jsonNumber(raw)
		if !ok {
			return fault.InvalidField(name, name+" must be a number (US dollars)")
		}
		*dst(in) = admin.Some(n)
		return nil
	}}
}

// listField is an array of strings; null reads as an empty list.
func listField[T any](name string, dst func(*T) *admin.Opt[[]string]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		l, err := jsonStrings(name, raw)
		*dst(in) = admin.Some(l)
		return err
	}}
}

// timeField is an RFC 3339 date-time or null.
func timeField[T any](name string, dst func(*T) *admin.Opt[*time.Time]) fieldDecoder[T] {
	return fieldDecoder[T]{name, func(raw json.RawMessage, in *T) error {
		t, err := jsonTime(name, raw)
		*dst(in) = admin.Some(t)
		return err
	}}
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

// jsonString reads a string. null is refused unless nullable, and then
// reads as "".
func jsonString(field string, raw json.RawMessage, nullable bool) (string, error) {
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
	return s, nil
}

// sentReplacementChar reports whether a JSON string literal holds U+FFFD
// itself, raw or escaped, rather than something decoding to it.
func sentReplacementChar(raw json.RawMessage) bool {
	return bytes.Contains(raw, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`))
}

func jsonBool(field string, raw json.RawMessage) (bool, error) {
	var b bool
	if jsonIsNull(raw) || json.Unmarshal(raw, &b) != nil {
		return false, fault.InvalidField(field, field+" must be true or false")
	}
	return b, nil
}

// jsonInt reads an integer.
func jsonInt(field string, raw json.RawMessage) (int64, error) {
	n, ok := jsonNumber(raw)
	if !ok {
		return 0, fault.InvalidField(field, field+" must be an integer")
	}
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fault.InvalidField(field, field+" must be an integer")
	}
	return v, nil
}

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
	return &t, nil
}

// jsonStrings reads an array of strings; null reads as an empty list.
func jsonStrings(field string, raw json.RawMessage) ([]string, error) {
	out := []string{}
	if jsonIsNull(raw) {
		return out, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, fault.InvalidField(field, field+" must be an array of strings")
	}
	// The action bounds the count; a body holding far more is refused here
	// before any item is decoded.
	if len(items) > maxDecodedItems {
		return nil, fault.InvalidField(field, fmt.Sprintf("%s must have at most %d items", field, maxDecodedItems))
	}
	for _, item := range items {
		s, err := jsonString(field, item, false)
		if err != nil {
			return nil, fault.InvalidField(field, field+" must be an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// maxDecodedItems bounds the lists any input decodes (the actions' own
// bounds are lower).
const maxDecodedItems = 10_000

// usdFromMicros turns micro-dollars into US dollars for responses.
func usdFromMicros(micros int64) float64 { return float64(micros) / 1e6 }
