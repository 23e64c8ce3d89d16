package admin

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"relay/edge/catalog"
	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// Config is what the actions need to know; the edge's configuration fills
// it (edge.Config documents each setting).
type Config struct {
	// WriteWait bounds how long a write waits for its projection.
	WriteWait time.Duration
	// BcryptCost is the cost of password hashes.
	BcryptCost int
	// Location is the time zone of days in statistics and quotas.
	Location *time.Location
	// LoginFailures, LoginUserFailures and LoginDeviceFailures bound the
	// failed sign-ins per client address, per username bucket and per
	// device within LoginWindow (SignIn).
	LoginFailures       int
	LoginUserFailures   int
	LoginDeviceFailures int
	LoginWindow         time.Duration
	// LoginKey keys the hash that puts usernames in throttle buckets, so
	// nobody can tell which names share one (the edge derives it from
	// JWT_SECRET).
	LoginKey []byte
	// NotifyAllowPrivate accepts notification channel URLs naming
	// loopback, link-local or private addresses (NOTIFY_ALLOW_PRIVATE).
	NotifyAllowPrivate bool
}

// Deps are what the actions are composed from.
type Deps struct {
	JS      jetstream.JetStream
	Store   *store.Store
	Catalog *catalog.Catalog
	Box     *secrets.Box
	Log     zerolog.Logger
	// Published counts the events published, by type.
	Published func(eventType string)
}

// Service runs the admin actions.
type Service struct {
	cfg       Config
	js        jetstream.JetStream
	store     *store.Store
	catalog   *catalog.Catalog
	box       *secrets.Box
	log       zerolog.Logger
	published func(eventType string)
	// dummyHash keeps a sign-in of an unknown user as slow as one of a
	// known user; made once, at the first sign-in (dummyOnce).
	dummyHash []byte
	dummyOnce sync.Once
}

// New builds the service.
func New(cfg Config, d Deps) *Service {
	published := d.Published
	if published == nil {
		published = func(string) {}
	}
	return &Service{cfg: cfg, js: d.JS, store: d.Store, catalog: d.Catalog, box: d.Box, log: d.Log, published: published}
}

// Actor is who acts and in which request, for the audit trail.
type Actor struct {
	Username  string
	RequestID string
}

// errNotVisible answers a write recorded on the stream but not yet
// projected within WriteWait.
var errNotVisible = fault.New(fault.Overloaded, "the change was recorded but is not visible yet; read it again shortly")

// writeConfig publishes a configuration event and waits until both the Redis
// read model and this edge's catalog show it, so the admin's next read sees
// the change (read-your-writes). expectLast guards against overwriting a
// change made since the caller read the entity.
func (s *Service) writeConfig(ctx context.Context, subject string, env events.Envelope, expectLast *uint64) (uint64, error) {
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
		return seq, errNotVisible
	}
	if err := s.store.WaitCheckpoint(wctx, store.ProjectionConfig, seq); err != nil {
		return seq, errNotVisible
	}
	return seq, nil
}
