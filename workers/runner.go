package workers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// Runner consumes one projector's stream with a durable consumer.
type Runner struct {
	p     Projector
	js    jetstream.JetStream
	store *store.Store
	log   zerolog.Logger
	m     *Metrics

	// AckWait is how long a delivered event may stay unacknowledged before
	// the server hands it to another worker; zero means DefaultAckWait. Set
	// it before Run. Run brings an existing consumer to it.
	AckWait time.Duration

	// target is the stream's last sequence when the runner started: the
	// runner has caught up once the checkpoint reaches it.
	target   atomic.Uint64
	caughtUp atomic.Bool
}

// NewRunner returns a runner for p.
func NewRunner(p Projector, js jetstream.JetStream, st *store.Store, log zerolog.Logger, m *Metrics) *Runner {
	return &Runner{p: p, js: js, store: st, log: log.With().Str("projector", p.Name()).Logger(), m: m}
}

// Name is the projector's name.
func (r *Runner) Name() string { return r.p.Name() }

// durable is the consumer name of the projector.
func (r *Runner) durable() string { return "proj_" + r.p.Name() }

// Run consumes until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.consumer(ctx)
	if err != nil {
		return err
	}
	handle := func(m jetstream.Msg) { r.handle(ctx, m) }
	var inflight sync.WaitGroup
	var queue chan jetstream.Msg
	if b, ok := r.p.(Batcher); ok {
		// Merge what has arrived, or arrives within batchLinger, into one
		// write: a batch costs about what one event costs.
		queue = make(chan jetstream.Msg, r.p.InFlight())
		handle = func(m jetstream.Msg) { queue <- m }
		var collecting sync.Mutex
		for range batchAppliers {
			inflight.Go(func() { r.batchLoop(ctx, b, queue, &collecting) })
		}
	} else if n := r.p.InFlight(); n > 1 {
		// Events of this projector commute: apply several at once, so the
		// Redis round trips overlap instead of queueing one by one.
		slots := make(chan struct{}, min(n, maxParallelApply))
		handle = func(m jetstream.Msg) {
			slots <- struct{}{}
			inflight.Go(func() {
				defer func() { <-slots }()
				r.handle(ctx, m)
			})
		}
	}
	// Pull at most a quarter of what may be unacknowledged (at least 16:
	// smaller pulls stalled a recreated consumer), so one worker never holds
	// every message the consumer may hand out: if it dies, the others carry
	// on while its messages wait out their AckWait.
	cc, err := cons.Consume(handle,
		jetstream.PullMaxMessages(max(r.p.InFlight()/4, 16)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				r.log.Debug().Err(err).Msg("consume")
			}
		}))
	if err != nil {
		return fmt.Errorf("%s: consume: %w", r.p.Name(), err)
	}
	// Readiness follows the checkpoint even when other workers sharing the
	// consumer apply every event.
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			if !r.caughtUp.Load() {
				if cp, err := r.store.Checkpoint(ctx, r.p.Name()); err == nil {
					r.observe(cp)
				}
			}
		}
	}
	cc.Drain()
	<-cc.Closed()
	if queue != nil {
		close(queue)
	}
	inflight.Wait()
	return nil
}

// batchAppliers is how many batches one runner applies at once; maxBatch
// bounds a batch.
const (
	batchAppliers = 2
	maxBatch      = 256
)

// batchLinger is how long a batch waits for more events once it holds one.
// Merged usage events cost Redis about what one costs, so under light load
// a few milliseconds of projection lag buy several events per write, and the
// Redis time they free is what admission and scheduling wait for.
const batchLinger = 5 * time.Millisecond

// batchLoop applies queued events in batches until the queue closes. One
// applier collects at a time (collecting), so a lingering batch is not split
// between appliers; the other applies its batch meanwhile.
func (r *Runner) batchLoop(ctx context.Context, b Batcher, queue <-chan jetstream.Msg, collecting *sync.Mutex) {
	linger := time.NewTimer(batchLinger)
	defer linger.Stop()
	for {
		collecting.Lock()
		batch := collectBatch(queue, linger)
		collecting.Unlock()
		if len(batch) == 0 {
			return
		}
		r.applyBatch(ctx, b, batch)
	}
}

// collectBatch waits for an event, then gathers more for batchLinger or
// until the batch is full. It returns nothing once the queue is closed.
func collectBatch(queue <-chan jetstream.Msg, linger *time.Timer) []jetstream.Msg {
	m, ok := <-queue
	if !ok {
		return nil
	}
	batch := []jetstream.Msg{m}
	linger.Reset(batchLinger)
	defer linger.Stop()
	for len(batch) < maxBatch {
		select {
		case next, ok := <-queue:
			if !ok {
				return batch
			}
			batch = append(batch, next)
		case <-linger.C:
			return batch
		}
	}
	return batch
}

// applyBatch applies batch in one step, or each event on its own when the
// batch cannot be (a redelivered or undecodable event, a distinct failure).
func (r *Runner) applyBatch(ctx context.Context, b Batcher, batch []jetstream.Msg) {
	if len(batch) > 1 {
		envs := make([]events.Envelope, 0, len(batch))
		seen := make(map[uint64]bool, len(batch))
		for _, m := range batch {
			env, err := streams.FromMsg(m)
			if err != nil || seen[env.Seq] {
				envs = nil
				break
			}
			seen[env.Seq] = true
			envs = append(envs, env)
		}
		if envs != nil {
			if ok, err := b.ApplyBatch(ctx, envs); err == nil && ok {
				for _, m := range batch {
					_ = m.Ack()
				}
				r.m.applied.WithLabelValues(r.p.Name()).Add(float64(len(batch)))
				if cp, err := r.store.Checkpoint(ctx, r.p.Name()); err == nil {
					r.observe(cp)
				}
				return
			}
		}
	}
	for _, m := range batch {
		r.handle(ctx, m)
	}
}

