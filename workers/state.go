package workers

import (
	"context"

	"relay/events"
	"relay/projections"
	"relay/store"
)

// StateProjector folds STATE into each account's health document.
type StateProjector struct{ Store *store.Store }

// Name implements Projector.
func (StateProjector) Name() string { return store.ProjectionState }

// Stream implements Projector.
func (StateProjector) Stream() string { return events.StreamState }

// InFlight implements Projector: a later mark must win over an earlier one.
func (StateProjector) InFlight() int { return 1 }

// Apply implements Projector.
func (p StateProjector) Apply(ctx context.Context, env events.Envelope) error {
	_, id := events.EntityOf(env.Subject)
	old, err := p.Store.AccountState(ctx, id)
	if err != nil {
		return err
	}
	v, err := projections.ApplyAccountState(old, env)
	if err != nil {
		return Permanent(err)
	}
	ops, err := p.Store.AccountStateOps(v)
	if err != nil {
		return err
	}
	_, err = p.Store.Apply(ctx, p.Name(), env.Seq, ops)
	return err
}
