package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestDriveClockExpiresKeysOnTheWallClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := Embedded(t)
	b.Mini.SetTime(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)) // DriveClock must undo this
	const every = 10 * time.Millisecond
	done := make(chan struct{})
	go func() {
		defer close(done)
		DriveClock(ctx, b.Mini, every)
	}()
	defer func() {
		cancel()
		<-done
	}()

	// TIME follows the wall clock once DriveClock runs.
	waitFor(t, 5*time.Second, "TIME does not follow the wall clock", func() bool {
		now, err := b.Client.Time(ctx).Result()
		return err == nil && time.Since(now).Abs() < time.Second
	})

	const ttl = 400 * time.Millisecond
	set := time.Now()
	b.Client.Set(ctx, "relative", "v", ttl)
	b.Client.Set(ctx, "absolute", "v", 0)
	b.Client.PExpireAt(ctx, "absolute", set.Add(ttl))
	if n := b.Client.Exists(ctx, "relative", "absolute").Val(); n != 2 {
		t.Fatalf("%d of 2 keys exist right after SET", n)
	}
	waitFor(t, 5*time.Second, "keys did not expire", func() bool {
		return b.Client.Exists(ctx, "relative", "absolute").Val() == 0
	})
	// Expiry is early by at most one tick; allow for a slow scheduler.
	if elapsed := time.Since(set); elapsed < ttl/2 {
		t.Fatalf("keys expired after %v, TTL %v", elapsed, ttl)
	}
}

func TestDriveClockStopsWithContext(t *testing.T) {
	b := Embedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		DriveClock(ctx, b.Mini, 0) // 0: the one-second default
	}()
	b.Client.Set(context.Background(), "k", "v", time.Hour)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("DriveClock did not return after cancel")
	}
	if ttl := b.Client.TTL(context.Background(), "k").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL after stop = %v", ttl)
	}
}

func TestDriveClockTTLDecreases(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	b := Embedded(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		DriveClock(ctx, b.Mini, 5*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-done
	}()
	b.Client.Set(ctx, "k", "v", time.Hour)
	waitFor(t, 5*time.Second, "PTTL did not decrease", func() bool {
		ttl, err := b.Client.PTTL(ctx, "k").Result()
		return err == nil && ttl < time.Hour-20*time.Millisecond && ttl > time.Hour-time.Minute
	})
	if err := b.Client.Get(ctx, "k").Err(); err == redis.Nil {
		t.Fatal("key expired early")
	}
}