// DefaultAckWait is how long a delivered event may stay unacknowledged
// before the server hands it to another worker: a dead worker's events move
// on after it. It is shorter than the 5 s an edge lets its usage events go
// uncounted before it refuses keys with cost limits, so a worker's death
// does not refuse them. Batches are applied in milliseconds; an event
// delivered twice is applied once.
const DefaultAckWait = 3 * time.Second

func (r *Runner) ackWait() time.Duration {
	if r.AckWait > 0 {
		return r.AckWait
	}
	return DefaultAckWait
}

// maxParallelApply bounds the events one runner applies at once.
const maxParallelApply = 32

// consumer creates the durable consumer, or recreates it from the Redis
// checkpoint when Redis has lost what the consumer already acknowledged
// (a flushed or new Redis): the streams are the truth, so the read models are
// rebuilt from them.
func (r *Runner) consumer(ctx context.Context) (jetstream.Consumer, error) {
	stream, err := r.js.Stream(ctx, r.p.Stream())
	if err != nil {
		return nil, fmt.Errorf("%s: stream %s: %w", r.p.Name(), r.p.Stream(), err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	r.target.Store(info.State.LastSeq)
	if err := r.store.StartCheckpoint(ctx, r.p.Name(), info.State.FirstSeq); err != nil {
		return nil, err
	}
	cp, err := r.store.Checkpoint(ctx, r.p.Name())
	if err != nil {
		return nil, err
	}
	r.observe(cp)
	if c, err := stream.Consumer(ctx, r.durable()); err == nil {
		ci, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		if ci.AckFloor.Stream <= cp {
			if ci.Config.AckWait == r.ackWait() {
				return c, nil
			}
			cfg := ci.Config
			cfg.AckWait = r.ackWait()
			if c, err = stream.UpdateConsumer(ctx, cfg); err != nil {
				return nil, fmt.Errorf("%s: consumer ack wait: %w", r.p.Name(), err)
			}
			return c, nil
		}
		r.log.Warn().Uint64("checkpoint", cp).Uint64("ackFloor", ci.AckFloor.Stream).Msg("read model behind its consumer: rebuilding from the stream")
		if err := stream.DeleteConsumer(ctx, r.durable()); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, err
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       r.durable(),
		Description:   "relay projector " + r.p.Name(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.ackWait(),
		MaxAckPending: r.p.InFlight(),
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if cp > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cp+1
	}
	c, err := stream.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: consumer: %w", r.p.Name(), err)
	}
	return c, nil
}

func (r *Runner) handle(ctx context.Context, m jetstream.Msg) {
	env, err := streams.FromMsg(m)
	if err == nil {
		err = r.p.Apply(ctx, env)
	}
	switch {
	case err == nil:
	case IsPermanent(err):
		seq := seqOf(m)
		r.log.Error().Err(err).Uint64("seq", seq).Msg("event cannot be applied: skipped")
		r.m.poisoned.WithLabelValues(r.p.Name()).Inc()
		// The sequence still counts as applied: one bad event must not
		// stall the projection.
		if _, aerr := r.store.Apply(ctx, r.p.Name(), seq, nil); aerr != nil {
			r.retry(m, aerr)
			return
		}
		_ = m.TermWithReason(err.Error())
		return
	default:
		r.retry(m, err)
		return
	}
	if err := m.Ack(); err != nil {
		// The event is applied; a redelivery will be skipped by the
		// checkpoint.
		r.log.Debug().Err(err).Msg("ack")
	}
	r.m.applied.WithLabelValues(r.p.Name()).Inc()
	if cp, err := r.store.Checkpoint(ctx, r.p.Name()); err == nil {
		r.observe(cp)
	}
}

func (r *Runner) retry(m jetstream.Msg, err error) {
	delay := time.Second
	if meta, merr := m.Metadata(); merr == nil {
		delay = min(time.Duration(meta.NumDelivered)*250*time.Millisecond, 10*time.Second)
	}
	r.log.Warn().Err(err).Dur("retryIn", delay).Msg("apply failed")
	_ = m.NakWithDelay(delay)
}

func (r *Runner) observe(cp uint64) {
	if cp >= r.target.Load() {
		r.caughtUp.Store(true)
	}
}

// CaughtUp reports whether the projection has applied everything that was in
// its stream when the runner started.
func (r *Runner) CaughtUp() bool { return r.caughtUp.Load() }

// Lag returns how many events of the stream the projection has not applied.
func (r *Runner) Lag(ctx context.Context) (uint64, error) {
	return Lag(ctx, r.js, r.store, r.p.Stream(), r.p.Name())
}

// Lag returns how many events of stream projection has not applied yet.
func Lag(ctx context.Context, js jetstream.JetStream, st *store.Store, stream, projection string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	cp, err := st.Checkpoint(ctx, projection)
	if err != nil {
		return 0, err
	}
	if cp >= info.State.LastSeq {
		return 0, nil
	}
	return info.State.LastSeq - cp, nil
}

func seqOf(m jetstream.Msg) uint64 {
	meta, err := m.Metadata()
	if err != nil {
		return 0
	}
	return meta.Sequence.Stream
}
