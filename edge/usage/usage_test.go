package usage

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"relay/events"
)

type usageCase struct {
	name    string
	dialect Dialect
	stream  string
	want    observation
}

func usageCases() []usageCase {
	anthropicModel := "claude-sonnet-4-5-20250929"
	return []usageCase{
		{
			name:    "anthropic/cache breakdown",
			dialect: Anthropic,
			stream:  anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 4, anthropicStop),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 2095, OutputTokens: 503, CacheCreateTokens: 1000, CacheCreate1hTokens: 600, CacheReadTokens: 30000},
				HasUsage: true, Model: anthropicModel, Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/no cache breakdown",
			dialect: Anthropic,
			stream:  anthropicStream(`{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":0,"output_tokens":1}`, `{"output_tokens":42}`, 3, anthropicStop),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 10, OutputTokens: 42, CacheCreateTokens: 200},
				HasUsage: true, Model: anthropicModel, Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/message_delta repeats input figures",
			dialect: Anthropic,
			stream: anthropicStream(`{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}`,
				`{"input_tokens":1500,"cache_creation_input_tokens":300,"cache_read_input_tokens":800,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":300},"output_tokens":77}`, 3, anthropicStop),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 1500, OutputTokens: 77, CacheCreateTokens: 300, CacheCreate1hTokens: 300, CacheReadTokens: 800},
				HasUsage: true, Model: anthropicModel, Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/zero figures in message_delta keep message_start's",
			dialect: Anthropic,
			stream:  anthropicStream(`{"input_tokens":100,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":1}`, `{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}`, 1, anthropicStop),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 100, OutputTokens: 9, CacheCreateTokens: 20, CacheReadTokens: 30},
				HasUsage: true, Model: anthropicModel, Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/only the TTL breakdown",
			dialect: Anthropic,
			stream:  anthropicStream(`{"input_tokens":5,"cache_creation":{"ephemeral_5m_input_tokens":70,"ephemeral_1h_input_tokens":30},"output_tokens":1}`, `{"output_tokens":2}`, 1, anthropicStop),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 5, OutputTokens: 2, CacheCreateTokens: 100, CacheCreate1hTokens: 30},
				HasUsage: true, Model: anthropicModel, Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/error mid-stream",
			dialect: Anthropic,
			stream: anthropicStreamUntilText(5) +
				"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
			want: observation{
				Tokens:   events.Tokens{InputTokens: 2095, OutputTokens: 1, CacheCreateTokens: 1000, CacheCreate1hTokens: 600, CacheReadTokens: 30000},
				HasUsage: true, Model: anthropicModel, Terminal: true,
				ErrType: "overloaded_error", ErrMsg: "Overloaded", HasErr: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/cut before message_stop",
			dialect: Anthropic,
			stream:  anthropicStreamUntilText(4),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 2095, OutputTokens: 1, CacheCreateTokens: 1000, CacheCreate1hTokens: 600, CacheReadTokens: 30000},
				HasUsage: true, Model: anthropicModel, End: io.EOF,
			},
		},
		{
			name:    "anthropic/no event fields, type not first",
			dialect: Anthropic,
			stream: "data: {\"message\":{\"model\":\"claude-haiku-4-5-20251001\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}},\"type\":\"message_start\"}\n\n" +
				"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n" +
				"data: {\"usage\":{\"output_tokens\":3},\"type\":\"message_delta\"}\n\n" +
				"data: {\"type\":\"message_stop\"}\n\n",
			want: observation{
				Tokens:   events.Tokens{InputTokens: 7, OutputTokens: 3},
				HasUsage: true, Model: "claude-haiku-4-5-20251001", Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "anthropic/OpenAI events mean nothing",
			dialect: Anthropic,
			stream:  openaiStream(2, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage)),
			want:    observation{End: io.EOF},
		},
		{
			name:    "openai/completed with cached and reasoning tokens",
			dialect: OpenAI,
			stream:  openaiStream(4, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage)),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 12000, OutputTokens: 900, CacheReadTokens: 11000, ReasoningTokens: 640},
				HasUsage: true, Model: "gpt-5-codex-2025-09-15", Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "openai/incomplete",
			dialect: OpenAI,
			stream: openaiStream(3, openaiTerminal("response.incomplete", "incomplete", "null", `{"reason":"max_output_tokens"}`,
				`{"input_tokens":50,"input_tokens_details":{"cached_tokens":0},"output_tokens":16,"output_tokens_details":{"reasoning_tokens":16},"total_tokens":66}`)),
			want: observation{
				Tokens:   events.Tokens{InputTokens: 50, OutputTokens: 16, ReasoningTokens: 16},
				HasUsage: true, Model: "gpt-5-codex-2025-09-15", Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "openai/failed",
			dialect: OpenAI,
			stream:  openaiStream(3, openaiTerminal("response.failed", "failed", `{"code":"server_error","message":"The model failed to generate a response."}`, "null", "null")),
			want: observation{
				Model: "gpt-5-codex-2025-09-15", Terminal: true,
				ErrType: "server_error", ErrMsg: "The model failed to generate a response.", HasErr: true, End: io.EOF,
			},
		},
		{
			name:    "openai/error event mid-stream",
			dialect: OpenAI,
			stream: openaiStream(3, func(string, int) string {
				return "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"Rate limit reached\",\"param\":null,\"sequence_number\":9}\n\n"
			}),
			want: observation{
				Model: "gpt-5-codex", Terminal: true,
				ErrType: "rate_limit_exceeded", ErrMsg: "Rate limit reached", HasErr: true, End: io.EOF,
			},
		},
		{
			name:    "openai/nested error object",
			dialect: OpenAI,
			stream:  "data: {\"type\":\"error\",\"error\":{\"type\":\"server_error\",\"code\":null,\"message\":\"boom\"}}\n\n",
			want:    observation{Terminal: true, ErrType: "server_error", ErrMsg: "boom", HasErr: true, End: io.EOF},
		},
		{
			name:    "openai/no event fields",
			dialect: OpenAI,
			stream: "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n" +
				"data: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5-mini\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}\n\n",
			want: observation{
				Tokens:   events.Tokens{InputTokens: 3, OutputTokens: 4},
				HasUsage: true, Model: "gpt-5-mini", Terminal: true, End: io.EOF,
			},
		},
		{
			name:    "openai/Anthropic events mean nothing",
			dialect: OpenAI,
			stream:  anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 2, anthropicStop),
			want:    observation{End: io.EOF},
		},
		{
			name:    "no dialect observes nothing",
			dialect: 0,
			stream:  anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 2, anthropicStop),
			want:    observation{End: io.EOF},
		},
	}
}

