package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"relay/events"
)

// JetStream's atomic batch publish headers (ADR-50).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// atomicPublishDisabled is the server's error code for a stream that does
// not allow atomic batches.
const atomicPublishDisabled jetstream.ErrorCode = 10174

var errBatchesUnsupported = errors.New("streams: the stream does not take atomic batches")

// minBatch is the smallest group worth an atomic batch: the server stages a
// batch in a store of its own, which costs about what a few fsyncs cost, so
// smaller groups go as pipelined single publishes.
const minBatch = 16

// maxBatch stays well below the server's limit of 1,000 messages a batch.
const maxBatch = 256

// GroupPublisher stores events for many goroutines at once. A stream with
// SyncAlways pays one fsync per stored message, one after another. Events
// that arrive while a write is in flight wait for it and then go together:
// pipelined, or, once minBatch or more wait, as one atomic batch that the
// server stores with a single fsync (group commit). A lone event goes out at
// once, from its caller's goroutine, so an idle edge pays no extra latency.
//
// Every event keeps its id as Nats-Msg-Id, so an event published twice (a
// batch retried one by one, a spooled event republished) is stored once. All
// events of one GroupPublisher must belong to one stream.
type GroupPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	timeout time.Duration

	mu        sync.Mutex // mu protects queue and writing
	queue     []*pendingPublish
	writing   bool        // a goroutine is storing the queue
	noBatches atomic.Bool // the stream refused atomic batches: publish one by one
}

type pendingPublish struct {
	msg    *nats.Msg
	id     string
	seq    uint64
	err    error
	stored chan struct{} // closed once seq or err is set
}

// NewGroupPublisher returns a publisher on js whose every write (a batch or
// a single event) gives up after timeout. It holds no goroutine while idle.
func NewGroupPublisher(js jetstream.JetStream, timeout time.Duration) *GroupPublisher {
	return &GroupPublisher{nc: js.Conn(), js: js, timeout: timeout}
}

// Publish stores env on subject and returns its stream sequence, like the
// package-level Publish without an expected sequence. When ctx ends first
// the event may still be stored later: a caller that then keeps the event to
// publish again relies on its id to drop the copy.
func (g *GroupPublisher) Publish(ctx context.Context, subject string, env events.Envelope) (uint64, error) {
	m, err := Msg(subject, env)
	if err != nil {
		return 0, err
	}
	p := &pendingPublish{msg: m, id: env.ID, stored: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	lead := !g.writing
	g.writing = true
	g.mu.Unlock()
	if lead {
		g.write(p)
	}
	select {
	case <-p.stored:
		if p.err != nil {
			return 0, fmt.Errorf("publish %s: %w", env.Type, p.err)
		}
		return p.seq, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// write stores the queue group by group until it is empty. A caller writes
// until its own event is stored and leaves the rest to a goroutine, so no
// request waits on other requests' groups longer than on its own.
func (g *GroupPublisher) write(own *pendingPublish) {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.writing = false
			g.mu.Unlock()
			return
		}
		if own != nil && isClosed(own.stored) {
			g.mu.Unlock()
			go g.write(nil)
			return
		}
		n := min(len(g.queue), maxBatch)
		group := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.store(group)
		for _, p := range group {
			close(p.stored)
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// store writes a group and sets each member's sequence or error.
func (g *GroupPublisher) store(group []*pendingPublish) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	if len(group) >= minBatch && !g.noBatches.Load() {
		err := g.storeBatch(ctx, group)
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			return
		case errors.Is(err, errBatchesUnsupported):
			g.noBatches.Store(true)
		case !errors.As(err, &apiErr):
			// No answer: the batch may or may not be stored, and one by one
			// would wait as long again. The callers keep the events and
			// republish them under their ids.
			for _, p := range group {
				p.err = err
			}
			return
		}
		// The server refused the batch as a whole (a duplicate id among
		// them, say): store the events one by one, each on its own merits.
	}
	g.storeEach(ctx, group)
}

// storeEach pipelines single publishes and waits for all their acks.
func (g *GroupPublisher) storeEach(ctx context.Context, group []*pendingPublish) {
	futures := make([]jetstream.PubAckFuture, len(group))
	for i, p := range group {
		p.msg.Header.Del(headerBatchID)
		p.msg.Header.Del(headerBatchSeq)
		p.msg.Header.Del(headerBatchCommit)
		futures[i], p.err = g.js.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id))
	}
	for i, p := range group {
		if p.err != nil {
			continue
		}
		select {
		case ack := <-futures[i].Ok():
			p.seq = ack.Sequence
		case err := <-futures[i].Err():
			p.err = err
		case <-ctx.Done():
			p.err = ctx.Err()
		}
	}
}

// batchAck is the server's answer to an atomic batch's commit.
type batchAck struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	Seq   uint64              `json:"seq"`
	Count uint64              `json:"count"`
}

// storeBatch publishes the group as one atomic batch: all stored, in order,
// or none.
func (g *GroupPublisher) storeBatch(ctx context.Context, group []*pendingPublish) error {
	id := nuid.Next()
	last := len(group) - 1
	for i, p := range group[:last] {
		p.msg.Header.Set(headerBatchID, id)
		p.msg.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		if err := g.nc.PublishMsg(p.msg); err != nil {
			return err
		}
	}
	commit := group[last].msg
	commit.Header.Set(headerBatchID, id)
	commit.Header.Set(headerBatchSeq, strconv.Itoa(last+1))
	commit.Header.Set(headerBatchCommit, "1")
	resp, err := g.nc.RequestMsgWithContext(ctx, commit)
	if err != nil {
		return err
	}
	var ack batchAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("batch ack: %w", err)
	}
	switch {
	case ack.Error != nil && ack.Error.ErrorCode == atomicPublishDisabled:
		return errBatchesUnsupported
	case ack.Error != nil:
		return ack.Error
	case ack.Count == 0:
		// A server without atomic batches stored each message as it came;
		// their ids make storing them again one by one a no-op.
		return errBatchesUnsupported
	case ack.Count != uint64(len(group)) || ack.Seq < ack.Count:
		return fmt.Errorf("batch ack: %d of %d events, last sequence %d", ack.Count, len(group), ack.Seq)
	}
	first := ack.Seq - ack.Count + 1
	for i, p := range group {
		p.seq = first + uint64(i)
	}
	return nil
}
