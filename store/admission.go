package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Admission is one request of one API key asking to pass the key's
// concurrency and request-rate limits.
type Admission struct {
	KeyID, RequestID string
	// Now is the caller's clock; every expiry decision uses it, never Redis
	// TIME. The zero time means time.Now().
	Now time.Time
	// ConcurrencyLimit caps the key's requests in flight; 0 = unlimited.
	// The lease is taken either way, so KeyInFlight always counts.
	ConcurrencyLimit int
	// LeaseTTL is how long the lease lives without Renew: a crashed edge's
	// slot frees itself after it. Must be positive.
	LeaseTTL time.Duration
	// Window and WindowRequests allow at most WindowRequests requests in any
	// Window (rateLimitWindow minutes, rateLimitRequests); either 0 =
	// unlimited, and then nothing is logged.
	Window         time.Duration
	WindowRequests int
}

// Limits a Refusal names.
const (
	LimitConcurrency = "concurrency"
	LimitRequests    = "requests"
)

// Refusal says which limit kept a request out and when to try again.
type Refusal struct {
	// Limit is LimitConcurrency or LimitRequests. When both are reached it
	// names the one that keeps the request out longer.
	Limit string
	// RetryAfter is the time until that limit has room again (the earliest
	// lease expires, or the oldest logged request leaves the window),
	// rounded up to whole seconds, at least 1s.
	RetryAfter time.Duration
}

// luaAdmit checks and takes a key's limits. KEYS[1] is the key's lease set,
// KEYS[2] its request log; ARGV[4] the concurrency limit, ARGV[5] the window
// (ms), ARGV[6] the requests allowed in it. The request window is a sliding
// log: a request admitted at t counts while now < t + window, so "at most L
// in any window" holds exactly, unlike a fixed window that admits 2L across
// a boundary. Checks come first and write nothing but the removal of what
// has expired, so a refused request leaves no trace.
const luaAdmit = `
local function admitCheck()
  local limit, winMs, winMax = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local refusal = nil
  local n = live(KEYS[1])
  if limit > 0 and n >= limit then
    refusal = {1, 'concurrency', wait(KEYS[1], n, limit, 0)}
  end
  if winMax > 0 and winMs > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - winMs)
    local m = redis.call('ZCARD', KEYS[2])
    if m >= winMax then
      local w = wait(KEYS[2], m, winMax, winMs)
      if refusal == nil or w >= refusal[3] then refusal = {1, 'requests', w} end
    end
  end
  return refusal
end

local function admitWrite()
  redis.call('ZADD', KEYS[1], now + leaseTTL, req)
  extend(KEYS[1], leaseTTL)
  local winMs, winMax = tonumber(ARGV[5]), tonumber(ARGV[6])
  if winMax > 0 and winMs > 0 then
    redis.call('ZADD', KEYS[2], now, req)
    extend(KEYS[2], winMs)
  end
end
`

// admitScript answers {0} (admitted) or {1, limit, retry ms}.
var admitScript = redis.NewScript(luaPrelude + luaAdmit + `
local r = admitCheck()
if r then return r end
admitWrite()
return {0}
`)

// Admit admits a's request if the key is under its concurrency limit and its
// request window has room, taking a lease and a window entry atomically
// across edges; otherwise it returns a Refusal and writes nothing. The
// caller must Release the lease when the request ends.
func (s *Store) Admit(ctx context.Context, a Admission) (*Refusal, error) {
	keys, argv, err := a.script()
	if err != nil {
		return nil, err
	}
	res, err := admitScript.Run(ctx, s.rdb, keys, argv...).Slice()
	if err != nil {
		return nil, fmt.Errorf("store: admit %s: %w", a.RequestID, err)
	}
	return refusal(res)
}

// script returns the KEYS and ARGV[1..6] of the admission scripts.
func (a Admission) script() ([]string, []any, error) {
	if a.KeyID == "" || a.RequestID == "" {
		return nil, nil, errors.New("store: admit: key id and request id are required")
	}
	if a.LeaseTTL <= 0 {
		return nil, nil, errors.New("store: admit: lease TTL must be positive")
	}
	keys := []string{keyLeases(a.KeyID), keyWindow(a.KeyID)}
	argv := []any{unixMs(a.Now), a.LeaseTTL.Milliseconds(), a.RequestID,
		max(a.ConcurrencyLimit, 0), max(a.Window.Milliseconds(), 0), max(a.WindowRequests, 0)}
	return keys, argv, nil
}

// refusal reads a script's {1, limit, ms} answer; any other is nil.
func refusal(res []any) (*Refusal, error) {
	if len(res) == 0 {
		return nil, errors.New("store: admit: empty script answer")
	}
	if code, _ := res[0].(int64); code != 1 {
		return nil, nil
	}
	if len(res) < 3 {
		return nil, fmt.Errorf("store: admit: bad refusal %v", res)
	}
	limit, _ := res[1].(string)
	ms, _ := res[2].(int64)
	return &Refusal{Limit: limit, RetryAfter: retryAfter(ms)}, nil
}
