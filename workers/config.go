package workers

import (
	"context"
	"errors"

	"relay/events"
	"relay/projections"
	"relay/store"
)

// ConfigProjector folds CONFIG into the key, account and admin documents.
type ConfigProjector struct{ Store *store.Store }

// Name implements Projector.
func (ConfigProjector) Name() string { return store.ProjectionConfig }

// Stream implements Projector.
func (ConfigProjector) Stream() string { return events.StreamConfig }

// InFlight implements Projector: documents need stream order.
func (ConfigProjector) InFlight() int { return 1 }

// Apply implements Projector.
func (p ConfigProjector) Apply(ctx context.Context, env events.Envelope) error {
	ops, err := p.ops(ctx, env)
	if err != nil {
		return err
	}
	_, err = p.Store.Apply(ctx, p.Name(), env.Seq, ops)
	return err
}

func (p ConfigProjector) ops(ctx context.Context, env events.Envelope) ([]store.Op, error) {
	kind, id := events.EntityOf(env.Subject)
	switch kind {
	case events.EntityKey:
		old, err := p.Store.Key(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		v, err := projections.ApplyKey(old, env)
		if err != nil {
			return nil, Permanent(err)
		}
		return p.Store.KeyOps(old, v)
	case events.EntityAccount:
		old, err := p.Store.Account(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		v, err := projections.ApplyAccount(old, env)
		if err != nil {
			return nil, Permanent(err)
		}
		return p.Store.AccountOps(v)
	case events.EntityAdmin:
		old, err := p.Store.Admin(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		v, err := projections.ApplyAdmin(old, env)
		if err != nil {
			return nil, Permanent(err)
		}
		return p.Store.AdminOps(v)
	case events.EntityNotification:
		old, err := p.Store.Channel(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		v, err := projections.ApplyChannel(old, env)
		if err != nil {
			return nil, Permanent(err)
		}
		return p.Store.ChannelOps(v)
	}
	return nil, nil // a subject this version does not project
}
