package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
	"relay/store"
	"relay/store/redistest"
)

func TestChannelsProjectAndList(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		for i, id := range []string{"c1", "c2", "c3"} {
			v := projections.ChannelView{Channel: events.Channel{ID: id, Name: "chan " + id, Type: events.ChannelSlack, URLSealed: "sealed"}, CreatedSeq: uint64(i + 1), Seq: uint64(i + 1)}
			if id == "c2" {
				v.IsDeleted = true
			}
			ops, err := s.ChannelOps(v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Apply(ctx, store.ProjectionConfig, uint64(i+1), ops); err != nil {
				t.Fatal(err)
			}
		}
		live, err := s.LiveChannels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(live) != 2 || live[0].ID != "c3" || live[1].ID != "c1" {
			t.Fatalf("live = %+v", live)
		}
		all, total, err := s.ListChannels(ctx, store.ListQuery{Limit: 10, IncludeDeleted: true, Search: "C2"})
		if err != nil || total != 1 || all[0].ID != "c2" {
			t.Fatalf("search = %+v %d %v", all, total, err)
		}
		if _, err := s.Channel(ctx, "nope"); err != store.ErrNotFound {
			t.Fatalf("missing channel: %v", err)
		}
	})
}

func TestDeliveryLogIsBoundedNewestFirst(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		for i := range store.MaxDeliveryLog + 5 {
			if err := s.RecordDelivery(ctx, "c1", store.DeliveryRecord{ID: fmt.Sprint(i), Attempt: 1, Outcome: store.DeliveryDelivered, StatusCode: 200}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Deliveries(ctx, "c1", 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != store.MaxDeliveryLog || got[0].ID != fmt.Sprint(store.MaxDeliveryLog+4) {
			t.Fatalf("%d records, newest %q", len(got), got[0].ID)
		}
		if n, _ := b.Client.LLen(ctx, store.RuntimePrefix+"notify:log:c1").Result(); n != store.MaxDeliveryLog {
			t.Fatalf("list holds %d", n)
		}
	})
}

func TestClaimIsOnceButReentrantForItsHolder(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	s := store.New(b.Client, "")
	name := store.ClaimName("cool", "c1", "a1", "account.unavailable")
	for _, c := range []struct {
		token string
		want  bool
	}{{"d1", true}, {"d1", true}, {"d2", false}} {
		got, err := s.Claim(ctx, name, c.token, 300*time.Millisecond)
		if err != nil || got != c.want {
			t.Fatalf("claim by %s = %v, %v; want %v", c.token, got, err, c.want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.Claim(ctx, name, "d2", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("claim never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h, _ := s.ClaimHolder(ctx, name); h != "d2" {
		t.Fatalf("holder = %q", h)
	}
}
