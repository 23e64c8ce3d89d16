package usage

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzReader: no input makes the Reader panic or lose, add or reorder a byte,
// and what it observes does not depend on how the source splits its reads.
func FuzzReader(f *testing.F) {
	f.Add([]byte(anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 2, anthropicStop)), byte(5), byte(1))
	f.Add([]byte(lineEndings(openaiStream(2, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage)), "\r\n")), byte(40), byte(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk, dialect byte) {
		d := Dialect(dialect % 3)
		evs, tail, whole := readStream(t, NewReader(bytes.NewReader(data), d))
		if !bytes.Equal(concat(evs, tail), data) {
			t.Fatal("returned bytes differ from the input")
		}

		sizes := []int{1 + int(chunk%13), int(chunk >> 5), 1}
		evs, tail, split := readStream(t, NewReader(&chunkReader{data: data, sizes: sizes}, d))
		if !bytes.Equal(concat(evs, tail), data) {
			t.Fatalf("reads of %v: returned bytes differ from the input", sizes)
		}
		if split != whole {
			t.Fatalf("reads of %v: observed %+v, whole %+v", sizes, split, whole)
		}

		// With a small limit the stream may stop early, but only at an event
		// boundary and only with ErrEventTooLarge.
		rd := NewReader(&chunkReader{data: data, sizes: sizes}, d)
		rd.MaxEventBytes = 16 + int(chunk)
		evs, tail, limited := readStream(t, rd)
		got := concat(evs, tail)
		if limited.End == ErrEventTooLarge {
			if !bytes.HasPrefix(data, got) || len(tail) != 0 {
				t.Fatal("ErrEventTooLarge: returned bytes are not a prefix of the input")
			}
		} else if !bytes.Equal(got, data) {
			t.Fatalf("MaxEventBytes %d: returned bytes differ from the input", rd.MaxEventBytes)
		}
		for _, ev := range evs {
			if len(ev) > rd.MaxEventBytes {
				t.Fatalf("MaxEventBytes %d: returned an event of %d bytes", rd.MaxEventBytes, len(ev))
			}
		}
	})
}

// FuzzFromJSON: no body makes FromJSON panic or report a negative count, and
// the member scanner agrees with encoding/json on well-formed objects.
func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(anthropicMessage), byte(1))
	f.Add([]byte(openaiResponse), byte(2))
	f.Fuzz(func(t *testing.T, body []byte, dialect byte) {
		tokens, _, ok := FromJSON(body, Dialect(dialect%3))
		for _, n := range []int64{tokens.InputTokens, tokens.OutputTokens, tokens.CacheCreateTokens,
			tokens.CacheCreate1hTokens, tokens.CacheReadTokens, tokens.ReasoningTokens} {
			if n < 0 || (!ok && n != 0) {
				t.Fatalf("FromJSON = %+v, %v", tokens, ok)
			}
		}

		var m map[string]json.RawMessage
		if !json.Valid(body) || bytes.IndexByte(body, '\\') >= 0 || json.Unmarshal(body, &m) != nil || m == nil {
			return
		}
		for _, key := range []string{"usage", "model", "type"} {
			v, found := member(body, key)
			if _, want := m[key]; found != want {
				t.Fatalf("member(%q) found = %v, encoding/json found = %v", key, found, want)
			}
			if found && !json.Valid(v) {
				t.Fatalf("member(%q) = %q, not a JSON value", key, v)
			}
		}
	})
}
