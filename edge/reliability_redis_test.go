package edge_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// relWorkers runs relay's projectors on env's Redis until the returned stop
// is called (or the test ends).
func relWorkers(t *testing.T, env *edgetest.Env) (stop func()) {
	t.Helper()
	g := workers.NewGroup(env.JS, env.Store, zerolog.Nop(), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// relWaitProjected waits until every projection's checkpoint reaches the
// last sequence of its stream.
func relWaitProjected(t *testing.T, env *edgetest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for stream, projection := range map[string]string{
		events.StreamConfig: store.ProjectionConfig, events.StreamState: store.ProjectionState, events.StreamUsage: store.ProjectionUsage,
	} {
		s, err := env.JS.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Store.WaitCheckpoint(ctx, projection, info.State.LastSeq); err != nil {
			t.Fatalf("%s did not reach %s's last sequence %d: %v", projection, stream, info.State.LastSeq, err)
		}
	}
}

// Property 6: Redis is lost (FLUSHALL) after real traffic (streams,
// failovers marking accounts, refusals, mid-stream cuts, both platforms,
// usage applied out of order by concurrent apply); restarting the workers
// rebuilds read models whose digest is identical to the one built live, and
// a second loss and rebuild gives the same digest again.
func TestReliabilityRedisLostRebuildGivesTheSameDigest(t *testing.T) {
	redistest.ForEachDedicated(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{NoWorkers: true})
		stop := relWorkers(t, env)
		up := upstreamtest.New(t)
		up.SetDefault(upstreamtest.Reply{Usage: relUsage})
		for i := range 3 {
			env.CreateAccount(t, events.Account{ID: fmt.Sprintf("acct%d", i), APIURL: up.URL, IsActive: true, Schedulable: true}, "sk-ant-rebuild")
		}
		env.CreateAccount(t, events.Account{ID: "cx", Platform: events.PlatformCodex, APIURL: up.URL, IsActive: true, Schedulable: true}, "sk-codex-rebuild")
		keys := []string{
			env.CreateKey(t, events.Key{ID: "k1", Name: "one", IsActive: true}),
			env.CreateKey(t, events.Key{ID: "k2", Name: "two", IsActive: true, Tags: []string{"t"}}),
			env.CreateKey(t, events.Key{ID: "k3", Name: "codex only", IsActive: true, Permissions: "codex"}),
		}
		env.UpdateKey(t, "k2", `{"description":"changed"}`)
		up.SetScript(func(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
			switch r.Index % 10 {
			case 3:
				return upstreamtest.Overloaded(), true
			case 7:
				return upstreamtest.Reply{CutAfter: 3, Usage: upstreamtest.Usage{InputTokens: 11}}, true
			}
			return upstreamtest.Reply{}, false
		})
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Go(func() {
				for i := range 15 {
					key := keys[(c+i)%len(keys)]
					if i%4 == 0 {
						req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+"/openai/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
						req.Header.Set("Authorization", "Bearer "+key)
						if resp, err := env.HTTP.Client().Do(req); err == nil {
							resp.Body.Close()
						}
						continue
					}
					relDo(context.Background(), env.HTTP.Client(), env.HTTP.URL, key, relBody)
				}
			})
		}
		wg.Wait()
		// The refusals (k3 on the Claude route) are counted: publish the
		// counts so the rebuild folds them too.
		if len(env.RefusalCounts(t)) == 0 {
			t.Fatal("the traffic counted no refusal")
		}
		relWaitProjected(t, env)
		stop()
		ctx := context.Background()
		live, err := env.Store.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := len(env.UsageEvents(t))
		for round := 1; round <= 2; round++ {
			if err := b.Client.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if d, _ := env.Store.Digest(ctx); d == live {
				t.Fatal("digest unchanged by FLUSHALL")
			}
			start := time.Now()
			stop := relWorkers(t, env)
			relWaitProjected(t, env)
			stop()
			got, err := env.Store.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != live {
				t.Fatalf("property 6 (Redis lost: rebuild gives the same digest): rebuild %d digest %s, live %s", round, got, live)
			}
			t.Logf("rebuild %d after FLUSHALL: %d usage events refolded in %v, digest identical", round, n, time.Since(start).Round(time.Millisecond))
		}
	})
}
