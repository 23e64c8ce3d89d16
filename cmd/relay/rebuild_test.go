package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// `relay rebuild` after Redis lost everything gives back the same read
// models, on the embedded and on a real Redis. (cmd/relay has no TestMain,
// so the real Redis is a dedicated server, not redistest.ForEach's.)
func TestRebuildCommandAfterFlushAll(t *testing.T) {
	backends := map[string]func(testing.TB) redistest.Backend{redistest.NameEmbedded: redistest.Embedded, redistest.NameReal: redistest.Dedicated}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			b := backend(t)
			ns := natstest.Start(t)
			_, js := ns.Connect(t)
			ctx := context.Background()
			st := store.New(b.Client, "")
			g := workers.NewGroupWith(js, st, zerolog.Nop(), prometheus.NewRegistry(), workers.Options{Location: time.UTC})
			wctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = g.Run(wctx) }()

			last := map[string]uint64{}
			publish := func(projection, subject, typ string, p any) {
				env, err := events.New(typ, time.Now(), "test", "", p)
				if err != nil {
					t.Fatal(err)
				}
				if last[projection], err = streams.Publish(ctx, js, subject, env, nil); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 10 {
				id := fmt.Sprintf("k%d", i)
				publish(store.ProjectionConfig, events.KeySubject(id), events.KeyCreated, events.Key{ID: id, Name: id, KeyHash: fmt.Sprintf("%064d", i), IsActive: true})
				publish(store.ProjectionConfig, events.KeySubject(id), events.KeyUpdated, events.KeyUpdatedData{ID: id, Changes: json.RawMessage(`{"name":"n"}`)})
				publish(store.ProjectionState, events.AccountStateSubject("a1"), events.AccountStateMarked,
					events.AccountStateMarkedData{AccountID: "a1", State: events.StateRateLimited, Until: time.Now().Add(time.Hour)})
				publish(store.ProjectionUsage, events.UsageSubject(events.PlatformCodex, id), events.UsageRecorded, events.Usage{
					ID: "r" + id, Time: time.Now().UTC(), KeyID: id, AccountID: "a1", Platform: events.PlatformCodex, Model: "gpt-5",
					Status: 200, Outcome: events.OutcomeOK, Tokens: events.Tokens{InputTokens: 10, OutputTokens: int64(i)}, CostNanos: int64(i), Priced: true,
				})
			}
			wait, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			for p, seq := range last {
				if err := st.WaitCheckpoint(wait, p, seq); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
			}
			stop()
			<-done
			before, err := st.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Client.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}

			code, out, errs := runRelay(map[string]string{"REDIS_URL": b.URL(), "NATS_URL": ns.ClientURL()}, "rebuild", "--grace", "1ms")
			if code != 0 || out != "" || !strings.Contains(errs, "switched to generation 1") {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
			}
			if err := st.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if after, _ := st.Digest(ctx); after != before {
				t.Fatalf("digest after rebuild %s, want %s\nstderr:\n%s", after, before, errs)
			}
		})
	}
}

func TestRebuildCommandBadInput(t *testing.T) {
	b := redistest.Embedded(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no Redis", map[string]string{"NATS_URL": "nats://127.0.0.1:1"}, nil, "embedded Redis"},
		{"bad flag", map[string]string{"REDIS_URL": b.URL()}, []string{"--nope"}, "not defined"},
		{"bad grace", map[string]string{"REDIS_URL": b.URL()}, []string{"--grace", "0s"}, "--grace"},
		{"bad TZ", map[string]string{"REDIS_URL": b.URL(), "TZ": "Mars/Olympus"}, nil, "TZ"},
		{"argument", map[string]string{"REDIS_URL": b.URL()}, []string{"now"}, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runRelay(tc.env, append([]string{"rebuild"}, tc.args...)...)
			if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "relay rebuild: ") || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
		})
	}
}
