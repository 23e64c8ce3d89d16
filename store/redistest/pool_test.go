package redistest

import (
	"context"
	"testing"
)

func TestLeasePoolSharesAnExternalServer(t *testing.T) {
	s := NewServer(t)
	// Two "test binaries" leasing from one server.
	envA, err := externalEnv("redis://" + s.Addr() + "/5")
	if err != nil {
		t.Fatal(err)
	}
	defer envA.admin.Close()
	envB, err := externalEnv("redis://" + s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer envB.admin.Close()
	if envA.opts.DB != 0 {
		t.Fatalf("URL database not ignored: %d", envA.opts.DB)
	}

	held := map[int]func(){}
	for i := range 15 {
		env := envA
		if i%2 == 1 {
			env = envB
		}
		db, release := env.pool.acquire(t)
		if db == 0 {
			t.Fatal("leased database 0, which holds the leases")
		}
		if _, dup := held[db]; dup {
			t.Fatalf("database %d leased twice", db)
		}
		held[db] = release
	}
	held[7]()
	if db, _ := envB.pool.acquire(t); db != 7 {
		t.Fatalf("after releasing 7, leased %d", db)
	}
	// A release by a non-holder does nothing.
	held[7]()
	if n := envA.admin.Exists(context.Background(), "redistest:lease:7").Val(); n != 1 {
		t.Fatal("stale release dropped someone else's lease")
	}
}

func TestLocalPoolReusesReleasedDatabases(t *testing.T) {
	p := newLocalPool(2)
	a, releaseA := p.acquire(t)
	b, _ := p.acquire(t)
	if a == b {
		t.Fatalf("both got %d", a)
	}
	releaseA()
	if c, _ := p.acquire(t); c != a {
		t.Fatalf("got %d, want released %d", c, a)
	}
}
