package usage

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFraming(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		events []string // returned with a nil error
		tail   string   // returned with the final error
		end    error
	}{
		{"empty", "", nil, "", io.EOF},
		{"LF", "data: a\n\ndata: b\n\n", []string{"data: a\n\n", "data: b\n\n"}, "", io.EOF},
		{"CRLF", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"data: a\r\n\r\n", "data: b\r\n\r\n"}, "", io.EOF},
		{"CR", "data: a\r\rdata: b\r\r", []string{"data: a\r\r", "data: b\r\r"}, "", io.EOF},
		{"mixed", "event: x\r\ndata: a\rdata: b\n\r\n: c\n\n", []string{"event: x\r\ndata: a\rdata: b\n\r\n", ": c\n\n"}, "", io.EOF},
		{"several lines", "event: e\nid: 1\ndata: a\ndata: b\n\n", []string{"event: e\nid: 1\ndata: a\ndata: b\n\n"}, "", io.EOF},
		{"comment alone is an event", ": ping\n\n", []string{": ping\n\n"}, "", io.EOF},
		{"leading blank lines go with the next event", "\n\r\n\rdata: a\n\n", []string{"\n\r\n\rdata: a\n\n"}, "", io.EOF},
		{"trailing blank lines end cleanly", "data: a\n\n\n\r\n", []string{"data: a\n\n"}, "\n\r\n", io.EOF},
		{"blank lines only", "\n\n", nil, "\n\n", io.EOF},
		{"partial event", "data: a\n\ndata: b\n", []string{"data: a\n\n"}, "data: b\n", io.ErrUnexpectedEOF},
		{"partial line", "data: a\n\ndata: {\"x\"", []string{"data: a\n\n"}, "data: {\"x\"", io.ErrUnexpectedEOF},
		{"CRLF at the very end", "data: a\r\n\r", []string{"data: a\r\n\r"}, "", io.EOF},
		{"BOM", "\xEF\xBB\xBF\ndata: a\n\n", []string{"\xEF\xBB\xBF\ndata: a\n\n"}, "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, tail, obs := readStream(t, NewReader(strings.NewReader(tt.stream), Anthropic))
			var got []string
			for _, ev := range evs {
				got = append(got, string(ev))
			}
			if strings.Join(got, "|") != strings.Join(tt.events, "|") || len(got) != len(tt.events) {
				t.Errorf("events %q, want %q", got, tt.events)
			}
			if string(tail) != tt.tail || obs.End != tt.end {
				t.Errorf("end %q, %v; want %q, %v", tail, obs.End, tt.tail, tt.end)
			}
		})
	}
}

// TestPartialTerminalEvent: a terminal event whose blank line never came is
// returned as it is, and its usage still counts.
func TestPartialTerminalEvent(t *testing.T) {
	stream := openaiStream(2, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage))
	stream = strings.TrimSuffix(stream, "\n\n")
	evs, tail, obs := readStream(t, NewReader(strings.NewReader(stream), OpenAI))
	if !strings.HasPrefix(string(tail), "event: response.completed\n") || string(concat(evs, tail)) != stream {
		t.Fatalf("tail %q", tail)
	}
	if obs.End != io.ErrUnexpectedEOF || !obs.Terminal || obs.Tokens.OutputTokens != 900 {
		t.Errorf("observed %+v", obs)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	evs, tail, obs := readStream(t, NewReader(src, Anthropic))
	if len(evs) != 1 || string(tail) != "data: b" || obs.End != boom {
		t.Errorf("events %q, tail %q, end %v", evs, tail, obs.End)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestNoProgress(t *testing.T) {
	src := io.MultiReader(strings.NewReader("data: a\n\n"), stuckReader{})
	evs, _, obs := readStream(t, NewReader(src, Anthropic))
	if len(evs) != 1 || obs.End != io.ErrNoProgress {
		t.Errorf("events %q, end %v", evs, obs.End)
	}
}

// TestHugeEvent: one data line of several MiB passes intact, through reads of
// any size, between ordinary events whose usage is still observed.
func TestHugeEvent(t *testing.T) {
	huge := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
		strings.Repeat("0123456789abcdef", 6<<20/16) + "\"}}\n\n"
	stream := anthropicStreamUntilText(2) + huge + anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 2, anthropicStop)
	for _, sizes := range [][]int{{1 << 20}, {4096}, {16 << 10, 1, 3}} {
		src := &chunkReader{data: []byte(stream), sizes: sizes}
		evs, tail, obs := readStream(t, NewReader(src, Anthropic))
		if string(concat(evs, tail)) != stream {
			t.Fatal("returned bytes differ from the stream")
		}
		found := false
		for _, ev := range evs {
			found = found || string(ev) == huge
		}
		if !found {
			t.Fatal("the huge event was not returned whole")
		}
		if obs.End != io.EOF || !obs.Terminal || obs.Tokens.OutputTokens != 503 {
			t.Errorf("observed %+v", obs)
		}
	}
}

// TestHugeLineOneByte grows the buffer one byte per read.
func TestHugeLineOneByte(t *testing.T) {
	stream := "data: " + strings.Repeat("x", 300<<10) + "\n\n" + anthropicStop
	evs, tail, obs := readStream(t, NewReader(iotest.OneByteReader(strings.NewReader(stream)), Anthropic))
	if len(evs) != 2 || string(concat(evs, tail)) != stream || !obs.Terminal {
		t.Errorf("%d events, observed %+v", len(evs), obs)
	}
}

// Test50MiBLine is the case that breaks a bufio.Scanner-style line limit.
func Test50MiBLine(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 200 MiB")
	}
	line := make([]byte, 50<<20)
	for i := range line {
		line[i] = 'a' + byte(i%26)
	}
	stream := append(append([]byte("event: content_block_delta\ndata: "), line...), "\n\n"+anthropicStop...)
	evs, tail, obs := readStream(t, NewReader(&chunkReader{data: stream, sizes: []int{32 << 10}}, Anthropic))
	if len(evs) != 2 || !bytes.Equal(concat(evs, tail), stream) || !obs.Terminal || obs.End != io.EOF {
		t.Errorf("%d events, observed %+v", len(evs), obs)
	}
}

