package relay

import (
	"context"
	"sync"
	"time"

	"relay/events"
)

// Requests refused before any upstream was tried are counted, not stored
// one by one (DESIGN.md section 5): each edge tallies them in memory per
// key, platform, reason and minute, and publishes one
// usage.refusals_counted event per tally when its minute has closed, and
// at shutdown. Storage then grows with keys x reasons x minutes, never with
// the number of refused requests, and so does the publishing work.
//
// The tally is bounded: keys are authenticated keys (the catalog's),
// platforms two, reasons a closed set (events.RefusalReasons), and the
// minutes those not yet published, normally one or two. maxRefusalTallies
// caps it beyond that. A refusal is not money: a tally lost to a crash
// loses at most a minute of refusal counts, never a limit or a cost.
// Requests refused before a key is known (401) are not per key and are
// not counted here; relay_http_requests_total counts them by status.

// maxRefusalTallies bounds the tallies held in memory: far above keys x 2
// platforms x 15 reasons x 2 minutes for any catalog relay serves.
const maxRefusalTallies = 200_000

// refusalFlushConcurrency is how many counts are published at once: the
// group publisher stores concurrent publishes together.
const refusalFlushConcurrency = 16

type refusalTally struct {
	keyID, platform, reason string
	minute                  int64 // Unix minutes
}

type refusalCount struct {
	n           int64
	first, last time.Time
}

// refusalTallies counts this edge's refusals until they are published.
type refusalTallies struct {
	// edge names this process in the counts (random per start), so the
	// counts of two edges, or of two lives of one edge, never share an id.
	edge string

	mu sync.Mutex // mu protects counts, flushes and dropped
	// counts are the tallies not yet taken for publishing.
	counts map[refusalTally]*refusalCount
	// flushes numbers the takes; it is part of each count's id, so a
	// minute published in two parts is two events.
	flushes uint64
	// dropped counts refusals not tallied because the tallies were full.
	dropped int64

	flushMu sync.Mutex // flushMu makes flushes one at a time
}

func newRefusalTallies(now time.Time) *refusalTallies {
	return &refusalTallies{edge: events.NewID(now), counts: map[refusalTally]*refusalCount{}}
}

// add counts one refusal of key keyID on platform for reason at time at.
func (r *refusalTallies) add(keyID, platform, reason string, at time.Time) {
	k := refusalTally{keyID: keyID, platform: platform, reason: events.RefusalReason(reason), minute: at.Unix() / 60}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.counts[k]
	if !ok {
		if len(r.counts) >= maxRefusalTallies {
			r.dropped++
			return
		}
		c = &refusalCount{first: at, last: at}
		r.counts[k] = c
	}
	c.n++
	c.first, c.last = minTime(c.first, at), maxTime(c.last, at)
}

// take removes the tallies of minutes before the minute of before (every
// tally when all) and returns them with the flush number they go out under
// and the refusals dropped since the last take.
func (r *refusalTallies) take(before time.Time, all bool) (map[refusalTally]*refusalCount, uint64, int64) {
	cut := before.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[refusalTally]*refusalCount{}
	for k, c := range r.counts {
		if all || k.minute < cut {
			out[k] = c
			delete(r.counts, k)
		}
	}
	dropped := r.dropped
	r.dropped = 0
	if len(out) == 0 {
		return nil, 0, dropped
	}
	r.flushes++
	return out, r.flushes, dropped
}

// pending is the number of refusals counted and not yet taken.
func (r *refusalTallies) pending() (n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.counts {
		n += c.n
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// countRefusal tallies a request refused before any upstream was tried.
func (x *exchange) countRefusal() {
	x.s.refusals.add(x.key.ID, x.rt.platform, x.u.Reason, x.start)
}

// FlushRefusals publishes every refusal this edge has counted and not yet
// published, the current minute's included: at shutdown, and for tests.
func (s *Relay) FlushRefusals(ctx context.Context) {
	s.flushRefusals(ctx, time.Time{}, true)
}

// flushRefusals publishes the counts of the minutes before the minute of
// before (all of them when all): one event each, acknowledged by
// JetStream or spooled to be published later under the same id.
func (s *Relay) flushRefusals(ctx context.Context, before time.Time, all bool) {
	r := s.refusals
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	counts, flush, dropped := r.take(before, all)
	if dropped > 0 {
		s.log.Warn().Int64("refusals", dropped).Msg("refusals not counted: the tallies are full")
	}
	sem := make(chan struct{}, refusalFlushConcurrency)
	var wg sync.WaitGroup
	for k, c := range counts {
		minute := time.Unix(k.minute*60, 0).UTC()
		p := events.RefusalsCounted{
			KeyID: k.keyID, Platform: k.platform, Outcome: events.OutcomeRefused, Reason: k.reason,
			Time: minute, Count: c.n, First: c.first.UTC(), Last: c.last.UTC(), Edge: r.edge,
		}
		id := events.RefusalsCountedID(r.edge, k.keyID, k.platform, k.reason, minute, flush)
		env, err := events.NewWithID(id, events.UsageRefusalsCounted, minute, "key:"+k.keyID, "", p)
		if err != nil {
			s.log.Error().Err(err).Str("keyId", k.keyID).Msg("refusal count not built")
			continue
		}
		subject := events.UsageSubject(k.platform, k.keyID)
		sem <- struct{}{}
		log := s.log.With().Str("keyId", k.keyID).Int64("refusals", c.n).Logger()
		wg.Go(func() {
			defer func() { <-sem }()
			s.storeUsage(ctx, subject, env, log)
		})
	}
	wg.Wait()
}

// runRefusalFlusher publishes the counts of each minute shortly after it
// closes, every RefusalFlushEvery, until ctx ends.
func (s *Relay) runRefusalFlusher(ctx context.Context) {
	t := time.NewTicker(s.cfg.RefusalFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.flushRefusals(context.WithoutCancel(ctx), now, false)
		}
	}
}
