package usagelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
)

// ErrSlowReader ends a live feed whose reader fell more than
// LiveOptions.Buffer events behind: it is dropped rather than let the
// buffer grow. Its client may reconnect and follow from then on.
var ErrSlowReader = errors.New("usagelog: live feed reader fell behind and was dropped")

// DefaultLiveBuffer is LiveOptions.Buffer when unset: with events of about
// 1 KiB, a quarter of a megabyte per reader at most.
const DefaultLiveBuffer = 256

// DefaultHeartbeatEvery is LiveOptions.HeartbeatEvery when unset: well
// under the idle timeouts of common proxies (60 s).
const DefaultHeartbeatEvery = 15 * time.Second

// LiveOptions configure a live feed.
type LiveOptions struct {
	// Filter keeps the matching events, as for an export.
	Filter Filter
	// Buffer is how many events may wait for the reader (0:
	// DefaultLiveBuffer). One more and the reader is dropped: Live
	// returns ErrSlowReader.
	Buffer int
	// Heartbeat, when set, is called after HeartbeatEvery without an
	// event (an SSE comment keeps proxies from closing the stream); an
	// error from it ends the feed with that error.
	Heartbeat      func() error
	HeartbeatEvery time.Duration
	// Ready, when set, is called once the consumer exists: every usage
	// event stored from then on is delivered.
	Ready func()
	// OnDrop, when set, is called (on the consumer's goroutine) the
	// moment the buffer overflows and the reader is dropped: a metric, a
	// log line. Live returns ErrSlowReader once fn returns.
	OnDrop func()
}

// Live follows USAGE from now (an ordered consumer delivering only what is
// stored after it was created) and calls fn, on the caller's goroutine,
// with every usage event that matches o.Filter, in stream order: requests
// (usage.recorded) and counts of refused requests (usage.refusals_counted,
// Event.Counted). Unlike Replay's, the *Event is fn's to keep.
//
// Events wait for fn in a buffer of o.Buffer; when fn falls further
// behind, the feed stops reading and returns ErrSlowReader, so a slow
// reader costs at most its buffer, never a growing backlog. Live returns
// nil when ctx ends, fn's or Heartbeat's error, ErrSlowReader, or an
// error when the consumer cannot be created or stops.
//
// The JetStream handle should be the analyst's (read-only) connection.
func Live(ctx context.Context, js jetstream.JetStream, o LiveOptions, fn func(*Event) error) error {
	buffer := o.Buffer
	if buffer <= 0 {
		buffer = DefaultLiveBuffer
	}
	every := o.HeartbeatEvery
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamUsage, jetstream.OrderedConsumerConfig{
		FilterSubjects: o.Filter.subjects(),
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return fmt.Errorf("usagelog: live consumer: %w", err)
	}
	f := &liveFeed{filter: o.Filter, ch: make(chan *Event, buffer), dropped: make(chan struct{}), onDrop: o.OnDrop}
	// A small pull: the client holds at most this many messages besides
	// the buffer, and a feed follows the traffic, not a backlog.
	cc, err := cons.Consume(f.handle, jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("usagelog: live consume: %w", err)
	}
	defer cc.Stop()
	if o.Ready != nil {
		o.Ready()
	}
	var beat <-chan time.Time
	if o.Heartbeat != nil {
		t := time.NewTicker(every)
		defer t.Stop()
		beat = t.C
	}
	idle := true // no event since the last beat
	for {
		select {
		case <-f.dropped:
			return ErrSlowReader
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.dropped:
			return ErrSlowReader
		case <-cc.Closed():
			return errors.New("usagelog: live feed: the consumer stopped")
		case e := <-f.ch:
			idle = false
			if err := fn(e); err != nil {
				return err
			}
		case <-beat:
			if idle {
				if err := o.Heartbeat(); err != nil {
					return err
				}
			}
			idle = true
		}
	}
}

// liveFeed hands the consumer's messages to Live's loop.
type liveFeed struct {
	filter  Filter
	ch      chan *Event
	onDrop  func()
	once    sync.Once
	dropped chan struct{} // closed when the buffer overflowed
	over    atomic.Bool
}

// handle runs on the consumer's goroutine, one message at a time; it
// never blocks.
func (f *liveFeed) handle(m jetstream.Msg) {
	if f.over.Load() {
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	data, counted, err := payload(m.Data()) // m's data is its own: no copy
	if err != nil {
		return // not a usage event
	}
	e := &Event{Seq: meta.Sequence.Stream, Stored: meta.Timestamp, Subject: m.Subject(), Data: data, Counted: counted}
	if !f.filter.Match(e) {
		return
	}
	select {
	case f.ch <- e:
	default:
		f.over.Store(true)
		f.once.Do(func() {
			close(f.dropped)
			if f.onDrop != nil {
				f.onDrop()
			}
		})
	}
}

// SSE event names of AppendSSE.
const (
	SSEUsage    = "usage"    // a request (usage.recorded)
	SSERefusals = "refusals" // a count of refused requests (usage.refusals_counted)
)

// AppendSSE appends e as one server-sent event: its stream sequence as
// the id, SSEUsage or SSERefusals as the event name, and the payload as
// stored as the data (one line: relay writes compact JSON; any line break
// would become a data line of its own, which SSE joins back).
func AppendSSE(b []byte, e *Event) []byte {
	name := SSEUsage
	if e.Counted {
		name = SSERefusals
	}
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, name...)
	data := e.Data
	for {
		line, rest, more := bytes.Cut(data, []byte("\n"))
		b = append(b, "\ndata: "...)
		b = append(b, bytes.TrimSuffix(line, []byte("\r"))...)
		if !more {
			break
		}
		data = rest
	}
	return append(b, "\n\n"...)
}
