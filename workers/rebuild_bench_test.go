package workers_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// BenchmarkRebuild rebuilds every read model from streams holding
// REBUILD_BENCH_EVENTS usage events (default 20,000) and a CONFIG and
// STATE history, on the embedded and on a real Redis, and reports the
// events handled per second of wall time.
func BenchmarkRebuild(b *testing.B) {
	n := 20_000
	if v := os.Getenv("REBUILD_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ns := natstest.Start(b)
	nc, _ := ns.Connect(b)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 200 {
		rbHistory(b, js, i, now) // 200 keys, 4 accounts, health marks, 600 usage events
	}
	for i := range n {
		u := events.Usage{
			ID: fmt.Sprintf("bench-%08d", i), Time: now.Add(-time.Duration(i) * time.Second), KeyID: fmt.Sprintf("k%04d", i%200),
			AccountID: fmt.Sprintf("a%d", i%4), Platform: events.PlatformClaudeConsole, Model: "claude-sonnet-4-5", Status: 200,
			Outcome: events.OutcomeOK, Attempts: 1, Tokens: events.Tokens{InputTokens: int64(i % 5000), OutputTokens: 300, CacheReadTokens: 9000},
			CostNanos: int64(i % 9000), Priced: true, TTFTMs: 700,
		}
		env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
		if err != nil {
			b.Fatal(err)
		}
		m, err := streams.Msg(events.UsageSubject(u.Platform, u.KeyID), env)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err = js.PublishMsgAsync(m, jetstream.WithMsgID(env.ID)); err == nil {
				break
			}
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()

	for _, backend := range []func(testing.TB) redistest.Backend{redistest.Embedded, redistest.Real} {
		rb := backend(b)
		b.Run(rb.Name, func(b *testing.B) {
			st := store.New(rb.Client, "")
			var handled uint64
			for b.Loop() {
				res, err := workers.Rebuild(context.Background(), js, st, workers.RebuildOptions{Grace: time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range res.Projections {
					handled += p.Handled
				}
			}
			b.ReportMetric(float64(handled)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
