package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
)

// Store reads and writes relay's Redis state.
type Store struct {
	rdb redis.UniversalClient
	// base is the versioned prefix of the read models; the generation in
	// use decides the prefix of each key (generation.go).
	base string
	// Exactly one is set: follow for a store that follows the live
	// generation (New), pinned for one pinned to a generation
	// (AtGeneration).
	follow *follower
	pinned *genView
}

// New returns a store on rdb with read models under prefix ("" means
// DefaultPrefix), in the live generation of that prefix: it follows the
// generation pointer, so a `relay rebuild` switches it over.
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{rdb: rdb, base: prefix, follow: &follower{}}
	// Generation 0 until the pointer is read: by Ping, or in the
	// background at first use. Writes check the pointer anyway.
	s.follow.cur.Store(&genView{prefix: prefix, at: time.Now()})
	return s
}

// Prefix returns the prefix of the read models in the generation in use.
func (s *Store) Prefix() string { return s.prefix() }

// Ping checks that Redis answers, and reads the live generation.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	return s.Refresh(ctx)
}
