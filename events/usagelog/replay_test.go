package usagelog_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"relay/events"
	"relay/events/natstest"
	"relay/events/usagelog"
)

// Every window and filter returns exactly the events a fold over the
// published events selects, in stream order, each once, with the payload
// bytes as published.
func TestReplayWindowsAndFilters(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(240, 1))
	at := func(i int) time.Time { return all[i].at }

	cases := []struct {
		name string
		q    usagelog.Query
		keep func(s stored) bool
	}{
		{"everything", usagelog.Query{}, func(stored) bool { return true }},
		{"since", usagelog.Query{Since: at(100)}, func(s stored) bool { return !s.at.Before(at(100)) }},
		{"until", usagelog.Query{Until: at(100)}, func(s stored) bool { return s.at.Before(at(100)) }},
		{"window", usagelog.Query{Since: at(30), Until: at(170)}, func(s stored) bool { return !s.at.Before(at(30)) && s.at.Before(at(170)) }},
		{"since the last", usagelog.Query{Since: at(239)}, func(s stored) bool { return !s.at.Before(at(239)) }},
		{"since after the end", usagelog.Query{Since: at(239).Add(time.Hour)}, func(stored) bool { return false }},
		{"until before the start", usagelog.Query{Until: at(0)}, func(stored) bool { return false }},
		{"key", usagelog.Query{Filter: usagelog.Filter{Keys: []string{"k2"}}}, func(s stored) bool { return s.u.KeyID == "k2" }},
		{"keys and platform", usagelog.Query{Filter: usagelog.Filter{Keys: []string{"k1", "k3"}, Platforms: []string{events.PlatformCodex}}},
			func(s stored) bool {
				return (s.u.KeyID == "k1" || s.u.KeyID == "k3") && s.u.Platform == events.PlatformCodex
			}},
		{"platform", usagelog.Query{Filter: usagelog.Filter{Platforms: []string{events.PlatformClaudeConsole}}}, func(s stored) bool { return s.u.Platform == events.PlatformClaudeConsole }},
		{"account", usagelog.Query{Filter: usagelog.Filter{Accounts: []string{"a2"}}}, func(s stored) bool { return s.u.AccountID == "a2" }},
		{"model", usagelog.Query{Filter: usagelog.Filter{Models: []string{"claude-opus-4-6", "gpt-5"}}}, func(s stored) bool { return s.u.Model == "claude-opus-4-6" || s.u.Model == "gpt-5" }},
		{"outcome", usagelog.Query{Filter: usagelog.Filter{Outcomes: []string{events.OutcomeRefused}}}, func(s stored) bool { return s.u.Outcome == events.OutcomeRefused }},
		{"unknown key", usagelog.Query{Filter: usagelog.Filter{Keys: []string{"nobody"}}}, func(stored) bool { return false }},
		{"key that is no subject token", usagelog.Query{Filter: usagelog.Filter{Keys: []string{"a.b"}}}, func(stored) bool { return false }},
		{"everything at once", usagelog.Query{Since: at(20), Until: at(200), Filter: usagelog.Filter{
			Keys: []string{"k1", "k2", "k4"}, Accounts: []string{"a1", ""}, Models: []string{"claude-sonnet-4-5", "mystery-model"},
			Outcomes: []string{events.OutcomeOK, events.OutcomeUpstreamError}}},
			func(s stored) bool {
				return !s.at.Before(at(20)) && s.at.Before(at(200)) && s.u.KeyID != "k3" && s.u.AccountID != "a2" &&
					(s.u.Model == "claude-sonnet-4-5" || s.u.Model == "mystery-model") &&
					(s.u.Outcome == events.OutcomeOK || s.u.Outcome == events.OutcomeUpstreamError)
			}},
		{"small batches", usagelog.Query{Batch: 7, Since: at(5)}, func(s stored) bool { return !s.at.Before(at(5)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []stored
			for _, s := range all {
				if tc.keep(s) {
					want = append(want, s)
				}
			}
			got, st := replayAll(t, js, tc.q)
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Seq != want[i].seq || !bytes.Equal(got[i].Data, want[i].data) || got[i].Subject != want[i].subj || !got[i].Stored.Equal(want[i].at) {
					t.Fatalf("event %d: seq %d, want %d (or payload, subject, time differ)", i, got[i].Seq, want[i].seq)
				}
				if f := got[i].Fields(); f.ID != want[i].u.ID || f.CostNanos != want[i].u.CostNanos || f.Tokens != want[i].u.Tokens {
					t.Fatalf("event %d: fields %+v, want %+v", i, *f, want[i].u)
				}
			}
			if st.Matched != uint64(len(want)) {
				t.Fatalf("stats matched %d, want %d", st.Matched, len(want))
			}
		})
	}
}

