package upstreamtest

import (
	"encoding/json"
	"testing"
)

func TestQueueThenScriptThenDefault(t *testing.T) {
	s := New(t)
	s.SetDefault(Reply{Text: "default"})
	s.SetScript(func(r *Request) (Reply, bool) {
		if r.Model == "claude-haiku-4-5-20251001" {
			return Reply{Text: "scripted for " + r.Header.Get("x-api-key")}, true
		}
		return Reply{}, false
	})
	s.Enqueue(Reply{Text: "first"}, Reply{Text: "second"})
	equal(t, "pending", s.Pending(), 2)

	text := func(model string) string {
		body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 1})
		var msg struct{ Content []struct{ Text string } }
		decode(t, readAll(t, post(t, s, "/v1/messages", string(body), "x-api-key", "sk-account").Body), &msg)
		return msg.Content[0].Text
	}
	haiku, sonnet := "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929"
	equal(t, "1st", text(haiku), "first")
	equal(t, "2nd", text(sonnet), "second")
	equal(t, "pending", s.Pending(), 0)
	equal(t, "3rd", text(haiku), "scripted for sk-account")
	equal(t, "4th", text(sonnet), "default")
}

func TestZeroReplyIsDefaultText(t *testing.T) {
	s := New(t)
	s.SetDefault(Reply{})
	var msg struct {
		Content []struct{ Text string }
		Usage   map[string]any
	}
	decode(t, readAll(t, post(t, s, "/v1/messages", claudeOnce).Body), &msg)
	equal(t, "text", msg.Content[0].Text, DefaultText)
	equal(t, "output", msg.Usage["output_tokens"], any(float64(0)))
}

func TestSplitText(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want []string
	}{
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"abcdefg", 3, []string{"ab", "cd", "efg"}},
		{"ab", 5, []string{"a", "b"}},
		{"héllo wörld", 2, []string{"héllo", " wörld"}},
		{"", 3, []string{""}},
		{"x", 0, []string{"x"}},
	} {
		equal(t, c.s, splitText(c.s, c.n), c.want)
	}
}