// anthropicStreamUntilText returns the start of an Anthropic stream, cut after
// n text deltas at an event boundary.
func anthropicStreamUntilText(n int) string {
	s := anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, n, "")
	return s[:strings.Index(s, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")]
}

// TestUsage checks what the Reader observes in each stream, whatever its line
// endings and however its source splits the reads, and that the bytes come
// back unchanged.
func TestUsage(t *testing.T) {
	readers := []struct {
		name string
		wrap func([]byte) io.Reader
	}{
		{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"one byte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
		{"data with EOF", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
		{"odd chunks", func(b []byte) io.Reader { return &chunkReader{data: b, sizes: []int{7, 0, 131, 1, 4096, 3}} }},
	}
	for _, c := range usageCases() {
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			stream := []byte(lineEndings(c.stream, eol))
			for _, rd := range readers {
				t.Run(c.name+"/"+strings.NewReplacer("\r", "CR", "\n", "LF").Replace(eol)+"/"+rd.name, func(t *testing.T) {
					t.Parallel()
					evs, tail, got := readStream(t, NewReader(rd.wrap(stream), c.dialect))
					if !bytes.Equal(concat(evs, tail), stream) {
						t.Fatal("returned bytes differ from the stream")
					}
					if got != c.want {
						t.Errorf("observed\n%+v\nwant\n%+v", got, c.want)
					}
				})
			}
		}
	}
}

// TestUsageEveryBoundary splits each stream in two reads at every byte and
// checks that framing and observations do not depend on where reads end.
func TestUsageEveryBoundary(t *testing.T) {
	for _, c := range usageCases() {
		for _, eol := range []string{"\n", "\r\n"} {
			stream := []byte(lineEndings(c.stream, eol))
			t.Run(c.name+"/"+strings.NewReplacer("\r", "CR", "\n", "LF").Replace(eol), func(t *testing.T) {
				t.Parallel()
				whole, _, _ := readStream(t, NewReader(bytes.NewReader(stream), c.dialect))
				rd := NewReader(nil, c.dialect)
				for k := range len(stream) + 1 {
					rd.Reset(&chunkReader{data: stream, sizes: []int{k, len(stream)}}, c.dialect)
					evs, tail, got := readStream(t, rd)
					if !bytes.Equal(concat(evs, tail), stream) {
						t.Fatalf("split at %d: returned bytes differ from the stream", k)
					}
					if got != c.want {
						t.Fatalf("split at %d: observed\n%+v\nwant\n%+v", k, got, c.want)
					}
					if len(evs) != len(whole) {
						t.Fatalf("split at %d: %d events, want %d", k, len(evs), len(whole))
					}
					// A "\r\n" split between its bytes at the end of an event
					// moves the '\n' to the next slice; nothing else may move.
					if eol == "\n" {
						for i := range evs {
							if !bytes.Equal(evs[i], whole[i]) {
								t.Fatalf("split at %d: event %d = %q, want %q", k, i, evs[i], whole[i])
							}
						}
					}
				}
			})
		}
	}
}

// TestLastEventTerminal checks that exactly the terminal event is flagged, so
// the relay holds back the right one.
func TestLastEventTerminal(t *testing.T) {
	for _, c := range usageCases() {
		if !c.want.Terminal {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			rd := NewReader(strings.NewReader(c.stream), c.dialect)
			flagged := 0
			for {
				ev, err := rd.Next()
				if err != nil {
					if rd.LastEventTerminal() {
						t.Error("LastEventTerminal true after the end of the stream")
					}
					break
				}
				isTerminal := bytes.Contains(ev, []byte(`"type":"message_stop"`)) ||
					bytes.Contains(ev, []byte(`"type":"error"`)) ||
					bytes.Contains(ev, []byte(`"type":"response.completed"`)) ||
					bytes.Contains(ev, []byte(`"type":"response.incomplete"`)) ||
					bytes.Contains(ev, []byte(`"type":"response.failed"`))
				if rd.LastEventTerminal() != isTerminal {
					t.Fatalf("LastEventTerminal() = %v for %q", rd.LastEventTerminal(), ev)
				}
				if rd.Terminal() != (flagged > 0 || isTerminal) {
					t.Fatalf("Terminal() = %v after %q", rd.Terminal(), ev)
				}
				if isTerminal {
					flagged++
				}
			}
			if flagged != 1 {
				t.Errorf("%d terminal events, want 1", flagged)
			}
		})
	}
}

func TestUsageTolerance(t *testing.T) {
	tests := []struct {
		name   string
		d      Dialect
		stream string
		want   events.Tokens
		has    bool
	}{
		{"null and missing figures", Anthropic,
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":null,\"cache_creation\":null,\"output_tokens\":1}}}\n\n",
			events.Tokens{InputTokens: 12, OutputTokens: 1}, true},
		{"float and odd figures", Anthropic,
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":12.0,\"cache_read_input_tokens\":\"x\",\"cache_creation\":7,\"output_tokens\":-3}}\n\n",
			events.Tokens{InputTokens: 12}, true},
		{"usage not an object", Anthropic,
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":[1,2]}\n\n",
			events.Tokens{}, false},
		{"broken JSON", OpenAI,
			"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1,}}}\n\n",
			events.Tokens{}, false},
		{"multi-line data", Anthropic,
			"event: message_delta\ndata: {\"type\":\"message_delta\",\ndata:\"usage\":{\"output_tokens\":9}}\n\n",
			events.Tokens{OutputTokens: 9}, true},
		{"comments, id and retry ignored", Anthropic,
			": keep-alive\n\nid: 1\nretry: 10\n: x\nevent: message_delta\ndata: {\"usage\":{\"output_tokens\":4}}\n\n",
			events.Tokens{OutputTokens: 4}, true},
		{"BOM at the start", Anthropic,
			"\xEF\xBB\xBFevent: message_delta\ndata: {\"usage\":{\"output_tokens\":5}}\n\n",
			events.Tokens{OutputTokens: 5}, true},
		{"event named by the field, not the type", Anthropic,
			"event: ping\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":5}}\n\n",
			events.Tokens{}, false},
		{"empty event field falls back to the type", Anthropic,
			"event:\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":6}}\n\n",
			events.Tokens{OutputTokens: 6}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, tail, got := readStream(t, NewReader(strings.NewReader(tt.stream), tt.d))
			if string(concat(evs, tail)) != tt.stream {
				t.Fatal("returned bytes differ from the stream")
			}
			if got.Tokens != tt.want || got.HasUsage != tt.has {
				t.Errorf("Usage() = %+v, HasUsage() = %v; want %+v, %v", got.Tokens, got.HasUsage, tt.want, tt.has)
			}
		})
	}
}