// Without Follow a replay stops at the end of the stream as it was when it
// started, even while events keep arriving.
func TestReplayStopsAtTheEndAsOfTheStart(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(20, 2))
	more := fixture(5, 3)
	n := 0
	_, err := usagelog.Replay(context.Background(), js, usagelog.Query{}, func(e *usagelog.Event) error {
		if n == 0 {
			publish(t, js, more) // arrives after the replay started
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(all) {
		t.Fatalf("%d events, want the %d stored at the start", n, len(all))
	}
}

func TestReplayEmptyStream(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	got, st := replayAll(t, js, usagelog.Query{Since: time.Now().Add(-time.Hour)})
	if len(got) != 0 || st.End != 0 {
		t.Fatalf("%d events from an empty stream (end %d)", len(got), st.End)
	}
}

// A message on USAGE that is not a usage event is counted and skipped.
func TestReplaySkipsWhatIsNotUsage(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	publish(t, js, fixture(3, 4))
	for _, body := range []string{`not json`, `{"id":"x","type":"key.created","data":{}}`, `{"id":"y","type":"usage.recorded","data":"str"}`} {
		m := nats.NewMsg(events.UsageSubject(events.PlatformCodex, "kx"))
		m.Data = []byte(body)
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, js, fixture(2, 5))
	got, st := replayAll(t, js, usagelog.Query{})
	if len(got) != 5 || st.Skipped != 3 || st.Read != 8 {
		t.Fatalf("got %d events, stats %+v", len(got), st)
	}
	_ = nc
}

// With Follow a replay delivers events published after it started, flushes
// when it has caught up, and ends cleanly when its context ends.
func TestReplayFollow(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	first := publish(t, js, fixture(4, 6))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seqs := make(chan uint64, 100)
	caughtUp := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() {
		_, err := usagelog.Replay(ctx, js, usagelog.Query{Follow: true, Since: first[1].at,
			CaughtUp: func() { caughtUp <- struct{}{} }},
			func(e *usagelog.Event) error { seqs <- e.Seq; return nil })
		done <- err
	}()
	expect := func(want []stored) {
		t.Helper()
		for _, w := range want {
			select {
			case got := <-seqs:
				if got != w.seq {
					t.Fatalf("seq %d, want %d", got, w.seq)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("seq %d never came", w.seq)
			}
		}
		select {
		case <-caughtUp:
		case <-time.After(10 * time.Second):
			t.Fatal("never caught up")
		}
	}
	expect(first[1:])
	later := publish(t, js, fixture(3, 7))
	expect(later)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v, want a clean end", err)
	}
}

// Follow with an Until already past is an ordinary replay of the past.
func TestReplayFollowUntilPast(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	all := publish(t, js, fixture(6, 8))
	got, _ := replayAll(t, js, usagelog.Query{Follow: true, Until: all[4].at})
	var seqs []uint64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	want := []uint64{all[0].seq, all[1].seq, all[2].seq, all[3].seq}
	if !slices.Equal(seqs, want) {
		t.Fatalf("seqs %v, want %v", seqs, want)
	}
}
