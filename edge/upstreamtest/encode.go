package upstreamtest

import (
	"encoding/json"
	"unicode/utf8"
)

// answer is a Reply resolved for one request.
type answer struct {
	Reply
	model   string // the model to name
	id      string // unique suffix of the ids in the answer
	created int64  // Unix seconds, OpenAI's created_at
	// compaction: the request asked the Responses API to compact (an
	// input item of type compaction_trigger), so the output is one
	// compaction item instead of a message.
	compaction bool
}

func (a answer) text() string {
	if a.Text == "" {
		return DefaultText
	}
	return a.Text
}

// deltas splits the answer text into its stream deltas.
func (a answer) deltas() []string {
	n := a.Deltas
	if n <= 0 {
		n = 3
	}
	return splitText(a.text(), n)
}

// splitText cuts s into n pieces of about equal rune counts (fewer when s
// is shorter), never inside a rune.
func splitText(s string, n int) []string {
	runes := utf8.RuneCountInString(s)
	n = min(n, runes)
	if n <= 1 {
		return []string{s}
	}
	parts := make([]string, 0, n)
	start, r := 0, 0
	for i := range s {
		// Piece k ends before rune k*runes/n.
		if r > 0 && r == (len(parts)+1)*runes/n {
			parts = append(parts, s[start:i])
			start = i
		}
		r++
	}
	return append(parts, s[start:])
}

// sseEvent encodes one SSE event with an event name and JSON data.
func sseEvent(name string, v any) []byte {
	data := mustJSON(v)
	b := make([]byte, 0, len("event: \ndata: \n\n")+len(name)+len(data))
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// mustJSON marshals values of this package's own types, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("upstreamtest: " + err.Error())
	}
	return b
}

// halves splits a non-stream body into the two parts that fault
// positions count.
func halves(body []byte) [][]byte {
	mid := len(body) / 2
	return [][]byte{body[:mid], body[mid:]}
}
