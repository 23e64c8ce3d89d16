package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoAccount reports that no candidate account is free.
var ErrNoAccount = errors.New("store: no account available")

// How an account was chosen (Chosen.By).
const (
	BySticky    = "sticky"
	ByScheduled = "scheduled"
)

// lruTTL is how long a platform's least-recently-used order outlives its
// last use. Losing it only forgets which account went last.
const lruTTL = 30 * 24 * time.Hour

// Candidate is an account the request may use.
type Candidate struct {
	ID string
	// Priority: lower is preferred.
	Priority int
	// MaxConcurrency caps the account's requests in flight; 0 = unlimited.
	MaxConcurrency int
}

// Choice asks for one account of Candidates for a request.
type Choice struct {
	RequestID string
	// Now is the caller's clock (unix ms decisions); zero means time.Now().
	Now time.Time
	// LeaseTTL is the life of the account lease without Renew; positive.
	LeaseTTL time.Duration
	// Platform scopes the least-recently-used order; required.
	Platform string
	// StickyKey names the session's binding to an account; "" = no
	// session. Bindings are global, so the caller must scope the key per
	// API key (and platform): sessions of different keys must never share
	// a binding. SessionKey builds such a key.
	StickyKey string
	// StickyTTL is the binding's life, renewed on every sticky hit
	// (STICKY_TTL); positive when StickyKey is set.
	StickyTTL time.Duration
	// Candidates are the accounts the caller found available (active,
	// schedulable, model, health, quota, not yet tried by this request), in
	// any order; the store checks only their concurrency.
	Candidates []Candidate
}

// Chosen is the account a request got.
type Chosen struct {
	AccountID string
	// By is BySticky or ByScheduled.
	By string
	// Busy lists the candidates skipped at their max concurrency (also set
	// with ErrNoAccount).
	Busy []string
}

// luaChoose picks and takes an account. Its keys start at KEYS[kc]: the
// platform's LRU set, the sticky binding (when the sticky TTL is
// positive), then one lease set per candidate; its args at ARGV[ac]: the
// number of candidates, the sticky TTL (ms, 0 = no session), the LRU TTL
// (ms), then id, priority, max concurrency per candidate, sorted by
// priority then id, which makes ties deterministic.
const luaChoose = `
local function chooseArgs(kc, ac)
  local c = {n = tonumber(ARGV[ac]), stickyTTL = tonumber(ARGV[ac+1]), lruTTL = tonumber(ARGV[ac+2]), lru = KEYS[kc]}
  local k = kc + 1
  if c.stickyTTL > 0 then c.sticky = KEYS[k]; k = k + 1 end
  c.id, c.prio, c.max, c.lease = {}, {}, {}, {}
  for i = 1, c.n do
    local a = ac + 3 * i
    c.id[i], c.prio[i], c.max[i] = ARGV[a], tonumber(ARGV[a+1]), tonumber(ARGV[a+2])
    c.lease[i] = KEYS[k + i - 1]
  end
  return c
end

-- pick returns the index of the account to take (nil when none is free),
-- how it was picked and the ids skipped at max concurrency. It writes
-- nothing but the removal of expired leases.
local function pick(c)
  local busy, free = {}, {}
  local function isFree(i)
    if free[i] == nil then
      free[i] = c.max[i] <= 0 or live(c.lease[i]) < c.max[i]
      if not free[i] then busy[#busy + 1] = c.id[i] end
    end
    return free[i]
  end
  if c.sticky then
    local bound = redis.call('GET', c.sticky)
    if bound then
      for i = 1, c.n do
        if c.id[i] == bound then
          if isFree(i) then return i, 'sticky', busy end
          break
        end
      end
    end
  end
  -- Best priority first; within it the least recently used free account
  -- (never used = -1 comes first; the id order breaks ties).
  local i = 1
  while i <= c.n do
    local best, bestAt = nil, nil
    local j = i
    while j <= c.n and c.prio[j] == c.prio[i] do
      if isFree(j) then
        local at = tonumber(redis.call('ZSCORE', c.lru, c.id[j]) or '-1')
        if best == nil or at < bestAt then best, bestAt = j, at end
      end
      j = j + 1
    end
    if best then return best, 'scheduled', busy end
    i = j
  end
  return nil, nil, busy
end

-- take records the use, the lease and the binding of candidate i.
local function take(c, i, by)
  redis.call('ZADD', c.lru, now, c.id[i])
  extend(c.lru, c.lruTTL)
  redis.call('ZREMRANGEBYSCORE', c.lease[i], '-inf', now)
  redis.call('ZADD', c.lease[i], now + leaseTTL, req)
  extend(c.lease[i], leaseTTL)
  if c.sticky then
    if by == 'sticky' then
      redis.call('PEXPIRE', c.sticky, c.stickyTTL)
    else
      redis.call('SET', c.sticky, c.id[i], 'PX', c.stickyTTL)
    end
  end
end

-- answer is {0, id, by, busy...}, or {2, busy...} when i is nil.
local function answer(c, i, by, busy)
  local r
  if i == nil then r = {2} else r = {0, c.id[i], by} end
  for _, id in ipairs(busy) do r[#r + 1] = id end
  return r
end
`

