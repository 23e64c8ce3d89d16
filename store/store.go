package store

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
)

// Store reads and writes relay's Redis state.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns a store on rdb with read models under prefix ("" means
// DefaultPrefix).
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, prefix: prefix}
}

// Prefix returns the read models' prefix.
func (s *Store) Prefix() string { return s.prefix }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
