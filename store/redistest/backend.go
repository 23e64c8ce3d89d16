package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Backend names, also the subtest names of ForEach.
const (
	NameEmbedded = "embedded"
	NameReal     = "real"
)

// Backend is one Redis a test runs against, on a database that was empty
// when the test got it. Everything in it is released by the test's
// cleanup.
type Backend struct {
	// Name is NameEmbedded or NameReal.
	Name string
	// Addr is the server's host:port.
	Addr string
	// DB is the logical database the test owns; Client selects it.
	DB int
	// Client is a ready client on DB, closed when the test ends.
	Client *redis.Client
	// Mini is the embedded server, nil for a real one. Tests use it for
	// what only miniredis can do (FastForward, SetTime) and to know which
	// known difference to expect.
	Mini *miniredis.Miniredis

	opts   redis.Options
	server *Server // a dedicated real server, nil when shared
}

// Embedded reports whether b is the embedded Redis (miniredis).
func (b Backend) Embedded() bool { return b.Mini != nil }

// URL is b as a redis:// URL with its database, for code configured by URL.
func (b Backend) URL() string {
	userinfo := ""
	if b.opts.Password != "" {
		userinfo = b.opts.Username + ":" + b.opts.Password + "@"
	}
	return fmt.Sprintf("redis://%s%s/%d", userinfo, b.Addr, b.DB)
}

// Options returns client options for b's database, to build clients the
// way production code does.
func (b Backend) Options() *redis.Options {
	o := b.opts
	return &o
}

// NewClient returns another client on b's database (a second edge, say),
// closed when t ends.
func (b Backend) NewClient(t testing.TB) *redis.Client {
	c := redis.NewClient(b.Options())
	t.Cleanup(func() { c.Close() })
	return c
}

// ForEach runs fn as the subtests "embedded" and "real", each with its own
// clean Backend. fn may call t.Parallel. The real subtest is skipped when
// redis-server is missing, unless CI is set.
func ForEach(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	forEach(t, fn, Real)
}

// ForEachDedicated is ForEach with a real server of the subtest's own, for
// tests that stop or restart Redis (Backend.Stop, Start, Restart). It costs
// a process start, so use ForEach unless the test needs it.
func ForEachDedicated(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	forEach(t, fn, Dedicated)
}

func forEach(t *testing.T, fn func(t *testing.T, b Backend), real func(testing.TB) Backend) {
	t.Run(NameEmbedded, func(t *testing.T) { fn(t, Embedded(t)) })
	t.Run(NameReal, func(t *testing.T) { fn(t, real(t)) })
}

// Backends returns an embedded and a real Backend for t. When redis-server
// is missing and CI is unset, it logs that and returns the embedded one
// only (ForEach skips a subtest instead, which shows in -v output).
func Backends(t testing.TB) []Backend {
	t.Helper()
	bs := []Backend{Embedded(t)}
	if os.Getenv("REDIS_TEST_URL") == "" && os.Getenv("CI") == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Log("redistest: redis-server not on PATH, leaving out the real Redis backend (apt-get install -y redis-server)")
			return bs
		}
	}
	return append(bs, Real(t))
}
