package usagelog_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/streams"
	"relay/events/usagelog"
	"relay/projections/pricing"
)

// stored is one usage event as published: its payload bytes, its stream
// sequence and the time the stream stored it.
type stored struct {
	u    events.Usage
	data []byte
	seq  uint64
	at   time.Time
	subj string
}

var (
	testKeys     = []string{"k1", "k2", "k3", "k4"}
	testAccounts = []string{"a1", "a2", ""}
	testModels   = []string{"claude-sonnet-4-5", "claude-opus-4-6", "gpt-5", "claude-haiku-4-5", "mystery-model"}
	testOutcomes = []string{events.OutcomeOK, events.OutcomeOK, events.OutcomeOK, events.OutcomeRefused, events.OutcomeUpstreamError, events.OutcomeNoAccount}
)

// fixture returns n usage events priced the way the edge prices them, with
// event times spread over several days and hours.
func fixture(n int, seed uint64) []events.Usage {
	r := rand.New(rand.NewPCG(seed, 42))
	base := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	table := pricing.Builtin()
	out := make([]events.Usage, n)
	for i := range out {
		key := testKeys[r.IntN(len(testKeys))]
		platform := events.PlatformClaudeConsole
		model := testModels[r.IntN(len(testModels))]
		if model == "gpt-5" {
			platform = events.PlatformCodex
		}
		u := events.Usage{
			ID:         fmt.Sprintf("req-%s-%05d", time.Now().Format("150405.000000"), i),
			Time:       base.Add(time.Duration(i) * 37 * time.Minute).Add(time.Duration(r.IntN(1000)) * time.Millisecond),
			KeyID:      key,
			AccountID:  testAccounts[r.IntN(len(testAccounts))],
			Platform:   platform,
			Model:      model,
			Client:     "claude_code",
			Stream:     r.IntN(2) == 0,
			Status:     200,
			Outcome:    testOutcomes[r.IntN(len(testOutcomes))],
			Attempts:   1,
			AttemptLog: []events.Attempt{{AccountID: "a1", Status: 200}},
			DurationMs: int64(r.IntN(90000)),
			TTFTMs:     int64(r.IntN(3000)),
		}
		if i%7 == 0 {
			u.Reason = `odd "quoted", reason` // CSV and JSON escaping
		}
		if u.Outcome != events.OutcomeRefused {
			u.Tokens = events.Tokens{
				InputTokens: int64(r.IntN(50000)), OutputTokens: int64(r.IntN(8000)),
				CacheCreateTokens: int64(r.IntN(4000)), CacheReadTokens: int64(r.IntN(90000)),
				ReasoningTokens: int64(r.IntN(500)),
			}
			u.CacheCreate1hTokens = u.CacheCreateTokens / 3
		}
		if r.IntN(3) == 0 {
			u.UpstreamModel = model + "-upstream" // unknown to the table: unpriced when set
			if model == "claude-sonnet-4-5" {
				u.UpstreamModel = "claude-sonnet-4-5-20250929"
			}
		}
		cost, priced := pricer(table)(&usagelog.Fields{Model: u.Model, UpstreamModel: u.UpstreamModel, Outcome: u.Outcome, Tokens: u.Tokens})
		u.CostNanos, u.Priced, u.Cost = cost, priced, pricing.MicrosToUSD(cost)
		out[i] = u
	}
	return out
}

// pricer prices by t's rule for requests, as relay replay --reprice does.
func pricer(t *pricing.Table) usagelog.Pricer {
	return func(u *usagelog.Fields) (int64, bool) {
		return t.RequestCost(u.Outcome, u.Model, u.UpstreamModel, u.Tokens)
	}
}

// publish stores us on USAGE and returns them with their sequences and
// storage times as the server recorded them.
func publish(t testing.TB, js jetstream.JetStream, us []events.Usage) []stored {
	t.Helper()
	ctx := context.Background()
	out := make([]stored, 0, len(us))
	for _, u := range us {
		env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		subj := events.UsageSubject(u.Platform, u.KeyID)
		seq, err := streams.Publish(ctx, js, subj, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored{u: u, data: env.Data, seq: seq, subj: subj})
	}
	s, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		m, err := s.GetMsg(ctx, out[i].seq)
		if err != nil {
			t.Fatal(err)
		}
		out[i].at = m.Time
	}
	return out
}

// replayAll runs q and returns copies of the events handed over.
func replayAll(t *testing.T, js jetstream.JetStream, q usagelog.Query) ([]usagelog.Event, usagelog.Stats) {
	t.Helper()
	var got []usagelog.Event
	st, err := usagelog.Replay(context.Background(), js, q, func(e *usagelog.Event) error {
		c := *e
		c.Data = append([]byte(nil), e.Data...)
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, st
}
