package usagelog

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// Stats are the running totals of a replay.
type Stats struct {
	// Read counts the messages read from the stream, Matched those handed
	// to the callback, Skipped those that were not usage events.
	Read, Matched, Skipped uint64
	// Seq and Stored are the sequence and storage time of the last message
	// read.
	Seq    uint64
	Stored time.Time
	// End is the stream's last sequence when the replay started: where a
	// replay without Follow stops.
	End uint64
}

// defaultBatch is how many messages a pull asks for: enough to keep the
// server streaming while the previous half is handled, small enough that a
// replay holds a few megabytes at most.
const defaultBatch = 4096

// maxPullBytes caps one pull's bytes, whatever the batch.
const maxPullBytes = 16 << 20

// progressEvery is how many messages pass between Progress calls.
const progressEvery = 4096

// Replay reads USAGE in stream order through an ordered consumer that
// starts at q.Since on the server, and calls fn with every usage event of
// the window that matches q.Filter, each once. Without q.Follow it stops at
// the last event the stream held when it started; with it, it waits for
// new events until q.Until or until ctx ends, which is a normal end (nil
// error). An error from fn ends the replay with that error. The *Event
// passed to fn is reused: fn must not keep it.
func Replay(ctx context.Context, js jetstream.JetStream, q Query, fn func(*Event) error) (Stats, error) {
	var st Stats
	if q.Follow && !q.Until.IsZero() && !q.Until.After(time.Now()) {
		q.Follow = false // nothing stored from now on can fall before Until
	}
	stream, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		return st, fmt.Errorf("ledger: stream %s: %w", events.StreamUsage, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("ledger: stream %s: %w", events.StreamUsage, err)
	}
	st.End = info.State.LastSeq
	defer func() {
		if q.Progress != nil {
			q.Progress(st)
		}
	}()
	if !q.Follow && (st.End == 0 || info.State.Msgs == 0 || (!q.Since.IsZero() && q.Since.After(info.State.LastTime)) ||
		(!q.Until.IsZero() && !q.Until.After(info.State.FirstTime))) {
		return st, nil // nothing in the window: do not even create a consumer
	}
	if q.Follow && !q.Until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, q.Until)
		defer cancel()
	}

	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: q.Filter.subjects()}
	if !q.Since.IsZero() {
		since := q.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamUsage, cfg)
	if err != nil {
		return st, fmt.Errorf("ledger: consumer: %w", err)
	}
	batch := q.Batch
	if batch <= 0 {
		batch = defaultBatch
	}
	// Consume rather than the Messages iterator: the iterator arms a
	// heartbeat timer and crosses a channel for every message. fn runs on
	// the consumer's goroutine, one message at a time.
	r := &replayer{q: q, fn: fn, st: st}
	done := make(chan error, 1)
	var mu sync.Mutex // protects r between the handler and the end of Replay
	finished := false
	cc, err := cons.Consume(func(m jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		stop, err := r.handle(m)
		if stop || err != nil {
			finished = true
			done <- err
		}
	}, jetstream.PullMaxMessagesWithBytesLimit(batch, maxPullBytes))
	if err != nil {
		return st, fmt.Errorf("ledger: consume: %w", err)
	}
	defer cc.Stop()
	// The consumer's info at creation counts the matching messages from the
	// start: none means the window is empty (so far).
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		mu.Lock() // the handler may run already: callbacks never overlap
		if !q.Follow {
			finished = true
			mu.Unlock()
			return st, nil
		}
		if q.CaughtUp != nil && !finished {
			q.CaughtUp()
		}
		mu.Unlock()
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		if !q.Follow {
			err = ctx.Err()
		}
	}
	mu.Lock()
	finished = true
	st = r.st
	mu.Unlock()
	return st, err
}

type replayer struct {
	q  Query
	fn func(*Event) error
	st Stats
	ev Event
}

// handle takes one message; done says the replay is over.
func (r *replayer) handle(m jetstream.Msg) (done bool, err error) {
	q := &r.q
	meta, err := m.Metadata()
	if err != nil {
		return true, fmt.Errorf("ledger: read: %w", err)
	}
	seq := meta.Sequence.Stream
	if (!q.Follow && seq > r.st.End) || (!q.Until.IsZero() && !meta.Timestamp.Before(q.Until)) {
		return true, nil
	}
	r.st.Read++
	r.st.Seq, r.st.Stored = seq, meta.Timestamp
	data, counted, perr := payload(m.Data())
	if perr != nil {
		r.st.Skipped++
	} else {
		r.ev = Event{Seq: seq, Stored: meta.Timestamp, Subject: m.Subject(), Data: data, Counted: counted}
		if q.Filter.Match(&r.ev) {
			r.st.Matched++
			if err := r.fn(&r.ev); err != nil {
				return true, err
			}
		}
	}
	if q.Progress != nil && r.st.Read%progressEvery == 0 {
		q.Progress(r.st)
	}
	// NumPending counts the matching messages stored after this one: none
	// means this was the last one there is (for now).
	if !q.Follow && (seq >= r.st.End || meta.NumPending == 0) {
		return true, nil
	}
	if q.Follow && meta.NumPending == 0 && q.CaughtUp != nil {
		q.CaughtUp()
	}
	return false, nil
}
