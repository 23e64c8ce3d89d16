package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestForEachRunsBothBackendsOnCleanDatabases(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]bool{}
	for round := range 2 {
		ForEach(t, func(t *testing.T, b Backend) {
			mu.Lock()
			seen[b.Name] = true
			mu.Unlock()
			if got := b.Client.DBSize(ctx).Val(); got != 0 {
				t.Fatalf("round %d: database %d starts with %d keys", round, b.DB, got)
			}
			if err := b.Client.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if b.Embedded() != (b.Name == NameEmbedded) || b.Embedded() != (b.Mini != nil) {
				t.Fatalf("Embedded() = %v for %q", b.Embedded(), b.Name)
			}
		})
	}
	if !seen[NameEmbedded] || seen[NameReal] != haveReal() {
		t.Fatalf("backends seen: %v", seen)
	}
}

func TestBackendsReturnsBoth(t *testing.T) {
	bs := Backends(t)
	want := 1
	if haveReal() {
		want = 2
	}
	if len(bs) != want || bs[0].Name != NameEmbedded || want == 2 && bs[1].Name != NameReal {
		t.Fatalf("Backends = %d backends", len(bs))
	}
	for _, b := range bs {
		if err := b.Client.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
	}
}

func TestParallelRealTestsGetSeparateDatabases(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	held := map[int]bool{} // databases held by running subtests
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			b := Real(t)
			mu.Lock()
			dup := held[b.DB]
			held[b.DB] = true
			mu.Unlock()
			t.Cleanup(func() {
				mu.Lock()
				delete(held, b.DB)
				mu.Unlock()
			})
			if dup {
				t.Fatalf("database %d handed to two running tests", b.DB)
			}
			for range 50 {
				b.Client.Incr(ctx, "n")
				if got := b.Client.Get(ctx, "owner").Val(); got != "" && got != fmt.Sprint(i) {
					t.Fatalf("owner = %q, want %d", got, i)
				}
				b.Client.Set(ctx, "owner", i, 0)
			}
			if n, _ := b.Client.Get(ctx, "n").Int(); n != 50 {
				t.Fatalf("n = %d, want 50: another test wrote here", n)
			}
		})
	}
}

func TestURLAndOptionsReachTheSameDatabase(t *testing.T) {
	ctx := context.Background()
	ForEach(t, func(t *testing.T, b Backend) {
		b.Client.Set(ctx, "k", "v", 0)
		opts, err := redis.ParseURL(b.URL())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []*redis.Options{opts, b.Options()} {
			c := redis.NewClient(o)
			defer c.Close()
			if got := c.Get(ctx, "k").Val(); got != "v" {
				t.Fatalf("via %s db %d: GET k = %q", o.Addr, o.DB, got)
			}
		}
		if got := b.NewClient(t).Get(ctx, "k").Val(); got != "v" {
			t.Fatalf("NewClient: GET k = %q", got)
		}
	})
}

func TestDedicatedStopStartLosesDataAndScripts(t *testing.T) {
	ctx := context.Background()
	script := redis.NewScript(`return redis.call("INCR", KEYS[1])`)
	ForEachDedicated(t, func(t *testing.T, b Backend) {
		if err := script.Run(ctx, b.Client, []string{"n"}).Err(); err != nil {
			t.Fatal(err)
		}
		b.Stop(t)
		if ping(b.Addr) == nil {
			t.Fatal("PING answered while stopped")
		}
		b.Start(t)
		if n := b.Client.Exists(ctx, "n").Val(); n != 0 {
			t.Fatal("data survived the restart")
		}
		if err := script.EvalSha(ctx, b.Client, []string{"n"}).Err(); err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
			t.Fatalf("EVALSHA after restart: %v, want NOSCRIPT", err)
		}
		if b.Embedded() {
			// miniredis cancels blocking commands at Close; Start renews
			// that, so BLPOP blocks and times out again.
			start := time.Now()
			if err := b.Client.BLPop(ctx, time.Second, "empty").Err(); err != redis.Nil {
				t.Fatalf("BLPOP after restart: %v, want redis.Nil", err)
			}
			if time.Since(start) < 500*time.Millisecond {
				t.Fatal("BLPOP returned without blocking")
			}
		}
		b.Restart(t)
		if err := b.Client.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after Restart: %v", err)
		}
	})
}

func TestStopRefusesTheSharedServer(t *testing.T) {
	b := Real(t)
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Stop(ft)
	}()
	<-done
	if !ft.failed {
		t.Fatal("Stop on the shared server did not fail the test")
	}
	if err := b.Client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("shared server down: %v", err)
	}
}

// haveReal reports whether a real backend is available.
func haveReal() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil || os.Getenv("REDIS_TEST_URL") != ""
}

// fatalRecorder records Fatalf instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}
