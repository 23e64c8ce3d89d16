package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Read-model generations.
//
// The read models live under a generation's prefix: generation 0 is the
// versioned prefix itself ("relay:v2:"), generation N > 0 is
// "relay:v1:g<N>:". The pointer key "relay:v1:gen" names the live
// generation (missing: 0). `relay rebuild` fills generation N+1 from the
// streams while everything keeps serving N, then moves the pointer with
// SwitchGeneration and drops N.
//
// A store made by New follows the pointer: it caches the live generation
// and re-reads the pointer at most every RefreshEvery (or when told to,
// with Refresh). Its reads may lag a switch by that long. Its writes never
// do: Apply refuses ops computed for another generation than the one it
// applies to, and the apply script refuses to write unless the pointer
// still names that generation (ErrGenerationMoved, which a projector
// retries). A store made by AtGeneration is pinned to one generation and
// writes there whatever the pointer says: that is how a rebuild fills the
// next one.

// ErrGenerationMoved reports a write prepared for a generation that is no
// longer the live one; the store has re-read the pointer, and the caller
// must prepare the write again (a projector's retry does).
var ErrGenerationMoved = errors.New("store: read-model generation moved")

// RefreshEvery bounds how stale a following store's generation may be.
const RefreshEvery = time.Second

// genView is a store's idea of its generation.
type genView struct {
	n      uint64
	prefix string
	at     time.Time // when the pointer was read; zero for a pinned view
}

// follower caches the live generation for a store made by New.
type follower struct {
	cur        atomic.Pointer[genView]
	refreshing atomic.Bool
}

func genPrefix(base string, n uint64) string {
	if n == 0 {
		return base
	}
	return base + "g" + strconv.FormatUint(n, 10) + ":"
}

// view returns the generation to use now, starting a background refresh
// of the pointer when the cached one is older than RefreshEvery.
func (s *Store) view() *genView {
	if s.follow == nil {
		return s.pinned
	}
	v := s.follow.cur.Load()
	if time.Since(v.at) > RefreshEvery && s.follow.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.follow.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = s.Refresh(ctx) // on error the old view stays, retried in RefreshEvery
		}()
	}
	return v
}

// prefix is the prefix of the generation the store reads and writes now.
func (s *Store) prefix() string { return s.view().prefix }

// Refresh re-reads the generation pointer. A pinned store ignores it.
func (s *Store) Refresh(ctx context.Context) error {
	if s.follow == nil {
		return nil
	}
	n, err := s.LiveGeneration(ctx)
	if err != nil {
		// Do not retry at every key name while Redis is away.
		old := s.follow.cur.Load()
		s.follow.cur.Store(&genView{n: old.n, prefix: old.prefix, at: time.Now()})
		return err
	}
	s.follow.cur.Store(&genView{n: n, prefix: genPrefix(s.base, n), at: time.Now()})
	return nil
}

// LiveGeneration reads the generation pointer.
func (s *Store) LiveGeneration(ctx context.Context) (uint64, error) {
	n, err := s.rdb.Get(ctx, s.genPointer()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: generation pointer: %w", err)
	}
	return n, nil
}

// Generation is the generation the store uses now: pinned, or the live one
// as last read.
func (s *Store) Generation() uint64 { return s.view().n }

// AtGeneration returns a store on the same Redis pinned to generation n.
func (s *Store) AtGeneration(n uint64) *Store {
	return &Store{rdb: s.rdb, base: s.base, pinned: &genView{n: n, prefix: genPrefix(s.base, n)}}
}

// ownsOps checks that every read-model key of ops belongs to generation v:
// ops prepared before a switch must not land in the next generation.
// Keys outside the read models (request-time state) belong to none.
func (s *Store) ownsOps(v *genView, ops []Op) error {
	for _, op := range ops {
		if len(op.Args) == 0 {
			continue
		}
		if k, ok := op.Args[0].(string); ok && strings.HasPrefix(k, s.base) && s.generationOf(k) != v.n {
			return ErrGenerationMoved
		}
	}
	return nil
}

