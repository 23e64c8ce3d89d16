package catalog

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/streams"
	"relay/projections"
)

// Catalog keeps keys, accounts, admins and account health in memory, folded
// from CONFIG and STATE by ordered consumers, so a relay request reads no
// configuration from Redis.
type Catalog struct {
	log zerolog.Logger

	mu sync.RWMutex // mu protects c and changed
	c  *projections.Catalog
	// changed is closed and replaced after every applied event, waking
	// anyone waiting for a sequence.
	changed chan struct{}

	ready chan struct{} // closed once both streams are folded up to their start
}

// New returns an empty catalog.
func New(log zerolog.Logger) *Catalog {
	return &Catalog{log: log, c: projections.NewCatalog(), changed: make(chan struct{}), ready: make(chan struct{})}
}

// Read calls fn with the catalog under a read lock. fn must not keep
// references to maps beyond the call.
func (c *Catalog) Read(fn func(*projections.Catalog)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	fn(c.c)
}

// Apply folds one event; exported for tests and for the edge that publishes
// a state change and applies it at once.
func (c *Catalog) Apply(env events.Envelope) {
	c.mu.Lock()
	if err := c.c.Apply(env); err != nil {
		c.log.Error().Err(err).Str("type", env.Type).Uint64("seq", env.Seq).Msg("catalog: event not applied")
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Run follows CONFIG and STATE from their first events until ctx ends.
func (c *Catalog) Run(ctx context.Context, js jetstream.JetStream) error {
	var targets [2]uint64
	for i, name := range []string{events.StreamConfig, events.StreamState} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("catalog: %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		targets[i] = info.State.LastSeq
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return fmt.Errorf("catalog: %s consumer: %w", name, err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			env, err := streams.FromMsg(m)
			if err != nil {
				c.log.Error().Err(err).Msg("catalog: undecodable event skipped")
				return
			}
			c.Apply(env)
		})
		if err != nil {
			return err
		}
		defer cc.Stop()
	}
	go func() {
		if err := c.waitSeqs(ctx, targets[0], targets[1]); err == nil {
			close(c.ready)
		}
	}()
	<-ctx.Done()
	return nil
}

// Ready is closed once the catalog holds everything that was in the streams
// when it started.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

// WaitConfig waits until the catalog has folded CONFIG up to seq.
func (c *Catalog) WaitConfig(ctx context.Context, seq uint64) error { return c.waitSeqs(ctx, seq, 0) }

// WaitState waits until the catalog has folded STATE up to seq.
func (c *Catalog) WaitState(ctx context.Context, seq uint64) error { return c.waitSeqs(ctx, 0, seq) }

func (c *Catalog) waitSeqs(ctx context.Context, config, state uint64) error {
	for {
		c.mu.RLock()
		done := c.c.ConfigSeq >= config && c.c.StateSeq >= state
		ch := c.changed
		c.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
