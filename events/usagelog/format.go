package usagelog

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
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
		s := &csvSink{bw: bw, w: csv.NewWriter(bw)}
		s.err = s.w.Write(CSVColumns)
		return s
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

type csvSink struct {
	bw  *bufio.Writer
	w   *csv.Writer
	row []string
	err error
}

// Add writes a row for e; a count of refusals has no row (a row is one
// request): --group-by counts them in its refused column.
func (s *csvSink) Add(e *Event) error {
	if s.err != nil {
		return s.err
	}
	if e.Counted {
		return nil
	}
	u := e.Fields()
	nanos := u.Nanos()
	i := strconv.FormatInt
	s.row = append(s.row[:0],
		u.ID, u.Time, u.KeyID, u.AccountID, u.Platform, u.Model, u.UpstreamModel,
		u.Client, u.SessionHash, strconv.FormatBool(u.Stream), i(u.Status, 10), u.Outcome, u.Reason, i(u.Attempts, 10),
		i(u.InputTokens, 10), i(u.OutputTokens, 10), i(u.CacheCreateTokens, 10), i(u.CacheCreate1hTokens, 10),
		i(u.CacheReadTokens, 10), i(u.ReasoningTokens, 10), formatUSD(nanos), i(nanosToMicros(nanos), 10), strconv.FormatBool(u.Priced),
		i(u.DurationMs, 10), i(u.TTFTMs, 10), strconv.FormatUint(e.Seq, 10), e.Stored.UTC().Format(time.RFC3339Nano), i(nanos, 10))
	return s.w.Write(s.row)
}

func (s *csvSink) Flush() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *csvSink) Close() error {
	if s.err != nil {
		return s.err
	}
	return s.Flush()
}
