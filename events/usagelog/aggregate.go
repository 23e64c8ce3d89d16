package usagelog

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"relay/events"
)

// Totals are the aggregates of a group of usage events. Requests counts
// every event that is not a refusal; Refused counts refused requests, one
// per old per-request refusal event and Count per count of refusals;
// tokens and cost count every event.
type Totals struct {
	Requests, Refused int64
	events.Tokens
	CostNanos int64
}

// Add folds one event's fields into t.
func (t *Totals) Add(u *Fields) {
	if u.Refused() {
		t.Refused += u.Refusals()
	} else {
		t.Requests++
	}
	t.InputTokens += u.InputTokens
	t.OutputTokens += u.OutputTokens
	t.CacheCreateTokens += u.CacheCreateTokens
	t.CacheCreate1hTokens += u.CacheCreate1hTokens
	t.CacheReadTokens += u.CacheReadTokens
	t.ReasoningTokens += u.ReasoningTokens
	t.CostNanos += u.Nanos()
}

// TotalsColumns follow the dimension columns in --group-by output; cost is
// USD with nine decimals, summed exactly in nano-dollars (costNanos, the
// last column); costMicros is that sum rounded to the micro-dollar, kept for
// older scripts.
var TotalsColumns = []string{
	"requests", "refused", "inputTokens", "outputTokens", "cacheCreateTokens",
	"cacheCreate1hTokens", "cacheReadTokens", "reasoningTokens", "cost", "costMicros", "costNanos",
}

func (t *Totals) values() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{
		i(t.Requests), i(t.Refused), i(t.InputTokens), i(t.OutputTokens), i(t.CacheCreateTokens),
		i(t.CacheCreate1hTokens), i(t.CacheReadTokens), i(t.ReasoningTokens), formatUSD(t.CostNanos), i(nanosToMicros(t.CostNanos)), i(t.CostNanos),
	}
}

// NewAggregateSink returns the sink of `--group-by`: it folds every event
// into the Totals of its group and, on Close, writes one row (CSV) or one
// object (NDJSON) per group, sorted by the dimension values.
func NewAggregateSink(w io.Writer, f Format, dims []Dim, loc *time.Location) *AggregateSink {
	return &AggregateSink{w: w, f: f, g: newGrouper(dims, loc)}
}

// AggregateSink is the Sink of NewAggregateSink.
type AggregateSink struct {
	w      io.Writer
	f      Format
	g      *grouper
	totals []Totals
}

// Add implements Sink.
func (s *AggregateSink) Add(e *Event) error {
	i, fresh := s.g.group(e)
	if fresh {
		s.totals = append(s.totals, Totals{})
	}
	s.totals[i].Add(e.Fields())
	return nil
}

// Flush implements Sink: aggregates are only written by Close.
func (s *AggregateSink) Flush() error { return nil }

// Close implements Sink.
func (s *AggregateSink) Close() error {
	return writeTable(s.w, s.f, s.g, TotalsColumns, func(i int) []string { return s.totals[i].values() }, numericTotals)
}

// Groups returns the groups' dimension values and totals, sorted.
func (s *AggregateSink) Groups() ([][]string, []Totals) {
	var keys [][]string
	var ts []Totals
	for _, i := range s.g.order() {
		keys, ts = append(keys, s.g.keys[i]), append(ts, s.totals[i])
	}
	return keys, ts
}

// numericTotals: every totals column is a JSON number.
func numericTotals(string) bool { return true }

// writeTable writes the groups of g sorted, each with the values of
// metric columns cols: CSV with a header, or NDJSON objects whose
// dimension members are strings and whose metric members are numbers when
// numeric says so (USD amounts are written with their six decimals).
func writeTable(w io.Writer, f Format, g *grouper, cols []string, row func(int) []string, numeric func(string) bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	dimCols := g.columns()
	if f == CSV {
		cw := csv.NewWriter(bw)
		if err := cw.Write(append(dimCols, cols...)); err != nil {
			return err
		}
		for _, i := range g.order() {
			if err := cw.Write(append(slices0(g.keys[i]), row(i)...)); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return bw.Flush()
	}
	var line []byte
	for _, i := range g.order() {
		line = append(line[:0], '{')
		for j, v := range g.keys[i] {
			line = appendMember(line, dimCols[j], v, false)
		}
		for j, v := range row(i) {
			line = appendMember(line, cols[j], v, numeric(cols[j]))
		}
		line[len(line)-1] = '}'
		line = append(line, '\n')
		bw.Write(line)
	}
	return bw.Flush()
}

// slices0 copies vals so appending to it never touches the grouper's keys.
func slices0(vals []string) []string { return append([]string(nil), vals...) }

// appendMember appends "name":value, with value a JSON string unless raw.
func appendMember(b []byte, name, value string, raw bool) []byte {
	b = strconv.AppendQuote(b, name) // names are plain ASCII
	b = append(b, ':')
	if raw {
		b = append(b, value...)
	} else {
		q, _ := json.Marshal(value) // JSON escaping, not Go's
		b = append(b, q...)
	}
	return append(b, ',')
}