// chooseScript answers {0, id, by, busy...} or {2, busy...}.
var chooseScript = redis.NewScript(luaPrelude + luaChoose + `
local c = chooseArgs(1, 4)
local i, by, busy = pick(c)
if i ~= nil then take(c, i, by) end
return answer(c, i, by, busy)
`)

// admitChooseScript admits and chooses, or writes nothing: it answers
// {1, limit, retry ms} for a refusal, else as chooseScript.
var admitChooseScript = redis.NewScript(luaPrelude + luaAdmit + luaChoose + `
local r = admitCheck()
if r then return r end
local c = chooseArgs(3, 7)
local i, by, busy = pick(c)
if i ~= nil then
  admitWrite()
  take(c, i, by)
end
return answer(c, i, by, busy)
`)

// Choose picks an account for c's request atomically across edges: the
// session's bound account if it is a candidate under its max concurrency
// (the binding's TTL is renewed); else, among the free candidates of the
// best priority, the one least recently used on the platform by any edge
// (if all of that priority are at max concurrency, the next priority). It
// records the use, takes a lease on the account (Release it) and binds the
// session to a scheduled account. With no free candidate it returns
// ErrNoAccount and writes nothing.
func (s *Store) Choose(ctx context.Context, c Choice) (Chosen, error) {
	if len(c.Candidates) == 0 {
		return Chosen{}, ErrNoAccount
	}
	if err := c.validate(); err != nil {
		return Chosen{}, err
	}
	keys, argv := c.script([]string{}, []any{unixMs(c.Now), c.LeaseTTL.Milliseconds(), c.RequestID})
	res, err := chooseScript.Run(ctx, s.rdb, keys, argv...).Slice()
	if err != nil {
		return Chosen{}, fmt.Errorf("store: choose %s: %w", c.RequestID, err)
	}
	return chosen(res)
}

// AdmitAndChoose is Admit then Choose in one round trip, all or nothing:
// a refusal chooses and writes nothing; ErrNoAccount admits nothing either
// (the request holds no slot and does not count in the window). a and c
// describe the same request: a's RequestID, Now and LeaseTTL are used.
func (s *Store) AdmitAndChoose(ctx context.Context, a Admission, c Choice) (*Refusal, Chosen, error) {
	keys, argv, err := a.script()
	if err != nil {
		return nil, Chosen{}, err
	}
	c.RequestID, c.Now, c.LeaseTTL = a.RequestID, a.Now, a.LeaseTTL
	if err := c.validate(); err != nil {
		return nil, Chosen{}, err
	}
	keys, argv = c.script(keys, argv)
	res, err := admitChooseScript.Run(ctx, s.rdb, keys, argv...).Slice()
	if err != nil {
		return nil, Chosen{}, fmt.Errorf("store: admit and choose %s: %w", a.RequestID, err)
	}
	r, err := refusal(res)
	if r != nil || err != nil {
		return r, Chosen{}, err
	}
	ch, err := chosen(res)
	return nil, ch, err
}

func (c Choice) validate() error {
	switch {
	case c.RequestID == "":
		return errors.New("store: choose: request id is required")
	case c.Platform == "":
		return errors.New("store: choose: platform is required")
	case c.LeaseTTL <= 0:
		return errors.New("store: choose: lease TTL must be positive")
	case c.StickyKey != "" && c.StickyTTL <= 0:
		return errors.New("store: choose: sticky TTL must be positive")
	}
	return nil
}

// script appends luaChoose's keys and args to keys and argv.
func (c Choice) script(keys []string, argv []any) ([]string, []any) {
	cands := slices.Clone(c.Candidates)
	slices.SortFunc(cands, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	var stickyTTL int64
	keys = append(keys, lastUsed(c.Platform))
	if c.StickyKey != "" {
		stickyTTL = c.StickyTTL.Milliseconds()
		keys = append(keys, stickyBinding(c.StickyKey))
	}
	argv = append(argv, len(cands), stickyTTL, lruTTL.Milliseconds())
	for _, cd := range cands {
		keys = append(keys, accountLeases(cd.ID))
		argv = append(argv, cd.ID, cd.Priority, max(cd.MaxConcurrency, 0))
	}
	return keys, argv
}

// chosen reads a script's {0, id, by, busy...} or {2, busy...} answer.
func chosen(res []any) (Chosen, error) {
	if len(res) == 0 {
		return Chosen{}, errors.New("store: choose: empty script answer")
	}
	code, _ := res[0].(int64)
	var ch Chosen
	rest := res[1:]
	switch {
	case code == 2:
	case code == 0 && len(res) >= 3:
		ch.AccountID, _ = res[1].(string)
		ch.By, _ = res[2].(string)
		rest = res[3:]
	default:
		return Chosen{}, fmt.Errorf("store: choose: bad script answer %v", res)
	}
	for _, b := range rest {
		if id, ok := b.(string); ok {
			ch.Busy = append(ch.Busy, id)
		}
	}
	if code == 2 {
		return ch, ErrNoAccount
	}
	return ch, nil
}
