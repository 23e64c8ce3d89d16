package workers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// GenerationSubject is the core NATS subject on which a rebuild announces
// the generation it switched to (the payload is its number): stores that
// follow the pointer can Refresh at once instead of within
// store.RefreshEvery.
const GenerationSubject = "relay.control.generation"

// WatchGeneration makes st re-read the generation pointer as soon as a
// rebuild announces a switch on GenerationSubject, until ctx ends. Without
// it a store that follows the pointer notices a switch within
// store.RefreshEvery; its writes are safe either way.
func WatchGeneration(ctx context.Context, nc *nats.Conn, st *store.Store) error {
	sub, err := nc.Subscribe(GenerationSubject, func(*nats.Msg) {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = st.Refresh(rctx)
	})
	if err != nil {
		return fmt.Errorf("watch %s: %w", GenerationSubject, err)
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}

// RebuildOptions configure Rebuild. The zero value is valid.
type RebuildOptions struct {
	// Options are the projectors' options; give the live workers' (TZ).
	Options
	Log zerolog.Logger
	// Owner names this rebuild in the rebuild lock (default host/pid).
	Owner string
	// Progress, when set, is called about every ProgressEvery (default
	// 500ms) while building and once per phase.
	Progress      func(RebuildProgress)
	ProgressEvery time.Duration
	// SwitchTimeout bounds the wait for the new generation to catch up
	// with the live workers before the switch (default 5 minutes).
	SwitchTimeout time.Duration
	// Grace is how long the old generation is kept after the switch, for
	// readers whose cached pointer is not yet refreshed (default twice
	// store.RefreshEvery).
	Grace time.Duration
	// NC, when set, announces the switch on GenerationSubject.
	NC *nats.Conn
}

// Rebuild phases, in order.
const (
	PhaseBuilding  = "building"
	PhaseSwitching = "switching"
	PhaseDropping  = "dropping"
	PhaseDone      = "done"
)

// RebuildProgress is where a rebuild stands.
type RebuildProgress struct {
	Phase       string
	From, To    uint64
	Projections []ProjectionProgress
	Elapsed     time.Duration
}

// ProjectionProgress is one projection's part of a rebuild: its checkpoint
// in the new generation, the stream's last sequence when the rebuild
// started, and how many events the rebuild has handled.
type ProjectionProgress struct {
	Name       string
	Checkpoint uint64
	Target     uint64
	Handled    uint64
}

// RebuildResult reports a finished rebuild.
type RebuildResult struct {
	From, To    uint64
	Projections []ProjectionProgress
	// Dropped is how many keys of the old generation were deleted.
	Dropped int
	Elapsed time.Duration
}

// ErrRebuildRunning reports that another rebuild holds the lock.
var ErrRebuildRunning = errors.New("workers: another rebuild is running")

// Rebuild builds every read model afresh from the streams into the next
// generation of st, switches the live generation to it and drops the old
// one, while live workers and edges keep serving the old generation:
//
//  1. take the rebuild lock; drop what an aborted rebuild may have left in
//     generation N+1;
//  2. run every projector NewGroupWith registers, each on an ordered
//     consumer from its stream's first sequence, into a store pinned to
//     generation N+1, until each has applied what its stream held when the
//     rebuild started (the projectors keep consuming after that);
//  3. switch the pointer once N+1 has applied everything the live workers
//     applied to N (store.SwitchGeneration checks it atomically; a busy
//     live worker may take a few tries). From then on live workers' writes
//     go to N+1: a write prepared for N is refused and retried, and every
//     event N+1 lacks is one they have not acknowledged yet, so it comes
//     back to them;
//  4. stop the rebuild's consumers, announce the switch on
//     GenerationSubject, wait Grace for readers, and drop generation N.
//
// The rebuild's consumers are ephemeral ordered consumers: the live
// workers' durable consumers are never touched, and an interrupted rebuild
// leaves nothing on the server. With no worker running, the same steps
// make an offline rebuild.
func Rebuild(ctx context.Context, js jetstream.JetStream, st *store.Store, o RebuildOptions) (RebuildResult, error) {
	start := time.Now()
	o.defaults()
	var res RebuildResult
	held, err := st.LockRebuild(ctx, o.Owner, lockTTL)
	if err != nil {
		return res, fmt.Errorf("rebuild lock: %w", err)
	}
	if !held {
		return res, ErrRebuildRunning
	}
	ctx, cancel := context.WithCancelCause(ctx)
	lockKept := make(chan struct{})
	go func() { defer close(lockKept); keepLock(ctx, cancel, st, o.Owner) }()
	defer func() {
		cancel(nil)
		<-lockKept // no renewal may follow the release
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ucancel()
		_ = st.UnlockRebuild(uctx, o.Owner)
	}()

	from, err := st.LiveGeneration(ctx)
	if err != nil {
		return res, err
	}
	to := from + 1
	res.From, res.To = from, to
	next := st.AtGeneration(to)
	if _, err := next.Drop(ctx); err != nil {
		return res, fmt.Errorf("drop leftovers of generation %d: %w", to, err)
	}
	switched := false
	defer func() {
		if !switched { // an unfinished generation is useless: free its memory
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer dcancel()
			_, _ = next.Drop(dctx)
		}
	}()

	// The projectors, exactly as the live workers run them, on the new
	// generation. The group's metrics go to a registry of their own.
	group := NewGroupWith(js, next, o.Log, prometheus.NewRegistry(), o.Options)
	builders := make([]*builder, len(group.Runners))
	for i, r := range group.Runners {
		builders[i] = &builder{p: r.p, st: next, js: js, log: o.Log.With().Str("projector", r.p.Name()).Logger()}
		if err := builders[i].prepare(ctx); err != nil {
			return res, err
		}
	}
	report := func(phase string) {
		res.Projections = res.Projections[:0]
		for _, b := range builders {
			cp, _ := next.Checkpoint(ctx, b.p.Name())
			res.Projections = append(res.Projections, ProjectionProgress{Name: b.p.Name(), Checkpoint: cp, Target: b.target, Handled: b.handled.Load()})
		}
		if o.Progress != nil {
			o.Progress(RebuildProgress{Phase: phase, From: from, To: to, Projections: res.Projections, Elapsed: time.Since(start)})
		}
	}

	bctx, stopBuilders := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, len(builders))
	for _, b := range builders {
		wg.Go(func() {
			if err := b.run(bctx); err != nil {
				errs <- err
				cancel(err)
			}
		})
	}
	defer func() { stopBuilders(); wg.Wait() }()

	// 2. Until every projection has caught up with its target.
	tick := time.NewTicker(o.ProgressEvery)
	defer tick.Stop()
	reached := allAt(bctx, next, builders)
	for caughtUp := false; !caughtUp; {
		report(PhaseBuilding)
		caughtUp = true
		for _, p := range res.Projections {
			caughtUp = caughtUp && p.Checkpoint >= p.Target
		}
		if caughtUp {
			break
		}
		select {
		case <-ctx.Done():
			return res, rebuildErr(ctx)
		case <-tick.C:
		case <-reached:
		}
	}

	// 3. Switch once the new generation holds everything the live one does.
	report(PhaseSwitching)
	names := make([]string, len(builders))
	for i, b := range builders {
		names[i] = b.p.Name()
	}
	deadline := time.Now().Add(o.SwitchTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		ok, err := st.SwitchGeneration(ctx, from, to, names)
		if err != nil {
			return res, err
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("generation %d did not catch up with the live workers within %s", to, o.SwitchTimeout)
		}
		select {
		case <-ctx.Done():
			return res, rebuildErr(ctx)
		case <-time.After(delay):
		}
	}
	switched = true
	o.Log.Info().Uint64("from", from).Uint64("to", to).Msg("read models switched to the rebuilt generation")

	// 4. The live workers carry on in the new generation.
	stopBuilders()
	wg.Wait()
	report(PhaseDropping)
	if o.NC != nil {
		if err := o.NC.Publish(GenerationSubject, []byte(strconv.FormatUint(to, 10))); err == nil {
			_ = o.NC.FlushTimeout(2 * time.Second)
		}
	}
	select {
	case <-ctx.Done():
		return res, rebuildErr(ctx)
	case <-time.After(o.Grace):
	}
	if res.Dropped, err = st.AtGeneration(from).Drop(ctx); err != nil {
		return res, fmt.Errorf("drop generation %d: %w", from, err)
	}
	res.Elapsed = time.Since(start)
	report(PhaseDone)
	return res, nil
}

