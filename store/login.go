package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// loginFailScript counts a failed login from one address in a fixed window
// and returns the count and the window's remaining milliseconds.
var loginFailScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`)

// RecordLoginFailure counts a failed login from addr within window and returns
// the failures so far and how long until the count resets.
func (s *Store) RecordLoginFailure(ctx context.Context, addr string, window time.Duration) (int, time.Duration, error) {
	res, err := loginFailScript.Run(ctx, s.rdb, []string{loginFailures(addr)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	return int(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}

// LoginFailures returns the failures counted for addr and the time until they
// reset.
func (s *Store) LoginFailures(ctx context.Context, addr string) (int, time.Duration, error) {
	k := loginFailures(addr)
	n, err := s.rdb.Get(ctx, k).Int()
	if errors.Is(err, redis.Nil) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	ttl, err := s.rdb.PTTL(ctx, k).Result()
	return n, ttl, err
}

// ClearLoginFailures forgets the failures of addr after a successful login.
func (s *Store) ClearLoginFailures(ctx context.Context, addr string) error {
	return s.rdb.Del(ctx, loginFailures(addr)).Err()
}
