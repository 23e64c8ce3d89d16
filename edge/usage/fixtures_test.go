package usage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"relay/events"
)

// The streams below follow what the real APIs send (see shared/UPSTREAMS.md):
// Anthropic with a thinking block, a text block and a tool call; OpenAI with a
// reasoning item and a message whose terminal event repeats the whole output.

const anthropicStartUsage = `{"input_tokens":2095,"cache_creation_input_tokens":1000,"cache_read_input_tokens":30000,"cache_creation":{"ephemeral_5m_input_tokens":400,"ephemeral_1h_input_tokens":600},"output_tokens":1,"service_tier":"standard"}`

// anthropicStream returns a Messages API stream with deltas text deltas,
// whose message_start and message_delta carry the given usage objects, and
// whose end is end (a message_stop event, an error event, or nothing).
func anthropicStream(startUsage, deltaUsage string, deltas int, end string) string {
	var b strings.Builder
	ev := func(name, data string) {
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", name, data)
	}
	ev("message_start", `{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":`+startUsage+`}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}`)
	ev("ping", `{"type": "ping"}`)
	ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants a greeting; keep it short."}}`)
	ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds2bQ1gkdaqPj5jYC0Jx2aT7JmCNLx3tLx3hUJw0eAUI3Qk0="}}`)
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}`)
	for i := range deltas {
		ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"word %d of a reply that goes on for a while, "}}`, i))
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":1}`)
	ev("content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"Bash","input":{}}}`)
	ev("content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"command\": \"ls -la\"}"}}`)
	ev("content_block_stop", `{"type":"content_block_stop","index":2}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":`+deltaUsage+`}`)
	b.WriteString(end)
	return b.String()
}

const anthropicStop = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

const openaiCompletedUsage = `{"input_tokens":12000,"input_tokens_details":{"cached_tokens":11000},"output_tokens":900,"output_tokens_details":{"reasoning_tokens":640},"total_tokens":12900}`

// openaiStream returns a Responses API stream with deltas text deltas, ending
// with end(text, seq), which gets the full output text and the next
// sequence number (see openaiTerminal).
func openaiStream(deltas int, end func(text string, seq int) string) string {
	var b strings.Builder
	seq := 0
	ev := func(name, data string) {
		fmt.Fprintf(&b, "event: %s\ndata: {\"type\":%q,\"sequence_number\":%d,%s}\n\n", name, name, seq, data)
		seq++
	}
	resp := `"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"instructions":"You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.","max_output_tokens":null,"model":"gpt-5-codex","output":[],"parallel_tool_calls":false,"previous_response_id":null,"reasoning":{"effort":"medium","summary":"auto"},"store":false,"tool_choice":"auto","tools":[{"type":"function","name":"shell","description":"Runs a shell command and returns its output.","strict":false,"parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}},"workdir":{"type":"string"}},"required":["command"]}}],"usage":null,"user":null,"metadata":{}}`
	ev("response.created", resp)
	ev("response.in_progress", resp)
	ev("response.output_item.added", `"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}`)
	ev("response.output_item.done", `"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[],"encrypted_content":"gAAAAABoZ3Zlc3Rpbmcgc29tZSBlbmNyeXB0ZWQgcmVhc29uaW5nIGNvbnRlbnQ="}`)
	ev("response.output_item.added", `"output_index":1,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}`)
	ev("response.content_part.added", `"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}`)
	var text strings.Builder
	for i := range deltas {
		d := fmt.Sprintf("word %d of a reply that goes on for a while, ", i)
		text.WriteString(d)
		ev("response.output_text.delta", fmt.Sprintf(`"item_id":"msg_1","output_index":1,"content_index":0,"delta":%q`, d))
	}
	ev("response.output_text.done", fmt.Sprintf(`"item_id":"msg_1","output_index":1,"content_index":0,"text":%q`, text.String()))
	ev("response.content_part.done", `"item_id":"msg_1","output_index":1,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"..."}`)
	ev("response.output_item.done", `"output_index":1,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"..."}],"role":"assistant"}`)
	if end != nil {
		b.WriteString(end(text.String(), seq))
	}
	return b.String()
}

// openaiTerminal returns a terminal event of the given name whose response
// has the given status, error, incomplete_details and usage JSON values.
func openaiTerminal(name, status, errJSON, incomplete, usage string) func(string, int) string {
	return func(text string, seq int) string {
		return fmt.Sprintf("event: %s\ndata: {\"type\":%q,\"sequence_number\":%d,\"response\":{\"id\":\"resp_67c9fdcecf488190bdd9a0409de3a1ec\",\"object\":\"response\",\"created_at\":1741290958,\"status\":%q,\"error\":%s,\"incomplete_details\":%s,\"model\":\"gpt-5-codex-2025-09-15\",\"output\":[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAABoZ3Zlc3Rpbmc=\"},{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"annotations\":[],\"text\":%q}],\"role\":\"assistant\"}],\"usage\":%s}}\n\n",
			name, name, seq, status, errJSON, incomplete, text, usage)
	}
}

// observation is everything a Reader reports about a stream.
type observation struct {
	Tokens   events.Tokens
	HasUsage bool
	Model    string
	Terminal bool
	ErrType  string
	ErrMsg   string
	HasErr   bool
	End      error // the error that ended the stream
}

// readStream reads src to its end and returns copies of the events returned
// with a nil error, the bytes returned with the final error, and what the
// Reader observed. It checks that later calls repeat the final error.
func readStream(t testing.TB, rd *Reader) (evs [][]byte, tail []byte, obs observation) {
	t.Helper()
	for i := 0; ; i++ {
		ev, err := rd.Next()
		if err != nil {
			tail = append([]byte(nil), ev...)
			obs = observe(rd)
			obs.End = err
			if ev2, err2 := rd.Next(); ev2 != nil || !errors.Is(err2, err) {
				t.Fatalf("Next after %v = %q, %v; want nil, same error", err, ev2, err2)
			}
			return evs, tail, obs
		}
		if len(ev) == 0 {
			t.Fatalf("event %d: empty event with nil error", i)
		}
		evs = append(evs, append([]byte(nil), ev...))
		if i > 1e7 {
			t.Fatal("Next does not end")
		}
	}
}

func observe(rd *Reader) observation {
	typ, msg, ok := rd.UpstreamError()
	return observation{
		Tokens:   rd.Usage(),
		HasUsage: rd.HasUsage(),
		Model:    rd.Model(),
		Terminal: rd.Terminal(),
		ErrType:  typ,
		ErrMsg:   msg,
		HasErr:   ok,
	}
}

func concat(evs [][]byte, tail []byte) []byte {
	return append(bytes.Join(evs, nil), tail...)
}

// chunkReader returns its data in reads of the given sizes, cycling through
// them; a size of 0 makes a read that returns nothing.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// lineEndings rewrites the "\n" line endings of an LF stream.
func lineEndings(s, eol string) string { return strings.ReplaceAll(s, "\n", eol) }
