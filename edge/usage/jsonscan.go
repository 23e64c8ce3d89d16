package usage

import (
	"bytes"
	"encoding/json"
)

// The helpers here find one member of a JSON object by walking its top-level
// members and skipping their values without decoding them. That lets the
// Reader read an event's "type" in a few bytes, and narrow a large event (an
// OpenAI terminal event repeats the whole response, output included) to the
// small usage object before encoding/json sees it. They never panic and never
// allocate; on input that is not a JSON object they report "not found".

// member returns the raw JSON value of the first member named key in the JSON
// object obj. Keys are compared as written: the APIs' keys are plain ASCII and
// never escaped.
func member(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil, false
		}
		ke, ok := skipString(obj, i)
		if !ok {
			return nil, false
		}
		k := obj[i+1 : ke-1]
		i = skipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
		ve, ok := skipValue(obj, i)
		if !ok {
			return nil, false
		}
		if string(k) == key {
			return obj[i:ve], true
		}
		i = skipSpace(obj, ve)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i++
	}
}

// stringValue returns the contents, escapes left as they are, of the string
// member key of obj. It suits comparing against known plain-ASCII values.
func stringValue(obj []byte, key string) ([]byte, bool) {
	v, ok := member(obj, key)
	if !ok || len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// jsonString decodes the raw JSON string v. It returns cur itself when v
// spells it, so recording the same model again does not allocate.
func jsonString(v []byte, cur string) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		if string(s) == cur {
			return cur, true
		}
		return string(s), true
	}
	var out string
	if json.Unmarshal(v, &out) != nil {
		return "", false
	}
	return out, true
}

func skipSpace(b []byte, i int) int {
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

// skipValue returns the end of the JSON value starting at b[i]. It checks
// only what it needs to find that end.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ':', '"', '{', '[', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, false
			}
			return j, true
		}
		j++
	}
	// A number at the very end of the input: the object is unterminated, and
	// member reports that when it looks for the next ',' or '}'.
	return j, j > i
}

// skipString returns the end of the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false
		}
		q := j + k
		// The quote is escaped when an odd run of backslashes precedes it.
		// Each backslash is counted once, before the one quote that ends its
		// run, so this stays linear.
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}

// skipNested returns the end of the object or array starting at b[i].
func skipNested(b []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			e, ok := skipString(b, j)
			if !ok {
				return 0, false
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}
