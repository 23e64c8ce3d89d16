package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Checkpoint returns the watermark of projection: every event at or below it
// has been applied.
func (s *Store) Checkpoint(ctx context.Context, projection string) (uint64, error) {
	v, err := s.rdb.Get(ctx, s.checkpoint(projection)).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// StartCheckpoint sets the watermark of a projection that has never applied
// anything to from-1, for streams whose first events have aged out. It never
// moves an existing watermark.
func (s *Store) StartCheckpoint(ctx context.Context, projection string, from uint64) error {
	if from <= 1 {
		return nil
	}
	return s.rdb.SetNX(ctx, s.checkpoint(projection), from-1, 0).Err()
}

// WaitCheckpoint waits until projection has applied seq, polling with a short
// backoff; ctx bounds the wait.
func (s *Store) WaitCheckpoint(ctx context.Context, projection string, seq uint64) error {
	delay := time.Millisecond
	for {
		cp, err := s.Checkpoint(ctx, projection)
		if err != nil {
			return err
		}
		if cp >= seq {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, 20*time.Millisecond)
	}
}
