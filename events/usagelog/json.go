package usagelog

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unsafe"
)

// The helpers here walk a JSON object's top-level members and skip their
// values without decoding them, so reading the five fields a filter needs
// out of a usage event costs one pass over its bytes and no allocation.
// They never panic; on input that is not a JSON object they report false.

// members calls fn with the key (as written, escapes left in place) and the
// raw value of each top-level member of obj, until fn returns false. It
// reports whether obj was a well-formed object as far as it was read.
func members(obj []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return false
		}
		ke, ok := skipString(obj, i)
		if !ok {
			return false
		}
		key := obj[i+1 : ke-1]
		i = skipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipSpace(obj, i+1)
		ve, ok := skipValue(obj, i)
		if !ok {
			return false
		}
		if !fn(key, obj[i:ve]) {
			return true
		}
		i = skipSpace(obj, ve)
		switch {
		case i < len(obj) && obj[i] == ',':
			i = skipSpace(obj, i+1)
		case i < len(obj) && obj[i] == '}':
			return true
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// class marks the bytes skipValue stops at between strings, so its inner
// loop is one table load and one compare per byte.
var class = func() (t [256]uint8) {
	for _, c := range `"{}[]` {
		t[c] |= structural
	}
	return t
}()

const structural = 1

// skipString returns the index just past the string starting at b[i] == '"'.
// It jumps from quote to quote (bytes.IndexByte is vectorised: string
// contents are most of a usage event's bytes) and counts the backslashes
// before each: an odd number escapes it.
func skipString(b []byte, i int) (int, bool) {
	from := i + 1
	for {
		j := bytes.IndexByte(b[from:], '"')
		if j < 0 {
			return 0, false
		}
		j += from
		k := j - 1
		for k > i && b[k] == '\\' {
			k--
		}
		if (j-1-k)%2 == 0 {
			return j + 1, true
		}
		from = j + 1
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			for i < len(b) && class[b[i]]&structural == 0 {
				i++
			}
			if i >= len(b) {
				break
			}
			switch b[i] {
			case '"':
				e, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = e
				continue
			case '{', '[':
				depth++
			default: // '}', ']'
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	// A number or a literal: up to the next delimiter.
	s := i
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t' {
		i++
	}
	return i, i > s
}

// str decodes the raw JSON string v ("" when v is not a string). A
// string without escapes, which is every id relay writes, shares v's
// bytes (no copy): v is a message's payload, which nothing ever modifies,
// and the string keeps it alive for as long as it is kept.
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return ""
	}
	if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 {
		if len(s) == 0 {
			return ""
		}
		return unsafe.String(&s[0], len(s))
	}
	var out string
	if json.Unmarshal(v, &out) != nil {
		return ""
	}
	return out
}

// num decodes the raw JSON integer v; anything else (a fraction, an
// exponent, null) is 0, as encoding/json would refuse it into an int64.
func num(v []byte) int64 {
	if len(v) > 18 { // may overflow the loop below: strconv saturates
		n, _ := strconv.ParseInt(string(v), 10, 64)
		return n
	}
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 {
		return 0
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}
