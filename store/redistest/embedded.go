package redistest

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Embedded returns a Backend on a miniredis of the test's own, closed when
// the test ends.
func Embedded(t testing.TB) Backend {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatalf("redistest: start miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	b := Backend{Name: NameEmbedded, Addr: m.Addr(), Mini: m, opts: redis.Options{Addr: m.Addr()}}
	b.Client = b.NewClient(t)
	return b
}

// Real returns a Backend on a clean database of this test binary's shared
// redis-server (or of REDIS_TEST_URL), started on first use. Parallel
// tests get different databases of it. Without redis-server on PATH the
// test is skipped, or fails when the CI environment variable is set.
func Real(t testing.TB) Backend {
	t.Helper()
	env := sharedEnv(t)
	db, release := env.pool.acquire(t)
	t.Cleanup(release)
	b := Backend{Name: NameReal, Addr: env.opts.Addr, DB: db, opts: env.opts}
	b.opts.DB = db
	b.Client = b.NewClient(t)
	if err := b.Client.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("redistest: FLUSHDB on %s db %d: %v", b.Addr, db, err)
	}
	return b
}

// Dedicated returns a Backend on a redis-server of the test's own (see
// NewServer), which Stop, Start and Restart may take down.
func Dedicated(t testing.TB) Backend {
	t.Helper()
	return NewServer(t).Backend(t)
}

// Backend returns a Backend on s's database 0, flushed, whose Stop, Start
// and Restart act on s.
func (s *Server) Backend(t testing.TB) Backend {
	t.Helper()
	b := Backend{Name: NameReal, Addr: s.Addr(), opts: redis.Options{Addr: s.Addr()}, server: s}
	b.Client = b.NewClient(t)
	if err := b.Client.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("redistest: FLUSHALL on %s: %v", b.Addr, err)
	}
	return b
}
