package usagelog

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Format is an output format.
type Format string

// Output formats.
const (
	NDJSON Format = "ndjson"
	CSV    Format = "csv"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case NDJSON, CSV:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want ndjson or csv", s)
}

// Sink receives the events of a replay and writes them out.
type Sink interface {
	// Add takes one matching event; it must not keep e.
	Add(e *Event) error
	// Flush writes out whatever is buffered (a --follow replay calls it
	// when it has caught up).
	Flush() error
	// Close writes what is left (aggregates are written here) and
	// flushes.
	Close() error
}

// NewEventSink returns the sink that writes each event: its payload, one
// per line, for NDJSON (a count of refusals too: its payload has outcome
// "refused" and a count); a row of CSVColumns for CSV, one per request, so
// counts of refusals are left out there.
func NewEventSink(w io.Writer, f Format) Sink {
	bw := bufio.NewWriterSize(w, 256<<10)
	if f == CSV {
		return newCSVSink(bw)
	}
	return &ndjsonSink{w: bw}
}

// ndjsonSink writes each payload as stored: no decoding, no re-encoding.
type ndjsonSink struct{ w *bufio.Writer }

func (s *ndjsonSink) Add(e *Event) error {
	s.w.Write(e.Data)
	return s.w.WriteByte('\n') // a bufio.Writer keeps its first error
}
func (s *ndjsonSink) Flush() error { return s.w.Flush() }
func (s *ndjsonSink) Close() error { return s.w.Flush() }

// CSVColumns are the columns of `relay replay --format csv`, in this order.
// The order is part of the contract: columns are only ever appended.
// Every column but seq and recordedAt is the usage event's field of that
// name; cost is USD with nine decimals and costNanos the exact integer
// (both from costMicros for events recorded before costs were kept to the
// nano-dollar); costMicros is the cost rounded to the micro-dollar, kept for
// older scripts; seq is the stream sequence and recordedAt the time USAGE
// stored the event (RFC 3339, UTC).
var CSVColumns = []string{
	"id", "time", "keyId", "accountId", "platform", "model", "upstreamModel",
	"client", "sessionHash", "stream", "status", "outcome", "reason", "attempts",
	"inputTokens", "outputTokens", "cacheCreateTokens", "cacheCreate1hTokens",
	"cacheReadTokens", "reasoningTokens", "cost", "costMicros", "priced",
	"durationMs", "ttftMs", "seq", "recordedAt", "costNanos",
}

// csvSink writes a row per request. Rows are appended to one reused line
// with the quoting rules of encoding/csv (appendCSVField; a test checks
// they agree), so a row costs no allocation.
type csvSink struct {
	bw   *bufio.Writer
	line []byte
}

func newCSVSink(bw *bufio.Writer) *csvSink {
	s := &csvSink{bw: bw}
	for i, c := range CSVColumns {
		if i > 0 {
			s.line = append(s.line, ',')
		}
		s.line = appendCSVField(s.line, c)
	}
	s.bw.Write(append(s.line, '\n'))
	return s
}

// Add writes a row for e; a count of refusals has no row (a row is one
// request): --group-by counts them in its refused column.
func (s *csvSink) Add(e *Event) error {
	if e.Counted {
		return nil
	}
	u := e.Fields()
	nanos := u.Nanos()
	b := s.line[:0]
	str := func(v string) { b = appendCSVField(b, v); b = append(b, ',') }
	num := func(v int64) { b = strconv.AppendInt(b, v, 10); b = append(b, ',') }
	boolean := func(v bool) { b = strconv.AppendBool(b, v); b = append(b, ',') }
	str(u.ID)
	str(u.Time)
	str(u.KeyID)
	str(u.AccountID)
	str(u.Platform)
	str(u.Model)
	str(u.UpstreamModel)
	str(u.Client)
	str(u.SessionHash)
	boolean(u.Stream)
	num(u.Status)
	str(u.Outcome)
	str(u.Reason)
	num(u.Attempts)
	num(u.InputTokens)
	num(u.OutputTokens)
	num(u.CacheCreateTokens)
	num(u.CacheCreate1hTokens)
	num(u.CacheReadTokens)
	num(u.ReasoningTokens)
	b = appendUSD(b, nanos)
	b = append(b, ',')
	num(nanosToMicros(nanos))
	boolean(u.Priced)
	num(u.DurationMs)
	num(u.TTFTMs)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, ',')
	b = e.Stored.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ',')
	b = strconv.AppendInt(b, nanos, 10)
	b = append(b, '\n')
	s.line = b
	_, err := s.bw.Write(b) // a bufio.Writer keeps its first error
	return err
}

func (s *csvSink) Flush() error { return s.bw.Flush() }
func (s *csvSink) Close() error { return s.bw.Flush() }

// appendCSVField appends field as encoding/csv's Writer writes it (comma
// ',', UseCRLF false): quoted when it holds a comma, a quote, a CR or an
// LF, begins with a space, or is \., with quotes doubled.
func appendCSVField(b []byte, field string) []byte {
	if !csvNeedsQuotes(field) {
		return append(b, field...)
	}
	b = append(b, '"')
	for i := 0; i < len(field); i++ {
		if field[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, field[i])
	}
	return append(b, '"')
}

// csvNeedsQuotes is encoding/csv's fieldNeedsQuotes for comma ','.
func csvNeedsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` {
		return true
	}
	for i := 0; i < len(field); i++ {
		if c := field[i]; c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	r1, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r1)
}
