package clientreq

import (
	"encoding/json"
	"strings"
	"testing"
)

// nesting is the deepest level of objects and arrays in valid JSON b.
func nesting(b []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i) - 1
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// checkValidate holds validate to json.Valid and to the depth limit.
func checkValidate(t *testing.T, b []byte) {
	t.Helper()
	ok, tooDeep := validate(b)
	want := json.Valid(b)
	if want && nesting(b) > MaxDepth {
		if ok || !tooDeep {
			t.Fatalf("%q: nested %d levels: ok %v, tooDeep %v", b, nesting(b), ok, tooDeep)
		}
		return
	}
	if tooDeep {
		// A too-deep prefix is refused before the rest is read; such a
		// body is never valid within the limit.
		if want {
			t.Fatalf("%q: valid and %d levels deep, but refused as too deep", b, nesting(b))
		}
		return
	}
	if ok != want {
		t.Fatalf("%q: validate %v, json.Valid %v", b, ok, want)
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []string{
		``, ` `, `{}`, `[]`, ` { } `, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{,}`, `[1,]`, `[,1]`, `[1 2]`,
		`"x"`, `"\u00e9\n\"\\\/\b\f\r\t"`, `"\u00g0"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"", `"unterminated`,
		`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-`, `1e`, `-1.25e-10`, `2x`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `[true,false,null]`, `{"a":[{"b":{"c":[]}}]}`,
		`{"a":1}{}`, `{"a":1} x`, `[}`, `{]`, `{"a":[}`, "\ufeff{}", `{"a":"b"}` + "\x00",
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth+1),
	} {
		checkValidate(t, []byte(s))
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `[1,-2.5e3,"\u00e9",true,null]`, `{"a":{"b":[]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkValidate(t, b) })
}

// BenchmarkValidate compares validate with what it replaced, json.Valid
// plus a depth count, on a Claude Code body.
func BenchmarkValidate(b *testing.B) {
	body := claudeCodeBody(b)
	b.Run("validate", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if ok, _ := validate(body); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("json.Valid+depth", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) || nesting(body) > MaxDepth {
				b.Fatal("refused")
			}
		}
	})
}