// maxRebuildInFlight caps the applies a builder has in flight.
const maxRebuildInFlight = 16

// lockTTL is the rebuild lock's lifetime, renewed every third of it.
const lockTTL = 30 * time.Second

func (o *RebuildOptions) defaults() {
	if o.Owner == "" {
		h, _ := os.Hostname()
		o.Owner = h + "/" + strconv.Itoa(os.Getpid())
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 500 * time.Millisecond
	}
	if o.SwitchTimeout <= 0 {
		o.SwitchTimeout = 5 * time.Minute
	}
	if o.Grace <= 0 {
		o.Grace = 2 * store.RefreshEvery
	}
}

// keepLock renews the rebuild lock until ctx ends; losing it ends the
// rebuild.
func keepLock(ctx context.Context, cancel context.CancelCauseFunc, st *store.Store, owner string) {
	t := time.NewTicker(lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if held, err := st.LockRebuild(ctx, owner, lockTTL); err == nil && !held {
				cancel(ErrRebuildRunning)
				return
			}
		}
	}
}

func rebuildErr(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// allAt returns a channel closed when every builder's checkpoint has
// reached its target (store.WaitCheckpoint polls with a short backoff).
func allAt(ctx context.Context, st *store.Store, bs []*builder) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for _, b := range bs {
			if st.WaitCheckpoint(ctx, b.p.Name(), b.target) != nil {
				return
			}
		}
		close(done)
	}()
	return done
}

