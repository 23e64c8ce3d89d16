package clientreq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays relay accepts. Real
// requests stay far below it (tool input schemas are the deepest part, around
// ten levels); the limit keeps a hostile body from costing stack in any
// recursive decoder that sees it later, here or upstream.
const MaxDepth = 128

// The helpers below walk JSON text by bytes. validate and stringEnd are safe
// on any input; the others assume validate already accepted it, which is
// what lets them stay this small.

// stringEnd returns the index just past the closing quote of the string
// whose opening quote is b[i], or -1 if it is unterminated. It jumps from
// quote to quote with bytes.IndexByte, because prompt text is most of a body.
// A quote preceded by an odd run of backslashes is escaped; each backslash is
// counted once, so the scan stays linear.
func stringEnd(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// object checks that body is one valid JSON object no deeper than MaxDepth
// and returns the index of its opening brace.
func object(body []byte) (int, error) {
	start := skipWS(body, 0)
	if start == len(body) {
		return 0, newError(ErrEmpty, "request body is empty")
	}
	ok, tooDeep := validate(body)
	if tooDeep {
		return 0, newError(ErrTooDeep, fmt.Sprintf("request body nests deeper than %d levels", MaxDepth))
	}
	if !ok {
		return 0, syntaxError(body)
	}
	if body[start] != '{' {
		return 0, newError(ErrNotObject, "request body must be a JSON object")
	}
	return start, nil
}

// syntaxError describes why body is invalid. It runs only on the failure
// path, so decoding again to learn the offset costs nothing that matters.
// The message names a character and an offset, never a piece of the body.
func syntaxError(body []byte) *Error {
	var v struct{}
	err := json.Unmarshal(body, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		return newError(ErrSyntax, fmt.Sprintf("request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset))
	}
	return newError(ErrSyntax, "request body is not valid JSON")
}

// members calls fn with the unescaped key and the value bounds (indices into
// b) of each member of the valid object starting at b[i], in order, and stops
// at fn's first error. Keys are compared exactly, as the upstream APIs do;
// encoding/json's case-insensitive matching would let "MODEL" stand in for
// "model" here while the upstream reads another key.
func members(b []byte, i int, fn func(key []byte, start, end int) error) error {
	i = skipWS(b, i+1)
	if b[i] == '}' {
		return nil
	}
	for {
		kEnd := stringEnd(b, i)
		key := unescapeKey(b[i:kEnd])
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // past ':'
		end := skipValue(b, i)
		if err := fn(key, i, end); err != nil {
			return err
		}
		i = skipWS(b, end)
		if b[i] == '}' {
			return nil
		}
		i = skipWS(b, i+1) // past ','
	}
}

// elements calls fn with each element of the valid array v until fn returns
// false.
func elements(v []byte, fn func(elem []byte) bool) {
	i := skipWS(v, 1)
	if i >= len(v) || v[i] == ']' {
		return
	}
	for {
		end := skipValue(v, i)
		if !fn(v[i:end]) {
			return
		}
		i = skipWS(v, end)
		if i >= len(v) || v[i] == ']' {
			return
		}
		i = skipWS(v, i+1)
	}
}

// firstElement returns the first element of the JSON array v, or nil if v
// is not an array or is empty. The result aliases v.
func firstElement(v []byte) []byte {
	if len(v) == 0 || v[0] != '[' {
		return nil
	}
	var first []byte
	elements(v, func(e []byte) bool { first = e; return false })
	return first
}

// unescapeKey returns the key a quoted JSON string denotes, without
// allocating in the common case of a key without escapes.
func unescapeKey(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	s, _ := unquote(raw)
	return []byte(s)
}

// unquote decodes the JSON string raw; ok is false if raw is not a string.
// It decodes the way encoding/json does (invalid UTF-8 becomes U+FFFD), but
// skips the decoder when there is nothing to unescape.
func unquote(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
