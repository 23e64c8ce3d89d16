package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// LoginScope says what a failed-login counter counts by.
type LoginScope int

// The scopes of failed-login counters (names.go names their keys).
const (
	// LoginByAddress counts failures from one client address.
	LoginByAddress LoginScope = iota
	// LoginByUser counts failures against one bucket of usernames, from
	// every address.
	LoginByUser
	// LoginByDevice counts failures of one device cookie.
	LoginByDevice
)

// LoginCounter is one failed-login counter and the failures it allows in
// a window.
type LoginCounter struct {
	Scope LoginScope
	// ID is the address, the username bucket or the device id. The caller
	// bounds the set of IDs: every distinct ID is a key for one window.
	ID    string
	Limit int
}

func (c LoginCounter) key() string {
	switch c.Scope {
	case LoginByAddress:
		return loginFailAddr(c.ID)
	case LoginByUser:
		return loginFailUser(c.ID)
	case LoginByDevice:
		return loginFailDevice(c.ID)
	}
	panic(fmt.Sprintf("store: unknown login scope %d", c.Scope))
}

// luaLoginCharge checks every counter (KEYS) against its limit (ARGV[i+1])
// and, when none is reached, counts the attempt as a failure against each
// in advance; ARGV[1] is the window (ms), which starts at a counter's first
// failure. A refusal writes nothing and returns the time (ms) until every
// counter that refused has reset; an admission returns 0.
const luaLoginCharge = `
local wait = 0
for i, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', k)
    if ttl < 0 then
      redis.call('PEXPIRE', k, ARGV[1])
      ttl = tonumber(ARGV[1])
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, k in ipairs(KEYS) do
  if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, ARGV[1]) end
end
return 0
`

// luaLoginRefund takes back one charge from every counter (KEYS) that
// still holds one: a counter whose window ended in between is left alone,
// never created again or taken below zero.
const luaLoginRefund = `
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n > 1 then redis.call('DECR', k) elseif n == 1 then redis.call('DEL', k) end
end
return 0
`

var (
	loginChargeScript = redis.NewScript(luaLoginCharge)
	loginRefundScript = redis.NewScript(luaLoginRefund)
)

// ChargeLogin admits a login attempt when none of counters has reached its
// limit within window, and then counts the attempt as a failure against
// every one of them, before the password is checked: concurrent attempts
// can never pass more than a counter's limit. RefundLogin takes the charge
// back when the password was right. When the attempt is refused, nothing is
// written and retryAfter is the time until every counter that refused has
// reset (whole seconds, at least 1s).
func (s *Store) ChargeLogin(ctx context.Context, counters []LoginCounter, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	if len(counters) == 0 {
		return true, 0, nil
	}
	keys := make([]string, len(counters))
	args := make([]any, 0, len(counters)+1)
	args = append(args, window.Milliseconds())
	for i, c := range counters {
		keys[i] = c.key()
		args = append(args, c.Limit)
	}
	ms, err := loginChargeScript.Run(ctx, s.rdb, keys, args...).Int64()
	if err != nil {
		return false, 0, err
	}
	if ms == 0 {
		return true, 0, nil
	}
	return false, time.Duration((ms+999)/1000) * time.Second, nil
}

// RefundLogin takes back the charge ChargeLogin made for an attempt whose
// password was right: a successful login is not a failure.
func (s *Store) RefundLogin(ctx context.Context, counters []LoginCounter) error {
	if len(counters) == 0 {
		return nil
	}
	keys := make([]string, len(counters))
	for i, c := range counters {
		keys[i] = c.key()
	}
	return loginRefundScript.Run(ctx, s.rdb, keys).Err()
}
