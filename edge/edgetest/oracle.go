package edgetest

import (
	"bytes"
	"sync"

	"relay/events"
	"relay/projections"
)

// FoldUsage sums usage events the way a test's oracle does, independently of
// the projection: requests reached an upstream, refusals are apart. Compare
// it with ProjectedTotals of what the projection shows.
func FoldUsage(us []events.Usage) projections.UsageCounters {
	var c projections.UsageCounters
	for _, u := range us {
		if u.Outcome == events.OutcomeRefused {
			c.Refused++
		} else {
			c.Requests++
		}
		c.InputTokens += u.InputTokens
		c.OutputTokens += u.OutputTokens
		c.CacheCreateTokens += u.CacheCreateTokens
		c.CacheCreate1hTokens += u.CacheCreate1hTokens
		c.CacheReadTokens += u.CacheReadTokens
		c.CostNanos += u.Nanos()
	}
	return c
}

// FoldRefusals adds counts of refused requests to an oracle's counters.
func FoldRefusals(c projections.UsageCounters, cs []events.RefusalsCounted) projections.UsageCounters {
	for _, r := range cs {
		c.Refused += r.Count
	}
	return c
}

// ProjectedTotals cuts projected counters to the fields FoldUsage computes.
func ProjectedTotals(c projections.UsageCounters) projections.UsageCounters {
	return projections.UsageCounters{
		Requests: c.Requests, Refused: c.Refused, InputTokens: c.InputTokens, OutputTokens: c.OutputTokens,
		CacheCreateTokens: c.CacheCreateTokens, CacheCreate1hTokens: c.CacheCreate1hTokens,
		CacheReadTokens: c.CacheReadTokens, CostNanos: c.CostNanos,
	}
}

// LogBuffer is a log sink several goroutines write while a test reads it.
type LogBuffer struct {
	mu  sync.Mutex // mu protects buf
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
