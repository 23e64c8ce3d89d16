package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// HitCounter is one fixed-window request counter: at most Limit requests
// of ID in each window. The caller bounds the set of IDs; every distinct
// ID costs one small key per window, which expires soon after.
type HitCounter struct {
	// Scope names what is counted ("addr", "key"); with ID it names the
	// counter.
	Scope, ID string
	Limit     int64
}

// luaHit checks every counter (KEYS) against its limit (ARGV[i+1]) and,
// when none is reached, counts the request against each; ARGV[1] is how
// long the keys live (ms). A refusal writes nothing and answers 1.
const luaHit = `
for i, k in ipairs(KEYS) do
  if tonumber(redis.call('GET', k) or '0') >= tonumber(ARGV[i + 1]) then return 1 end
end
for _, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, ARGV[1]) end
end
return 0
`

var hitScript = redis.NewScript(luaHit)

// Hit counts one request against every counter in the fixed window of now
// (windows start at multiples of window since the Unix epoch, by the
// caller's clock), unless one of them has reached its limit: then it
// counts nothing and answers the time until the window ends, rounded up
// to whole seconds. The counters are runtime state, apart from every
// other: a key-stats counter never touches a key's relay limits.
func (s *Store) Hit(ctx context.Context, counters []HitCounter, window time.Duration, now time.Time) (ok bool, wait time.Duration, err error) {
	if window < time.Second {
		return false, 0, fmt.Errorf("store: hit window %v under a second", window)
	}
	nowMs, winMs := unixMs(now), window.Milliseconds()
	idx, into := divFloor(nowMs, winMs)
	keys := make([]string, len(counters))
	argv := make([]any, 0, len(counters)+1)
	// Keys outlive their window a little, so a caller whose clock runs
	// behind Redis's still finds its count.
	argv = append(argv, 2*winMs)
	for i, c := range counters {
		keys[i] = hitCounter(c.Scope, c.ID, strconv.FormatInt(idx, 10))
		argv = append(argv, c.Limit)
	}
	refused, err := hitScript.Run(ctx, s.rdb, keys, argv...).Int()
	if err != nil {
		return false, 0, fmt.Errorf("store: hit: %w", err)
	}
	if refused == 1 {
		return false, retryAfter(winMs - into), nil
	}
	return true, 0, nil
}
