package admin_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
)

func recentIDs(recs []admin.UsageRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.KeyID + "@" + r.Time.Format("15:04:05")
	}
	return out
}

// The latest requests come newest first (stream order), narrowed to one
// key or account, with the names the catalog has.
func TestRecentUsageNewestFirstByKeyAndAccount(t *testing.T) {
	act, env := newActions(t, nil)
	seedUsage(t, env)
	ctx := context.Background()
	all := env.UsageEvents(t) // stream order
	cases := []struct {
		name string
		q    admin.RecentQuery
		want []events.Usage
	}{
		{"latest two", admin.RecentQuery{N: 2}, []events.Usage{all[4], all[3]}},
		{"one key", admin.RecentQuery{N: 10, KeyID: "k2"}, []events.Usage{all[3]}},
		{"a key's latest", admin.RecentQuery{N: 2, KeyID: "k1"}, []events.Usage{all[4], all[2]}},
		{"one account", admin.RecentQuery{N: 10, AccountID: "a1"}, []events.Usage{all[4], all[3], all[2], all[1], all[0]}},
		{"unknown key", admin.RecentQuery{N: 10, KeyID: "nope"}, nil},
		{"malformed key", admin.RecentQuery{N: 10, KeyID: "a.b"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := act.RecentUsage(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]admin.UsageRecord, len(tc.want))
			for i, u := range tc.want {
				want[i] = admin.UsageRecord{Usage: u}
			}
			if !slices.Equal(recentIDs(got), recentIDs(want)) {
				t.Fatalf("got %v, want %v", recentIDs(got), recentIDs(want))
			}
			for _, r := range got {
				if r.KeyName == "" || r.AccountName != "one" {
					t.Fatalf("record %+v lacks its names", r)
				}
			}
		})
	}
	if _, err := act.RecentUsage(ctx, admin.RecentQuery{N: 0}); err == nil {
		t.Fatal("n 0 must be refused")
	}
	wantField(t, func() error {
		_, err := act.RecentUsage(ctx, admin.RecentQuery{N: 1, KeyID: "k1", AccountID: "a1"})
		return err
	}(), "accountId")
}

// Following delivers what is recorded from now on, never what was before.
func TestFollowUsageDeliversOnlyNewRequests(t *testing.T) {
	act, env := newActions(t, nil)
	seedUsage(t, env)
	old := map[string]bool{}
	for _, u := range env.UsageEvents(t) {
		old[u.ID] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []admin.UsageRecord
	done := make(chan error, 1)
	go func() {
		done <- act.FollowUsage(ctx, func(r admin.UsageRecord) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		})
	}()
	// The consumer starts at some point: publish until one arrives.
	for i := 0; ; i++ {
		u := events.Usage{ID: fmt.Sprintf("%032x", 0xf0000+i), KeyID: "k2", AccountID: "a1", Platform: events.PlatformClaudeConsole,
			Model: "m", Status: 200, Outcome: events.OutcomeOK, Attempts: 1, Time: time.Now()}
		e, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "", u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, env.JS, events.UsageSubject(u.Platform, u.KeyID), e, nil); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if i > 100 {
			t.Fatal("nothing followed after 100 requests")
		}
		time.Sleep(50 * time.Millisecond) // pacing the publisher, not synchronisation
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("follow ended with %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range got {
		if old[r.ID] {
			t.Fatalf("followed an old request %s", r.ID)
		}
		if r.KeyName != "beta" || r.AccountName != "one" {
			t.Fatalf("record lacks its names: %+v", r)
		}
	}
}

// Accounts of every platform page as one list, each with the scheduler's
// reasons it cannot take requests.
func TestListAvailabilityPagesEveryPlatformWithReasons(t *testing.T) {
	act, env := newActions(t, nil)
	env.CreateAccount(t, events.Account{ID: "c1", Name: "claude one", IsActive: true, Schedulable: true}, "sk-ant-api03-one")
	env.CreateAccount(t, events.Account{ID: "c2", Name: "claude two", IsActive: false, Schedulable: true}, "sk-ant-api03-two")
	env.CreateAccount(t, events.Account{ID: "x1", Name: "codex one", Platform: events.PlatformCodex, IsActive: true, Schedulable: false}, "sk-proj-one")
	edgetest.WaitFor(t, 10*time.Second, func() bool {
		_, n, err := act.ListAvailability(context.Background(), "", admin.ListQuery{Limit: 10})
		return err == nil && n == 3
	})
	ctx := context.Background()
	var seen []string
	reasons := map[string][]string{}
	for offset := 0; offset < 3; offset += 2 {
		page, total, err := act.ListAvailability(ctx, "", admin.ListQuery{Offset: offset, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if total != 3 {
			t.Fatalf("total %d, want 3", total)
		}
		for _, av := range page {
			seen = append(seen, av.Account.ID)
			for _, r := range av.Reasons {
				reasons[av.Account.ID] = append(reasons[av.Account.ID], r.Reason)
			}
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"c1", "c2", "x1"}) {
		t.Fatalf("pages held %v, want every account once", seen)
	}
	want := map[string][]string{"c2": {projections.ReasonInactive}, "x1": {projections.ReasonUnschedulable}}
	for id, w := range want {
		if !slices.Equal(reasons[id], w) {
			t.Fatalf("%s: reasons %v, want %v", id, reasons[id], w)
		}
	}
	if len(reasons["c1"]) != 0 {
		t.Fatalf("c1 can take requests, got reasons %v", reasons["c1"])
	}
	only, total, err := act.ListAvailability(ctx, events.PlatformCodex, admin.ListQuery{Limit: 10})
	if err != nil || total != 1 || len(only) != 1 || only[0].Account.ID != "x1" {
		t.Fatalf("codex only: %d accounts of %d, %v", len(only), total, err)
	}
}

// A signed-out console session is void for every edge.
func TestConsoleSessionEndIsSeenByAnotherService(t *testing.T) {
	act, env := newActions(t, nil)
	other := admin.New(admin.Config{Location: time.UTC}, admin.Deps{JS: env.JS, Store: env.Store, Catalog: env.Edge.Catalog(), Log: zerolog.Nop()})
	ctx := context.Background()
	if err := act.EndSession(ctx, "sess-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ended, err := other.SessionEnded(ctx, "sess-1"); err != nil || !ended {
		t.Fatalf("ended %v, %v", ended, err)
	}
	if ended, err := other.SessionEnded(ctx, "sess-2"); err != nil || ended {
		t.Fatalf("another session: ended %v, %v", ended, err)
	}
}
