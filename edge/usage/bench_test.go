package usage

import (
	"bytes"
	"fmt"
	"testing"
)

// The benchmarks read a realistic stream of about 200 events with a pooled
// Reader, as the relay does: once with reads as large as the buffer (a busy
// connection) and once with one small read per event (an upstream flushing
// each event, the usual case).

func BenchmarkReaderAnthropic(b *testing.B) {
	stream := []byte(anthropicStream(anthropicStartUsage, `{"output_tokens":503}`, 188, anthropicStop))
	benchmarkReader(b, stream, Anthropic)
}

func BenchmarkReaderOpenAI(b *testing.B) {
	stream := []byte(openaiStream(188, openaiTerminal("response.completed", "completed", "null", "null", openaiCompletedUsage)))
	benchmarkReader(b, stream, OpenAI)
}

func benchmarkReader(b *testing.B, stream []byte, d Dialect) {
	evs, _, obs := readStream(b, NewReader(bytes.NewReader(stream), d))
	if !obs.Terminal || !obs.HasUsage {
		b.Fatalf("fixture not observed: %+v", obs)
	}
	for _, read := range []int{32 << 10, 160} {
		b.Run(fmt.Sprintf("events=%d/read=%d", len(evs), read), func(b *testing.B) {
			src := &chunkReader{}
			sizes := []int{read}
			rd := NewReader(src, d)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				*src = chunkReader{data: stream, sizes: sizes}
				rd.Reset(src, d)
				for {
					if _, err := rd.Next(); err != nil {
						break
					}
				}
			}
		})
	}
}

func BenchmarkFromJSON(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
		d    Dialect
	}{{"anthropic", []byte(anthropicMessage), Anthropic}, {"openai", []byte(openaiResponse), OpenAI}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := FromJSON(c.body, c.d); !ok {
					b.Fatal("no usage")
				}
			}
		})
	}
}