func TestMaxEventBytes(t *testing.T) {
	small := "data: a\n\n"
	for _, size := range []int{100, 101, 5000} {
		big := "data: " + strings.Repeat("x", size-len("data: \n\n")) + "\n\n"
		for _, chunk := range []int{1, 64, 1 << 20} {
			rd := NewReader(&chunkReader{data: []byte(small + big + small), sizes: []int{chunk}}, Anthropic)
			rd.MaxEventBytes = 100
			evs, tail, obs := readStream(t, rd)
			if size <= 100 {
				if len(evs) != 3 || obs.End != io.EOF {
					t.Errorf("event of %d bytes, reads of %d: %d events, end %v; want 3, EOF", size, chunk, len(evs), obs.End)
				}
				continue
			}
			if len(evs) != 1 || string(evs[0]) != small || tail != nil || obs.End != ErrEventTooLarge {
				t.Errorf("event of %d bytes, reads of %d: events %q, tail %d bytes, end %v; want ErrEventTooLarge after the first event",
					size, chunk, evs, len(tail), obs.End)
			}
		}
	}
}

// TestConcatenationProperty: whatever the bytes and however they are read,
// the returned slices put together are the input, and what is observed does
// not depend on the reads.
func TestConcatenationProperty(t *testing.T) {
	pieces := []string{
		"event: message_delta", "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}",
		"event: message_stop", "data: {\"type\":\"message_stop\"}", "data: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":2}}}",
		": comment", "data", "data:", "event", "id: 7", "retry: 3", "data: x", "\xEF\xBB\xBF", "event: error", "data: {\"error\":{}}", "",
	}
	eols := []string{"\n", "\r", "\r\n", "\n\n", "\r\r", "\r\n\r\n", ""}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			b.WriteString(eols[rng.IntN(len(eols))])
		}
		stream := []byte(b.String())
		d := Dialect(rng.IntN(3))
		evs, tail, want := readStream(t, NewReader(bytes.NewReader(stream), d))
		if !bytes.Equal(concat(evs, tail), stream) {
			t.Fatalf("case %d %q: returned bytes differ", i, stream)
		}
		sizes := []int{1 + rng.IntN(8), rng.IntN(3), 1 + rng.IntN(64)}
		evs, tail, got := readStream(t, NewReader(&chunkReader{data: stream, sizes: sizes}, d))
		if !bytes.Equal(concat(evs, tail), stream) {
			t.Fatalf("case %d %q, reads of %v: returned bytes differ", i, stream, sizes)
		}
		if got != want {
			t.Fatalf("case %d %q, reads of %v: observed %+v, whole %+v", i, stream, sizes, got, want)
		}
	}
}

// TestResetReuse: a pooled Reader starts afresh and keeps its buffer.
func TestResetReuse(t *testing.T) {
	rd := NewReader(strings.NewReader(anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 3, anthropicStop)), Anthropic)
	readStream(t, rd)
	buf := &rd.buf[0]
	rd.MaxEventBytes = 1 << 20
	rd.Reset(strings.NewReader(openaiStream(1, nil)), OpenAI)
	_, _, obs := readStream(t, rd)
	if obs != (observation{Model: "gpt-5-codex", End: io.EOF}) {
		t.Errorf("after Reset observed %+v", obs)
	}
	if &rd.buf[0] != buf || rd.MaxEventBytes != 1<<20 {
		t.Error("Reset dropped the buffer or MaxEventBytes")
	}
}

// TestSteadyStateAllocs: framing and skipping content events allocate nothing
// once the buffer exists; a whole stream with its usage events stays at a few
// allocations (encoding/json on the two or three usage events, and the
// model name).
func TestSteadyStateAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumentation allocates")
	}
	tests := []struct {
		name   string
		d      Dialect
		stream string
		max    float64
	}{
		{"content only", Anthropic, strings.Repeat("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\n", 200), 0},
		{"anthropic stream", Anthropic, anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 200, anthropicStop), 16},
		{"openai stream", OpenAI, openaiStream(200, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage)), 16},
	}
	for _, tt := range tests {
		src := strings.NewReader(tt.stream)
		rd := NewReader(src, tt.d)
		allocs := testing.AllocsPerRun(50, func() {
			src.Reset(tt.stream)
			rd.Reset(src, tt.d)
			for {
				if _, err := rd.Next(); err != nil {
					break
				}
			}
		})
		t.Logf("%s: %.0f allocs per stream", tt.name, allocs)
		if allocs > tt.max {
			t.Errorf("%s: %.0f allocs per stream, want at most %.0f", tt.name, allocs, tt.max)
		}
	}
}
