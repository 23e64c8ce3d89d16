package redistest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// acquireTimeout bounds how long a test waits for a free database.
const acquireTimeout = 2 * time.Minute

// dbPool hands out logical databases of one server, one test at a time,
// so parallel tests sharing the server do not see each other's keys.
type dbPool interface {
	// acquire returns a database for t's exclusive use and its release.
	acquire(t testing.TB) (db int, release func())
}

// localPool shares a server owned by this test binary.
type localPool struct {
	free chan int
}

func newLocalPool(databases int) *localPool {
	p := &localPool{free: make(chan int, databases)}
	for db := range databases {
		p.free <- db
	}
	return p
}

func (p *localPool) acquire(t testing.TB) (int, func()) {
	t.Helper()
	timeout := time.NewTimer(acquireTimeout)
	defer timeout.Stop()
	select {
	case db := <-p.free:
		return db, func() { p.free <- db }
	case <-timeout.C:
		t.Fatalf("redistest: no free Redis database after %v (%d in use)", acquireTimeout, cap(p.free))
		return 0, nil
	}
}

// leasePool shares an external server with other test binaries, which may
// run at the same time (go test runs packages in parallel). A database is
// held by a lease key in database 0, which no test is given; a lease of a
// crashed test binary expires after leaseTTL.
type leasePool struct {
	admin     *redis.Client // on database 0
	databases int
}

const leaseTTL = 30 * time.Minute

// leaseSeq numbers this binary's leases.
var leaseSeq atomic.Int64

var releaseLease = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

func (p *leasePool) acquire(t testing.TB) (int, func()) {
	t.Helper()
	ctx := context.Background()
	host, _ := os.Hostname()
	token := fmt.Sprintf("%s/%d/%d", host, os.Getpid(), leaseSeq.Add(1))
	deadline := time.Now().Add(acquireTimeout)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		for db := 1; db < p.databases; db++ {
			key := "redistest:lease:" + strconv.Itoa(db)
			ok, err := p.admin.SetNX(ctx, key, token, leaseTTL).Result()
			if err != nil {
				t.Fatalf("redistest: lease a database: %v", err)
			}
			if ok {
				return db, func() { releaseLease.Run(ctx, p.admin, []string{key}, token) }
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: all %d databases of REDIS_TEST_URL stayed leased for %v", p.databases-1, acquireTimeout)
		}
		<-poll.C
	}
}
