package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Concurrency leases. A key and each account keep a sorted set of their
// in-flight requests: member = request id, score = the lease's expiry in unix
// ms. A lease is live while now < expiry. Nothing sweeps expired leases:
// every script that counts a set first drops its expired members, so a
// crashed edge's slots free themselves within the lease TTL without any
// janitor. The set itself carries a Redis TTL of at least the longest lease
// it was last given, so an idle key's set disappears.
//
// Every decision compares scores with the caller's clock (now, in unix ms,
// passed to the script) rather than Redis TIME: tests move time by passing a
// later now, and the embedded and the real Redis decide alike. Only the
// keys' own TTLs (garbage collection of idle state) run on Redis's clock.
//
// The scripts declare every key they touch in KEYS. Redis Cluster would
// also need them in one hash slot, which relay does not arrange: like the
// projections (apply.go) it targets a single Redis.

// luaPrelude is shared by the admission and scheduling scripts. ARGV[1] is
// now (unix ms), ARGV[2] the lease TTL (ms), ARGV[3] the request id.
const luaPrelude = `
local now = tonumber(ARGV[1])
local leaseTTL = tonumber(ARGV[2])
local req = ARGV[3]

-- live drops the expired leases of set k and returns how many remain.
local function live(k)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  return redis.call('ZCARD', k)
end

-- extend keeps k for at least ms more, never shortening its life.
local function extend(k, ms)
  local pttl = redis.call('PTTL', k)
  if pttl < 0 or pttl < ms then redis.call('PEXPIRE', k, ms) end
end

-- wait returns the ms until set k, holding n >= limit members, has room
-- for one more: when its (n-limit+1)-th lowest score plus offset passes.
local function wait(k, n, limit, offset)
  local s = redis.call('ZRANGE', k, n - limit, n - limit, 'WITHSCORES')
  return tonumber(s[2]) + offset - now
end
`

// renewScript moves the lease of request ARGV[3] in each set of KEYS to
// expiry ARGV[1] (unix ms) and keeps the sets ARGV[2] ms more. It does not
// bring back a lease that is gone: its slot may have been given away. It
// returns how many leases were gone.
var renewScript = redis.NewScript(`
local lost = 0
for i = 1, #KEYS do
  if redis.call('ZSCORE', KEYS[i], ARGV[3]) then
    redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3])
    local pttl = redis.call('PTTL', KEYS[i])
    if pttl < 0 or pttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
  else
    lost = lost + 1
  end
end
return lost
`)

// Release frees request requestID's lease on keyID and on each account, in
// one round trip. keyID "" frees the account leases only (a retry that
// leaves an account behind). Releasing a lease that is gone is no error.
// The request stays in the key's request window: that counts requests, not
// requests in flight.
func (s *Store) Release(ctx context.Context, keyID, requestID string, accountIDs ...string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if keyID != "" {
			p.ZRem(ctx, keyLeases(keyID), requestID)
		}
		for _, id := range accountIDs {
			p.ZRem(ctx, accountLeases(id), requestID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: release %s: %w", requestID, err)
	}
	return nil
}

// Renew extends request requestID's lease on keyID and on accountID to
// now+ttl, so a stream that outlives the lease TTL keeps its slots; call it
// every ttl/3 or so while the stream runs. keyID or accountID "" is left
// out. It returns ErrNotFound when a lease was already gone (expired and
// given away, or released); the other one is renewed anyway.
func (s *Store) Renew(ctx context.Context, keyID, requestID, accountID string, ttl time.Duration, now time.Time) error {
	if ttl <= 0 {
		return errors.New("store: renew: ttl must be positive")
	}
	var keys []string
	if keyID != "" {
		keys = append(keys, keyLeases(keyID))
	}
	if accountID != "" {
		keys = append(keys, accountLeases(accountID))
	}
	if len(keys) == 0 {
		return nil
	}
	lost, err := renewScript.Run(ctx, s.rdb, keys, unixMs(now)+ttl.Milliseconds(), ttl.Milliseconds(), requestID).Int()
	if err != nil {
		return fmt.Errorf("store: renew %s: %w", requestID, err)
	}
	if lost > 0 {
		return fmt.Errorf("store: renew %s: lease gone: %w", requestID, ErrNotFound)
	}
	return nil
}

// KeyInFlight returns how many requests of keyID hold a live lease at now.
func (s *Store) KeyInFlight(ctx context.Context, keyID string, now time.Time) (int, error) {
	n, err := s.rdb.ZCount(ctx, keyLeases(keyID), "("+strconv.FormatInt(unixMs(now), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("store: key in flight: %w", err)
	}
	return int(n), nil
}

// AccountInFlight returns, for each account, how many requests hold a live
// lease on it at now (0 for an idle one), in one round trip. Compared with
// an account's maxConcurrency it tells "at max concurrency".
func (s *Store) AccountInFlight(ctx context.Context, now time.Time, accountIDs ...string) (map[string]int, error) {
	from := "(" + strconv.FormatInt(unixMs(now), 10)
	cmds := make([]*redis.IntCmd, len(accountIDs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range accountIDs {
			cmds[i] = p.ZCount(ctx, accountLeases(id), from, "+inf")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: account in flight: %w", err)
	}
	out := make(map[string]int, len(accountIDs))
	for i, id := range accountIDs {
		out[id] = int(cmds[i].Val())
	}
	return out, nil
}

// unixMs is t in unix milliseconds; the zero time means now.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixMilli()
}

// retryAfter rounds a wait in ms up to whole seconds, at least one, since
// clients read Retry-After in seconds and 0 would invite a busy loop.
func retryAfter(ms int64) time.Duration {
	s := (ms + 999) / 1000
	if s < 1 {
		s = 1
	}
	return time.Duration(s) * time.Second
}
