package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"relay/store"
	"relay/store/redistest"
)

// Guesses spread over many addresses against one username stop at the
// username's bound, exactly, however many edges charge at once: the check
// and the count are one step.
func TestLoginChargeBoundsUsernameAcrossAddressesUnderConcurrency(t *testing.T) {
	const userLimit, addrLimit, addrs, guesses, clients = 10, 5, 25, 100, 8
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		var charged, refused int
		var mu sync.Mutex // protects charged, refused
		next := make(chan int)
		var wg sync.WaitGroup
		for range clients {
			s := store.New(b.NewClient(t), "") // one edge each
			wg.Go(func() {
				for i := range next {
					ok, wait, err := s.ChargeLogin(ctx, []store.LoginCounter{
						{Scope: store.LoginByUser, ID: "b1", Limit: userLimit},
						{Scope: store.LoginByAddress, ID: fmt.Sprintf("203.0.113.%d", i%addrs), Limit: addrLimit},
					}, 15*time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if ok {
						charged++
					} else {
						refused++
						if wait < 14*time.Minute || wait > 15*time.Minute {
							t.Errorf("retry after %v, want the rest of a 15-minute window", wait)
						}
					}
					mu.Unlock()
				}
			})
		}
		for i := range guesses {
			next <- i
		}
		close(next)
		wg.Wait()
		if charged != userLimit || refused != guesses-userLimit {
			t.Fatalf("%d guesses from %d addresses: %d reached the password check, %d refused; want exactly %d through", guesses, addrs, charged, refused, userLimit)
		}
	})
}

func TestLoginChargeRefusalWritesNothingAndWaitsForTheLongestCounter(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		rdb := b.NewClient(t)
		s := store.New(rdb, "")
		long := store.LoginCounter{Scope: store.LoginByAddress, ID: "192.0.2.1", Limit: 2}
		short := store.LoginCounter{Scope: store.LoginByUser, ID: "b7", Limit: 2}
		other := store.LoginCounter{Scope: store.LoginByDevice, ID: "dev", Limit: 2}
		for range 2 {
			if ok, _, err := s.ChargeLogin(ctx, []store.LoginCounter{long}, time.Hour); !ok || err != nil {
				t.Fatalf("charge long: %v %v", ok, err)
			}
			if ok, _, err := s.ChargeLogin(ctx, []store.LoginCounter{short}, 10*time.Minute); !ok || err != nil {
				t.Fatalf("charge short: %v %v", ok, err)
			}
		}
		before := rtDump(t, rdb)
		ok, wait, err := s.ChargeLogin(ctx, []store.LoginCounter{short, other, long}, 15*time.Minute)
		if err != nil || ok {
			t.Fatalf("charge past both limits: ok=%v err=%v", ok, err)
		}
		if wait < 59*time.Minute || wait > time.Hour {
			t.Fatalf("retry after %v, want about an hour (the longer of the refusing counters)", wait)
		}
		rtSameDump(t, before, rtDump(t, rdb))
		for k := range before {
			if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Errorf("%s: ttl %v, want one window at most", k, ttl)
			}
		}
	})
}

func TestLoginRefundTakesBackOneChargeAndNeverCreatesAKey(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		rdb := b.NewClient(t)
		s := store.New(rdb, "")
		c := store.LoginCounter{Scope: store.LoginByUser, ID: "b3", Limit: 5}
		gone := store.LoginCounter{Scope: store.LoginByDevice, ID: "expired", Limit: 5}
		for range 3 {
			if ok, _, err := s.ChargeLogin(ctx, []store.LoginCounter{c}, time.Minute); !ok || err != nil {
				t.Fatalf("charge: %v %v", ok, err)
			}
		}
		if err := s.RefundLogin(ctx, []store.LoginCounter{c, gone}); err != nil {
			t.Fatal(err)
		}
		dump := rtDump(t, rdb)
		if len(dump) != 1 || dump[store.RuntimePrefix+"loginfail:user:b3"] != "2" {
			t.Fatalf("after one refund: %v, want only the user counter at 2", dump)
		}
		if ttl := rdb.PTTL(ctx, store.RuntimePrefix+"loginfail:user:b3").Val(); ttl <= 0 {
			t.Fatalf("refund dropped the window's expiry: %v", ttl)
		}
		for range 3 {
			if err := s.RefundLogin(ctx, []store.LoginCounter{c}); err != nil {
				t.Fatal(err)
			}
		}
		if dump := rtDump(t, rdb); len(dump) != 0 {
			t.Fatalf("refunds past zero left %v", dump)
		}
	})
}