// builder runs one projector over its whole stream into the new
// generation.
type builder struct {
	p       Projector
	st      *store.Store
	js      jetstream.JetStream
	log     zerolog.Logger
	stream  jetstream.Stream
	target  uint64
	handled atomic.Uint64
}

// prepare fixes the target: the stream's last sequence now.
func (b *builder) prepare(ctx context.Context) error {
	s, err := b.js.Stream(ctx, b.p.Stream())
	if err != nil {
		return fmt.Errorf("%s: stream %s: %w", b.p.Name(), b.p.Stream(), err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	b.stream, b.target = s, info.State.LastSeq
	// Events aged out of the stream count as applied.
	return b.st.StartCheckpoint(ctx, b.p.Name(), info.State.FirstSeq)
}

// run consumes the stream from the new generation's checkpoint until ctx
// ends, applying up to InFlight events at once (in order when 1).
func (b *builder) run(ctx context.Context) error {
	cp, err := b.st.Checkpoint(ctx, b.p.Name())
	if err != nil {
		return err
	}
	cons, err := b.js.OrderedConsumer(ctx, b.p.Stream(), jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: cp + 1,
	})
	if err != nil {
		return fmt.Errorf("%s: consumer: %w", b.p.Name(), err)
	}
	// More applies in flight than a few round trips' worth only queue up
	// in the one Redis thread, where they starve the in-order projections
	// (each waits behind the whole queue at every step).
	n := min(max(b.p.InFlight(), 1), maxRebuildInFlight)
	var wg sync.WaitGroup
	var handle func(jetstream.Msg)
	switch bt, ok := b.p.(Batcher); {
	case ok:
		// As the live runner does: merge what has arrived into one write.
		// A rebuild always has a backlog, so batches are full.
		queue := make(chan jetstream.Msg, maxBatch)
		handle = func(m jetstream.Msg) {
			select {
			case queue <- m:
			case <-ctx.Done():
			}
		}
		for range batchAppliers {
			wg.Go(func() { b.batchLoop(ctx, bt, queue) })
		}
	case n == 1:
		handle = func(m jetstream.Msg) { b.apply(ctx, m) }
	default:
		sem := make(chan struct{}, n)
		handle = func(m jetstream.Msg) {
			select {
			case sem <- struct{}{}: // a free slot; else wait, holding back the consumer
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				b.apply(ctx, m)
			})
		}
	}
	cc, err := cons.Consume(handle, jetstream.PullMaxMessages(max(2*n, maxBatch)))
	if err != nil {
		return fmt.Errorf("%s: consume: %w", b.p.Name(), err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	wg.Wait()
	return nil
}

// batchLoop applies queued events in batches until ctx ends. The queue is
// never closed: the consumer's handler may still be sending when ctx ends.
func (b *builder) batchLoop(ctx context.Context, bt Batcher, queue <-chan jetstream.Msg) {
	for {
		var batch []jetstream.Msg
		select {
		case m := <-queue:
			batch = append(batch, m)
		case <-ctx.Done():
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m := <-queue:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		b.applyBatch(ctx, bt, batch)
	}
}

// applyBatch applies batch in one step, or each event on its own when the
// batch cannot be (an event that does not decode, a failure).
func (b *builder) applyBatch(ctx context.Context, bt Batcher, batch []jetstream.Msg) {
	if len(batch) > 1 {
		envs := make([]events.Envelope, 0, len(batch))
		for _, m := range batch {
			env, err := streams.FromMsg(m)
			if err != nil {
				envs = nil
				break
			}
			envs = append(envs, env)
		}
		if envs != nil {
			if ok, err := bt.ApplyBatch(ctx, envs); err == nil && ok {
				b.handled.Add(uint64(len(batch)))
				return
			}
		}
	}
	for _, m := range batch {
		b.apply(ctx, m)
	}
}

// apply applies one event, retrying what may succeed later until ctx ends;
// an event that can never be applied is skipped, as the live workers skip
// it, so both generations agree.
func (b *builder) apply(ctx context.Context, m jetstream.Msg) {
	seq := seqOf(m)
	env, err := streams.FromMsg(m)
	if err != nil {
		err = Permanent(err) // not an envelope: it never will be
	} else {
		err = b.p.Apply(ctx, env)
	}
	for delay := 10 * time.Millisecond; err != nil && !IsPermanent(err); delay = min(2*delay, 5*time.Second) {
		b.log.Warn().Err(err).Uint64("seq", seq).Dur("retryIn", delay).Msg("rebuild: apply failed")
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		err = b.p.Apply(ctx, env)
	}
	if err != nil { // permanent
		b.log.Error().Err(err).Uint64("seq", seq).Msg("rebuild: event cannot be applied: skipped")
		for delay := 10 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
			if _, aerr := b.st.Apply(ctx, b.p.Name(), seq, nil); aerr == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}
	b.handled.Add(1)
}
