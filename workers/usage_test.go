package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// usageRun runs a group with the usage projector in loc until stop is
// called or the test ends.
func usageRun(t *testing.T, js jetstream.JetStream, st *store.Store, loc *time.Location) (reg *prometheus.Registry, stop func()) {
	t.Helper()
	reg = prometheus.NewRegistry()
	g := workers.NewGroupWith(js, st, zerolog.Nop(), reg, workers.Options{Location: loc})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Run(ctx) }()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return reg, stop
}

func usageWait(t *testing.T, st *store.Store, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := st.WaitCheckpoint(ctx, store.ProjectionUsage, seq); err != nil {
		t.Fatalf("usage checkpoint did not reach %d: %v", seq, err)
	}
}

func usageEnvelope(t *testing.T, u events.Usage) events.Envelope {
	t.Helper()
	env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "", u.ID, u)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func usagePublish(t *testing.T, js jetstream.JetStream, u events.Usage) uint64 {
	t.Helper()
	seq, err := streams.Publish(context.Background(), js, events.UsageSubject(u.Platform, u.KeyID), usageEnvelope(t, u), nil)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

var usageModels = []string{"claude-opus-4-5-20251101", "claude-haiku-4-5-20251001", "gpt-5-mini", "gpt-6.1-sol"}

func usageEvents(n int, now time.Time) []events.Usage {
	r := rand.New(rand.NewPCG(11, 13))
	out := make([]events.Usage, n)
	for i := range out {
		model := usageModels[r.IntN(len(usageModels))]
		platform := events.PlatformClaudeConsole
		if model[:3] == "gpt" {
			platform = events.PlatformCodex
		}
		u := events.Usage{
			ID: fmt.Sprintf("%032x", i+1), Time: now.Add(-time.Duration(r.Int64N(int64(36 * time.Hour)))).Truncate(time.Millisecond),
			KeyID: fmt.Sprintf("key%d", r.IntN(3)), AccountID: fmt.Sprintf("acct%d", r.IntN(2)),
			Platform: platform, Model: model, Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
		}
		if r.IntN(8) == 0 {
			u.Outcome, u.Status, u.AccountID, u.Reason = events.OutcomeRefused, 429, "", []string{"concurrency", "daily_cost"}[r.IntN(2)]
		} else {
			u.Tokens = events.Tokens{InputTokens: r.Int64N(9000), OutputTokens: r.Int64N(900), CacheReadTokens: r.Int64N(90000), CacheCreateTokens: r.Int64N(900)}
			u.CostNanos, u.Priced = pricing.Builtin().Cost(model, u.Tokens)
			u.TTFTMs = r.Int64N(900)
		}
		out[i] = u
	}
	return out
}

// usageMetric sums the values of one metric family, over the series whose
// labels include match.
func usageMetric(t *testing.T, reg *prometheus.Registry, name string, match map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if labels[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// The usage projector counts the stream exactly: every stat equals the sum
// of the raw events, duplicates (republished ids, a second Apply of the same
// sequence) count once, metrics included, an undecodable event is skipped,
// and a rebuild into an empty Redis gives the same read models.
func TestUsageProjector(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		st := store.New(b.Client, "")
		reg, stop := usageRun(t, js, st, loc)

		now := time.Now()
		us := usageEvents(200, now)
		var last uint64
		for i, u := range us {
			seq := usagePublish(t, js, u)
			if i%10 == 0 {
				// A retried publish of the same event is stored once.
				if again := usagePublish(t, js, u); again != seq {
					t.Fatalf("republished %s stored at %d, first at %d", u.ID, again, seq)
				}
			}
			last = seq
		}
		// An event that cannot be decoded is skipped, not retried forever.
		bad := events.Envelope{ID: "bad-usage", Type: events.UsageRecorded, Time: now, Data: json.RawMessage(`{"inputTokens":"many"}`)}
		badSeq, err := streams.Publish(ctx, js, events.UsageSubject("codex", "key0"), bad, nil)
		if err != nil {
			t.Fatal(err)
		}
		last = usagePublish(t, js, events.Usage{ID: "after-bad", Time: now, KeyID: "key0", Platform: "codex", Model: "gpt-5-mini", Status: 200, Outcome: events.OutcomeOK, Priced: true, CostNanos: 1})
		us = append(us, events.Usage{ID: "after-bad", Time: now, KeyID: "key0", Platform: "codex", Model: "gpt-5-mini", Status: 200, Outcome: events.OutcomeOK, Priced: true, CostNanos: 1})
		if last != badSeq+1 || last != uint64(len(us)+1) {
			t.Fatalf("sequences: bad %d, last %d, events %d", badSeq, last, len(us))
		}
		usageWait(t, st, last)

		want := func(keep func(events.Usage) bool) (c projections.UsageCounters) {
			for _, u := range us {
				if !keep(u) {
					continue
				}
				if u.Outcome == events.OutcomeRefused {
					c.Refused++
				} else {
					c.Requests++
					if u.TTFTMs > 0 {
						c.TTFTSumMs += u.TTFTMs
						c.TTFTCount++
					}
					if !u.Priced {
						c.Unpriced++
					}
				}
				c.InputTokens += u.InputTokens
				c.OutputTokens += u.OutputTokens
				c.CacheCreateTokens += u.CacheCreateTokens
				c.CacheReadTokens += u.CacheReadTokens
				c.CostNanos += u.CostNanos
			}
			return c
		}
		check := func(s *store.Store) {
			t.Helper()
			for _, k := range []string{"key0", "key1", "key2"} {
				got, err := s.KeyStats(ctx, k, store.StatsRange{Now: now, Loc: loc})
				if err != nil {
					t.Fatal(err)
				}
				if w := want(func(u events.Usage) bool { return u.KeyID == k }); got.Total != w {
					t.Fatalf("key %s: %+v\nwant %+v", k, got.Total, w)
				}
				today := now.In(loc).Format(time.DateOnly)
				got, err = s.KeyStats(ctx, k, store.StatsRange{Days: 1, Now: now, Loc: loc})
				if err != nil {
					t.Fatal(err)
				}
				if w := want(func(u events.Usage) bool { return u.KeyID == k && u.Time.In(loc).Format(time.DateOnly) == today }); got.Total != w {
					t.Fatalf("key %s today: %+v\nwant %+v", k, got.Total, w)
				}
			}
			for _, a := range []string{"acct0", "acct1"} {
				got, err := s.AccountStats(ctx, a, store.StatsRange{Now: now, Loc: loc})
				if err != nil {
					t.Fatal(err)
				}
				if w := want(func(u events.Usage) bool { return u.AccountID == a }); got.Total != w {
					t.Fatalf("account %s: %+v\nwant %+v", a, got.Total, w)
				}
			}
			o, err := s.Overview(ctx, now, loc, 10)
			if err != nil {
				t.Fatal(err)
			}
			if w := want(func(events.Usage) bool { return true }); o.AllTime != w {
				t.Fatalf("all time %+v\nwant %+v", o.AllTime, w)
			}
			if o.Checkpoint != last {
				t.Fatalf("checkpoint %d, want %d", o.Checkpoint, last)
			}
		}
		check(st)
		if l, _ := st.UsageLocation(ctx); l.String() != loc.String() {
			t.Fatalf("projection zone %v", l)
		}

		// Metrics count each applied event once.
		wantMetrics := func() {
			t.Helper()
			var refused, unpriced, input float64
			var cost int64
			for _, u := range us {
				switch {
				case u.Outcome == events.OutcomeRefused:
					refused++
				case !u.Priced:
					unpriced++
				}
				input += float64(u.InputTokens)
				cost += u.CostNanos
			}
			if got := usageMetric(t, reg, "relay_usage_requests_total", nil); got != float64(len(us)) {
				t.Fatalf("requests metric %v, want %d", got, len(us))
			}
			if got := usageMetric(t, reg, "relay_usage_refusals_total", nil); got != refused {
				t.Fatalf("refusals metric %v, want %v", got, refused)
			}
			if got := usageMetric(t, reg, "relay_usage_unpriced_total", nil); got != unpriced {
				t.Fatalf("unpriced metric %v, want %v", got, unpriced)
			}
			if got := usageMetric(t, reg, "relay_usage_tokens_total", map[string]string{"kind": "input"}); got != input {
				t.Fatalf("input tokens metric %v, want %v", got, input)
			}
			if got := usageMetric(t, reg, "relay_usage_cost_usd_total", nil); math.Abs(got-pricing.NanosToUSD(cost)) > 1e-6 {
				t.Fatalf("cost metric %v, want %v", got, pricing.NanosToUSD(cost))
			}
			if got := usageMetric(t, reg, "relay_usage_tokens_total", map[string]string{"model": "gpt-6.1-sol"}); got != 0 {
				t.Fatalf("an unpriced model got a label of its own")
			}
		}
		// The projector counts an event just after its checkpoint moves:
		// wait for the last count before comparing.
		for deadline := time.Now().Add(5 * time.Second); usageMetric(t, reg, "relay_usage_requests_total", nil) < float64(len(us)) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		wantMetrics()

		// Applying an applied sequence again changes nothing.
		before, err := st.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reg2 := prometheus.NewRegistry()
		p := workers.NewUsageProjector(st, projections.UsageOptions{Loc: loc}, reg2)
		env := usageEnvelope(t, us[5])
		env.Seq = 6
		for range 2 {
			if err := p.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
		}
		if after, _ := st.Digest(ctx); after != before {
			t.Fatal("a second Apply of sequence 6 changed the read models")
		}
		if got := usageMetric(t, reg2, "relay_usage_requests_total", nil); got != 0 {
			t.Fatalf("an event applied before counted %v times in the metrics", got)
		}
		wantMetrics()

		// Rebuild into an empty Redis from the stream.
		stop()
		other := redistest.Embedded(t)
		if !b.Embedded() {
			other = redistest.Real(t)
		}
		rebuilt := store.New(other.Client, "")
		usageRun(t, js, rebuilt, loc)
		usageWait(t, rebuilt, last)
		after, err := rebuilt.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("rebuilt digest %s, want %s", after, before)
		}
		check(rebuilt)
	})
}

