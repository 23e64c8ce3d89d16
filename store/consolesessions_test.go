package store_test

import (
	"context"
	"testing"
	"time"

	"relay/store"
	"relay/store/redistest"
)

// A signed-out console session is remembered until its own expiry, by
// every store on the same Redis; an unknown or malformed id is never
// taken for a live one.
func TestConsoleSessionEndedIsSharedAndExpires(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		a, other := store.New(b.NewClient(t), ""), store.New(b.NewClient(t), "")
		if ended, err := other.ConsoleSessionEnded(ctx, "s1"); err != nil || ended {
			t.Fatalf("before sign-out: ended %v, %v", ended, err)
		}
		if err := a.EndConsoleSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if ended, err := other.ConsoleSessionEnded(ctx, "s1"); err != nil || !ended {
			t.Fatalf("after sign-out: ended %v, %v", ended, err)
		}
		if err := a.EndConsoleSession(ctx, "s2", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if ended, _ := other.ConsoleSessionEnded(ctx, "s2"); ended {
			t.Fatal("a session already expired needs no record")
		}
		if ended, _ := other.ConsoleSessionEnded(ctx, ""); !ended {
			t.Fatal("an empty id must count as ended")
		}
		if err := a.EndConsoleSession(ctx, "", time.Now().Add(time.Hour)); err == nil {
			t.Fatal("an empty id must be refused")
		}
	})
}
