package edge_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
	"relay/store/redistest"
)

// relLoad runs clients that send requests back to back until stop is
// closed, recording every answer.
type relLoad struct {
	mu      sync.Mutex // mu protects results
	results []relResult
	done    atomic.Int64
	wg      sync.WaitGroup
	stop    chan struct{}
}

func relStartLoad(base, key string, clients int) *relLoad {
	l := &relLoad{stop: make(chan struct{})}
	client := &http.Client{Timeout: 30 * time.Second}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r := relDo(context.Background(), client, base, key, relBody)
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
				l.done.Add(1)
			}
		})
	}
	return l
}

// waitDone waits until n more answers arrived than when it was called.
func (l *relLoad) waitMore(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	target := l.done.Load() + n
	edgetest.WaitFor(t, within, func() bool { return l.done.Load() >= target })
}

func (l *relLoad) finish() []relResult {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results
}

// Property 5: NATS goes away for a few seconds under load. Every request
// either succeeds, its usage event spooled to disk and published after NATS
// returns under the same id, or is refused with 503. Afterwards the USAGE
// stream holds exactly one event per answered request, none twice, and the
// projected totals equal the fold of the stream and the client's record.
func TestReliabilityNATSOutageSpoolsThenPublishes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		dir := t.TempDir()
		ns := natstest.StartAt(t, dir, -1)
		spool := t.TempDir()
		logs := &relLog{}
		e := relStart(t, b, 1, edgetest.Options{NATS: ns, Log: logs, Edge: func(c *edge.Config) {
			c.PublishTimeout, c.SpoolDir = 300*time.Millisecond, spool
		}})
		e.up.SetDefault(upstreamtest.Reply{Usage: relUsage, EventDelay: 5 * time.Millisecond})
		load := relStartLoad(e.HTTP.URL, e.key, 4)
		load.waitMore(t, 20, 20*time.Second)

		down := time.Now()
		ns.Stop()
		load.waitMore(t, 20, 30*time.Second) // answered while NATS is away
		outage := time.Since(down)
		ns = natstest.StartAt(t, dir, ns.Port)
		// Cleanups run last-registered first: close relay before this
		// server goes.
		t.Cleanup(e.Close)
		load.waitMore(t, 20, 30*time.Second)
		results := load.finish()

		// The spool empties by itself once NATS is back.
		edgetest.WaitFor(t, 20*time.Second, func() bool {
			files, _ := filepath.Glob(filepath.Join(spool, "*.event"))
			return len(files) == 0
		})
		spooled := strings.Count(logs.String(), "usage event spooled")
		us := e.UsageEvents(t)
		byID := map[string]int{}
		for _, u := range us {
			byID[u.ID]++
			if byID[u.ID] > 1 {
				t.Errorf("property 5: usage event %s stored twice", u.ID)
			}
		}
		complete, refused := 0, 0
		for _, r := range results {
			switch {
			case r.complete:
				complete++
				if byID[r.id] != 1 {
					t.Errorf("property 5 (NATS outage loses no usage): request %s answered in full has %d usage events", r.id, byID[r.id])
				}
			case r.status == http.StatusServiceUnavailable:
				refused++
			default:
				t.Errorf("property 5: during the outage a request got %d %v %.200s", r.status, r.err, r.body)
			}
		}
		if spooled == 0 {
			t.Fatal("no usage event was spooled: the outage was not hit")
		}
		for _, f := range []string{"*.event", ".*.tmp", "*.bad"} {
			if left, _ := filepath.Glob(filepath.Join(spool, f)); len(left) > 0 {
				t.Errorf("spool holds %v", left)
			}
		}
		// Totals: the projection equals the fold of the stream, which
		// equals the client's record (each complete answer carried relUsage).
		e.WaitUsageProjected(t)
		st, err := e.Store.KeyStats(context.Background(), "key1", store.StatsRange{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := edgetest.ProjectedTotals(st.Total), edgetest.FoldUsage(us); got != want {
			t.Errorf("property 5: projected totals %+v, fold of the stream %+v", got, want)
		}
		client := projections.UsageCounters{Requests: int64(complete), InputTokens: int64(complete * relUsage.InputTokens),
			OutputTokens: int64(complete * relUsage.OutputTokens), CacheCreateTokens: int64(complete * (relUsage.CacheCreation5m + relUsage.CacheCreation1h)),
			CacheCreate1hTokens: int64(complete * relUsage.CacheCreation1h), CacheReadTokens: int64(complete * relUsage.CacheRead), CostNanos: int64(complete * relCost)}
		var completeEvents []events.Usage
		for _, u := range us {
			if u.Outcome == events.OutcomeOK {
				completeEvents = append(completeEvents, u)
			}
		}
		if got := edgetest.FoldUsage(completeEvents); got != client {
			t.Errorf("property 5: the stream's successful requests fold to %+v, the client's record to %+v", got, client)
		}
		t.Logf("NATS away %v under 4 clients: %d answers (%d complete, %d refused 503), %d usage events spooled and republished, %d events in USAGE",
			outage.Round(time.Millisecond), len(results), complete, refused, spooled, len(us))
	})
}

// Property 3: publishing is idempotent. The same envelope published twice
// with its id as Nats-Msg-Id (a retry after a lost acknowledgement, or the
// spool republishing an event that did get through) is stored once; so is
// one whose first publish went out on a connection closed before the ack
// could be read.
func TestReliabilityPublishIsIdempotent(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	_, js := ns.Connect(t)
	env, err := events.New(events.UsageRecorded, time.Now(), "key:k1", "", events.Usage{ID: "x", KeyID: "k1", Platform: "claude", Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	subject := events.UsageSubject("claude", "k1")
	first, err := streams.Publish(ctx, js, subject, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := streams.Publish(ctx, js, subject, env, nil)
	if err != nil || again != first {
		t.Fatalf("republish: seq %d (first %d), %v", again, first, err)
	}

	// Fire and forget on a connection closed before any ack arrives.
	env2, _ := events.New(events.UsageRecorded, time.Now(), "key:k1", "", events.Usage{ID: "y", KeyID: "k1", Platform: "claude", Outcome: "ok"})
	nc2, _ := ns.Connect(t)
	m, err := streams.Msg(subject, env2)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc2.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := nc2.Flush(); err != nil {
		t.Fatal(err)
	}
	nc2.Close()
	if _, err := streams.Publish(ctx, js, subject, env2, nil); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("property 3 (publishing is idempotent): USAGE holds %d messages for 2 ids published 4 times", info.State.Msgs)
	}
}
