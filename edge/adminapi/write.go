package adminapi

import (
	"context"
	"errors"

	"relay/edge/fault"
	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// writeConfig publishes a configuration event and waits until both the Redis
// read model and this edge's catalog show it, so the admin's next read sees
// the change (read-your-writes). expectLast guards against overwriting a
// change made since the caller read the entity.
func (s *API) writeConfig(ctx context.Context, subject string, env events.Envelope, expectLast *uint64) (uint64, error) {
	seq, err := streams.Publish(ctx, s.js, subject, env, expectLast)
	if errors.Is(err, streams.ErrConflict) {
		return 0, fault.New(fault.Conflict, "the entity was changed by someone else since it was read; read it again and retry")
	}
	if err != nil {
		return 0, err
	}
	s.published(env.Type)
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteWait)
	defer cancel()
	if err := s.catalog.WaitConfig(wctx, seq); err != nil {
		return seq, fault.New(fault.Overloaded, "the change was recorded but is not visible yet; read it again shortly")
	}
	if err := s.store.WaitCheckpoint(wctx, store.ProjectionConfig, seq); err != nil {
		return seq, fault.New(fault.Overloaded, "the change was recorded but is not visible yet; read it again shortly")
	}
	return seq, nil
}