// generationOf returns the generation of a key under the base prefix.
func (s *Store) generationOf(key string) uint64 {
	n, _ := genOfRest(key[len(s.base):])
	return n
}

// genOfRest parses "g<N>:..." (a key of generation N > 0 without the base
// prefix).
func genOfRest(rest string) (uint64, bool) {
	if len(rest) < 3 || rest[0] != 'g' {
		return 0, false
	}
	end := strings.IndexByte(rest, ':')
	if end < 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(rest[1:end], 10, 64)
	return n, err == nil && n > 0
}

// reserved reports whether key (under the base prefix) is generation
// bookkeeping or another generation's read model: generation 0 shares its
// prefix with them, so its Digest and Drop leave them out.
func (s *Store) reserved(key string) bool {
	rest := strings.TrimPrefix(key, s.base)
	if rest == "gen" || strings.HasPrefix(rest, "gen:") {
		return true
	}
	_, ok := genOfRest(rest)
	return ok
}

// switchScript moves the pointer from ARGV[1] to ARGV[2] when, for every
// projection, the next generation has applied everything the live one
// has: its watermark is at or above the live watermark and above every
// sequence the live one applied out of order. Live workers acknowledge an
// event only after applying it, so then every event the next generation
// lacks is still unacknowledged and will be delivered to them again, and
// from the switch on their writes go to the next generation. Keys: the
// pointer; ARGV: from, to, then per projection the live checkpoint, live
// pending set and next checkpoint.
var switchScript = redis.NewScript(`
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return -1 end
for i = 3, #ARGV, 3 do
  local live = tonumber(redis.call('GET', ARGV[i]) or '0')
  local next = tonumber(redis.call('GET', ARGV[i+2]) or '0')
  if next < live then return 0 end
  for _, seq in ipairs(redis.call('SMEMBERS', ARGV[i+1])) do
    if tonumber(seq) > next then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// SwitchGeneration makes generation to live in place of from, if to has
// caught up with from for every projection (see switchScript). It reports
// false when to is still behind, and ErrConflict when from is no longer
// the live generation.
func (s *Store) SwitchGeneration(ctx context.Context, from, to uint64, projections []string) (bool, error) {
	live, next := s.AtGeneration(from), s.AtGeneration(to)
	argv := []any{strconv.FormatUint(from, 10), strconv.FormatUint(to, 10)}
	for _, p := range projections {
		argv = append(argv, live.checkpoint(p), live.pending(p), next.checkpoint(p))
	}
	n, err := switchScript.Run(ctx, s.rdb, []string{s.genPointer()}, argv...).Int()
	switch {
	case err != nil:
		return false, fmt.Errorf("store: switch generation: %w", err)
	case n < 0:
		return false, fmt.Errorf("%w: generation %d is no longer live", ErrConflict, from)
	case n == 0:
		return false, nil
	}
	if s.follow != nil {
		s.follow.cur.Store(&genView{n: to, prefix: genPrefix(s.base, to), at: time.Now()})
	}
	return true, nil
}

// lockScript takes or extends the rebuild lock for owner.
var lockScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// unlockScript releases the rebuild lock if owner holds it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// LockRebuild takes the rebuild lock for owner, or extends it if owner
// holds it, for ttl. It reports false when another rebuild holds it: two
// rebuilds would build the same next generation.
func (s *Store) LockRebuild(ctx context.Context, owner string, ttl time.Duration) (bool, error) {
	n, err := lockScript.Run(ctx, s.rdb, []string{s.rebuildLock()}, owner, ttl.Milliseconds()).Int()
	return n == 1, err
}

// UnlockRebuild releases the rebuild lock if owner holds it.
func (s *Store) UnlockRebuild(ctx context.Context, owner string) error {
	return unlockScript.Run(ctx, s.rdb, []string{s.rebuildLock()}, owner).Err()
}