func TestUsageProjectorRejectsOtherEvents(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		p := workers.NewUsageProjector(store.New(b.Client, ""), projections.UsageOptions{}, nil)
		env, err := events.New(events.KeyDeleted, time.Now(), "", "", events.KeyDeletedData{ID: "k"})
		if err != nil {
			t.Fatal(err)
		}
		env.Seq = 1
		if err := p.Apply(context.Background(), env); !workers.IsPermanent(err) {
			t.Fatalf("a key event on USAGE: %v, want a permanent error", err)
		}
		env.Type = "usage.renamed"
		if err := p.Apply(context.Background(), env); !workers.IsPermanent(err) {
			t.Fatalf("an unknown type: %v, want a permanent error", err)
		}
		if p.Name() != store.ProjectionUsage || p.Stream() != events.StreamUsage || p.InFlight() < 2 {
			t.Fatalf("projector %s on %s, %d in flight", p.Name(), p.Stream(), p.InFlight())
		}
	})
}

func TestUsageProjectorMetricsCountAppliedOnce(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		reg := prometheus.NewRegistry()
		p := workers.NewUsageProjector(store.New(b.Client, ""), projections.UsageOptions{}, reg)
		u := events.Usage{ID: "r1", Time: time.Now(), KeyID: "k", Platform: events.PlatformClaudeConsole, Model: "claude-haiku-4-5-20251001",
			Status: 200, Outcome: events.OutcomeOK, Priced: true, CostNanos: 2_500_000_000, Tokens: events.Tokens{InputTokens: 7, OutputTokens: 3}}
		env := usageEnvelope(t, u)
		env.Seq = 1
		for range 3 {
			if err := p.Apply(context.Background(), env); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range []struct {
			name  string
			match map[string]string
			want  float64
		}{
			{"relay_usage_requests_total", map[string]string{"platform": u.Platform, "outcome": "ok"}, 1},
			{"relay_usage_tokens_total", map[string]string{"model": u.Model, "kind": "input"}, 7},
			{"relay_usage_tokens_total", map[string]string{"model": u.Model, "kind": "output"}, 3},
			{"relay_usage_cost_usd_total", map[string]string{"model": u.Model}, 2.5},
			{"relay_usage_refusals_total", nil, 0},
		} {
			if got := usageMetric(t, reg, m.name, m.match); got != m.want {
				t.Errorf("%s%v = %v, want %v", m.name, m.match, got, m.want)
			}
		}
	})
}

