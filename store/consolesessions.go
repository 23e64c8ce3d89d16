package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Console sessions are signed cookies (edge/console): nothing is kept
// while one lasts. Signing out records its id here until the session would
// have expired anyway, so that every edge refuses the cookie from then on
// even if it was copied.

// maxSessionID bounds the ids recorded: the console's are 22 characters.
const maxSessionID = 64

// EndConsoleSession records that the console session id is over, until
// until (its own expiry); a session already past it needs nothing.
func (s *Store) EndConsoleSession(ctx context.Context, id string, until time.Time) error {
	if id == "" || len(id) > maxSessionID {
		return errors.New("store: invalid console session id")
	}
	ttl := time.Until(until)
	if ttl <= 0 {
		return nil
	}
	return s.rdb.Set(ctx, consoleEnded(id), "1", ttl.Round(time.Second)+time.Second).Err()
}

// ConsoleSessionEnded reports whether EndConsoleSession recorded id.
func (s *Store) ConsoleSessionEnded(ctx context.Context, id string) (bool, error) {
	if id == "" || len(id) > maxSessionID {
		return true, nil
	}
	err := s.rdb.Get(ctx, consoleEnded(id)).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
