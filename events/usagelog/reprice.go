package usagelog

import (
	"io"
	"strconv"
	"time"
)

// Reprice is what one group of events cost as recorded and what it costs
// under another price table. Nothing is rewritten: the ledger keeps the
// cost each event was charged.
type Reprice struct {
	Events int64
	// Unpriced counts the events the new table has no price for (their
	// recomputed cost is 0).
	Unpriced        int64
	RecordedNanos   int64
	RecomputedNanos int64
}

// DifferenceNanos is recomputed minus recorded.
func (r Reprice) DifferenceNanos() int64 { return r.RecomputedNanos - r.RecordedNanos }

// RepriceColumns follow the dimension columns in --reprice output. The USD
// columns have nine decimals; the *Nanos columns (last) are the exact
// integers; the *Micros columns are them rounded to the micro-dollar, kept
// for older scripts.
var RepriceColumns = []string{
	"events", "unpriced", "recordedCost", "recomputedCost", "difference",
	"recordedCostMicros", "recomputedCostMicros", "differenceMicros",
	"recordedCostNanos", "recomputedCostNanos", "differenceNanos",
}

func (r Reprice) values() []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{
		i(r.Events), i(r.Unpriced), formatUSD(r.RecordedNanos), formatUSD(r.RecomputedNanos),
		formatUSD(r.DifferenceNanos()),
		i(nanosToMicros(r.RecordedNanos)), i(nanosToMicros(r.RecomputedNanos)), i(nanosToMicros(r.DifferenceNanos())),
		i(r.RecordedNanos), i(r.RecomputedNanos), i(r.DifferenceNanos()),
	}
}

// Pricer returns what the request of u costs under another price table,
// and whether that table prices it. `relay replay --reprice` passes
// pricing.Table.RequestCost, the rule the edge recorded costs with:
//
//	func(u *Fields) (int64, bool) { return t.RequestCost(u.Outcome, u.Model, u.UpstreamModel, u.Tokens) }
type Pricer func(u *Fields) (nanos int64, priced bool)

// NewRepriceSink returns the sink of `--reprice`: per group of dims (by key
// when dims is empty) the recorded cost, the cost recomputed by price, and
// the difference, written on Close like aggregates.
func NewRepriceSink(w io.Writer, f Format, dims []Dim, loc *time.Location, price Pricer) *RepriceSink {
	if len(dims) == 0 {
		dims = []Dim{DimKey}
	}
	return &RepriceSink{w: w, f: f, g: newGrouper(dims, loc), price: price}
}

// RepriceSink is the Sink of NewRepriceSink.
type RepriceSink struct {
	w     io.Writer
	f     Format
	g     *grouper
	price Pricer
	rows  []Reprice
	total Reprice
}

// Add implements Sink.
func (s *RepriceSink) Add(e *Event) error {
	if e.Counted {
		return nil // refusals cost nothing and have no price to recompute
	}
	i, fresh := s.g.group(e)
	if fresh {
		s.rows = append(s.rows, Reprice{})
	}
	u := e.Fields()
	cost, priced := s.price(u)
	for _, r := range []*Reprice{&s.rows[i], &s.total} {
		r.Events++
		r.RecordedNanos += u.Nanos()
		r.RecomputedNanos += cost
		if !priced {
			r.Unpriced++
		}
	}
	return nil
}

// Flush implements Sink: rows are only written by Close.
func (s *RepriceSink) Flush() error { return nil }

// Close implements Sink.
func (s *RepriceSink) Close() error {
	return writeTable(s.w, s.f, s.g, RepriceColumns, func(i int) []string { return s.rows[i].values() }, numericTotals)
}

// Total is the sum over every group.
func (s *RepriceSink) Total() Reprice { return s.total }

// Groups returns the groups' dimension values and results, sorted.
func (s *RepriceSink) Groups() ([][]string, []Reprice) {
	var keys [][]string
	var rs []Reprice
	for _, i := range s.g.order() {
		keys, rs = append(keys, s.g.keys[i]), append(rs, s.rows[i])
	}
	return keys, rs
}