// Counts of refusals fold into the key's refused statistic once each: a
// republished count (same id) is stored once, a redelivered one (same
// sequence applied again, alone or in a batch) is applied once, and old
// per-request refusals in the same stream still count one each.
func TestUsageProjectorRefusalCountsNeverDoubleCount(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		st := store.New(b.Client, "")
		reg, _ := usageRun(t, js, st, time.UTC)
		now := time.Now().UTC()
		minute := now.Truncate(time.Minute)
		count := func(edge, reason string, n int64) events.Envelope {
			c := events.RefusalsCounted{KeyID: "k1", Platform: events.PlatformClaudeConsole, Outcome: events.OutcomeRefused,
				Reason: reason, Time: minute, Count: n, First: minute, Last: minute.Add(time.Second), Edge: edge}
			env, err := events.NewWithID(events.RefusalsCountedID(edge, c.KeyID, c.Platform, reason, minute, 0),
				events.UsageRefusalsCounted, minute, "", "", c)
			if err != nil {
				t.Fatal(err)
			}
			return env
		}
		subject := events.UsageSubject(events.PlatformClaudeConsole, "k1")
		var last uint64
		for _, env := range []events.Envelope{count("e1", "requests", 1500), count("e1", "requests", 1500), count("e2", "requests", 400), count("e1", "concurrency", 100)} {
			seq, err := streams.Publish(ctx, js, subject, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			last = seq
		}
		last = usagePublish(t, js, events.Usage{ID: "old-refusal", Time: now, KeyID: "k1", Platform: events.PlatformClaudeConsole,
			Status: 429, Outcome: events.OutcomeRefused, Reason: "requests"})
		if last != 4 {
			t.Fatalf("the republished count was stored again: last sequence %d, want 4", last)
		}
		usageWait(t, st, last)

		// Redelivery: the projector sees sequences it applied already.
		p := workers.NewUsageProjector(st, projections.UsageOptions{}, nil)
		again := count("e1", "requests", 1500)
		again.Seq = 1
		for range 3 {
			if err := p.Apply(ctx, again); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := p.ApplyBatch(ctx, []events.Envelope{again}); err != nil || ok {
			t.Fatalf("a batch of applied sequences: applied %v, %v", ok, err)
		}

		const want = 1500 + 400 + 100 + 1
		for _, r := range []store.StatsRange{{Now: now}, {Days: 1, Now: now}} {
			s, err := st.KeyStats(ctx, "k1", r)
			if err != nil {
				t.Fatal(err)
			}
			if s.Total.Refused != want || s.Total.Requests != 0 {
				t.Fatalf("key stats %+v: refused %d, requests %d; want refused %d", r, s.Total.Refused, s.Total.Requests, want)
			}
			if s.LastUsedAt.IsZero() {
				t.Fatal("a counted refusal left lastUsedAt unset")
			}
		}
		if got := usageMetric(t, reg, "relay_usage_refusals_total", map[string]string{"reason": "requests"}); got != 1500+400+1 {
			t.Fatalf("refusals metric %v, want %d", got, 1500+400+1)
		}
	})
}
