package redistest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// sharedDatabases is how many logical databases the per-binary server
// has, so that many tests can use it in parallel.
const sharedDatabases = 64

// realEnv is where this test binary's real backends live.
type realEnv struct {
	opts   redis.Options // Addr, credentials; DB is set per test
	pool   dbPool
	server *Server       // nil for REDIS_TEST_URL
	admin  *redis.Client // REDIS_TEST_URL's lease client, else nil
}

// shared is the real Redis of this test binary, started on first use. It
// is package state because it outlives every single test; Main stops it.
var shared struct {
	once sync.Once
	env  *realEnv
	err  error

	mu      sync.Mutex // protects stopped
	stopped bool
}

// Main runs the tests and then stops the shared redis-server, if one was
// started. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops this binary's shared redis-server (or closes the lease
// client of REDIS_TEST_URL). It is idempotent and safe to call from any
// goroutine; Main calls it. Real fails afterwards.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stopped {
		return
	}
	shared.stopped = true
	// Block a start that has not happened yet, and wait for one under way.
	shared.once.Do(func() { shared.err = fmt.Errorf("redistest: shared Redis already stopped") })
	if env := shared.env; env != nil {
		if env.server != nil {
			env.server.close()
		}
		if env.admin != nil {
			env.admin.Close()
		}
	}
}

// sharedEnv returns the binary's real Redis, starting it on first use.
func sharedEnv(t testing.TB) *realEnv {
	t.Helper()
	url := os.Getenv("REDIS_TEST_URL")
	var bin string
	if url == "" {
		bin = redisBinary(t) // skips or fails the test when missing
	}
	shared.once.Do(func() {
		if url != "" {
			shared.env, shared.err = externalEnv(url)
		} else {
			shared.env, shared.err = localEnv(bin)
		}
	})
	if shared.err != nil {
		t.Fatalf("redistest: %v", shared.err)
	}
	shared.mu.Lock()
	stopped := shared.stopped
	shared.mu.Unlock()
	if stopped {
		t.Fatalf("redistest: shared Redis already stopped")
	}
	return shared.env
}

func localEnv(bin string) (*realEnv, error) {
	s, err := startServer(bin, sharedDatabases)
	if err != nil {
		return nil, err
	}
	return &realEnv{
		opts:   redis.Options{Addr: s.Addr()},
		pool:   newLocalPool(sharedDatabases),
		server: s,
	}, nil
}

// externalEnv uses the server at url; its database number is ignored,
// since tests lease databases 1 and up (database 0 holds the leases).
func externalEnv(url string) (*realEnv, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_TEST_URL: %w", err)
	}
	opts.DB = 0
	admin := redis.NewClient(opts)
	ctx := context.Background()
	if err := admin.Ping(ctx).Err(); err != nil {
		admin.Close()
		return nil, fmt.Errorf("REDIS_TEST_URL %s: %w", opts.Addr, err)
	}
	databases := 16
	if cfg, err := admin.ConfigGet(ctx, "databases").Result(); err == nil {
		if n, err := strconv.Atoi(cfg["databases"]); err == nil && n > 1 {
			databases = n
		}
	}
	return &realEnv{
		opts:  *opts,
		pool:  &leasePool{admin: admin, databases: databases},
		admin: admin,
	}, nil
}
