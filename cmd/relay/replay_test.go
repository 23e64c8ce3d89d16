package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/projections/pricing"
)

// replayEvent is one usage event published by a replay test.
type replayEvent struct {
	u    events.Usage
	data []byte
	at   time.Time // when the stream stored it
}

// replayPublish publishes n usage events over three keys and two models.
func replayPublish(t *testing.T, js jetstream.JetStream, n int) []replayEvent {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	models := []string{"claude-sonnet-4-5", "claude-opus-4-6"}
	var out []replayEvent
	for i := range n {
		u := events.Usage{
			ID: fmt.Sprintf("rp-%d-%03d", time.Now().UnixNano(), i), Time: time.Now().UTC(), KeyID: fmt.Sprintf("key%d", i%3),
			AccountID: "acct", Platform: events.PlatformClaudeConsole, Model: models[i%2], Status: 200, Outcome: events.OutcomeOK,
			Attempts: 1, Tokens: events.Tokens{InputTokens: int64(1000 + i), OutputTokens: int64(10 * i), CacheReadTokens: int64(i)},
		}
		if i%5 == 4 {
			u.Outcome, u.Status, u.Tokens = events.OutcomeRefused, 429, events.Tokens{}
		}
		u.CostNanos, u.Priced = pricing.Builtin().Cost(u.Model, u.Tokens)
		if u.Outcome == events.OutcomeRefused {
			u.CostNanos = 0
		}
		env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := streams.Publish(ctx, js, events.UsageSubject(u.Platform, u.KeyID), env, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, replayEvent{u: u, data: env.Data, at: m.Time})
	}
	return out
}

// runRelay runs the command in-process with env as its whole environment.
func runRelay(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func ndjson(evs []replayEvent) string {
	var b strings.Builder
	for _, e := range evs {
		b.Write(e.data)
		b.WriteByte('\n')
	}
	return b.String()
}

// Replay reaches NATS at NATS_URL, or at the embedded server of a running
// relay serve (NATS_LISTEN, with the analyst password from its DATA_DIR),
// and writes the payloads as recorded.
func TestReplayCommandReachesNATS(t *testing.T) {
	t.Run("NATS_URL", func(t *testing.T) {
		ns := natstest.Start(t)
		_, js := ns.Connect(t)
		evs := replayPublish(t, js, 12)
		code, out, errs := runRelay(map[string]string{"NATS_URL": ns.ClientURL()}, "replay")
		if code != 0 || out != ndjson(evs) || errs != "" {
			t.Fatalf("exit %d, stderr %q, stdout\n%s", code, errs, out)
		}
	})
	t.Run("NATS_LISTEN", func(t *testing.T) {
		a := startAuthNATS(t)
		_, js := a.connect(t, natsRelayUser)
		evs := replayPublish(t, js, 12)
		code, out, errs := runRelay(map[string]string{"NATS_LISTEN": a.addr, "DATA_DIR": a.dataDir}, "replay")
		if code != 0 || out != ndjson(evs) || errs != "" {
			t.Fatalf("exit %d, stderr %q, stdout\n%s", code, errs, out)
		}
	})
}

func TestReplayCommandOutputs(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	evs := replayPublish(t, js, 30)
	env := map[string]string{"NATS_URL": ns.ClientURL()}
	cut := evs[20].at

	t.Run("window and filter", func(t *testing.T) {
		code, out, _ := runRelay(env, "replay", "--since", evs[5].at.Format(time.RFC3339Nano), "--until", cut.Format(time.RFC3339Nano), "--key", "key1,key2", "--model", "claude-opus-4-6")
		var want []replayEvent
		for _, e := range evs[5:20] {
			if e.u.KeyID != "key0" && e.u.Model == "claude-opus-4-6" {
				want = append(want, e)
			}
		}
		if code != 0 || out != ndjson(want) {
			t.Fatalf("exit %d:\n%s\nwant\n%s", code, out, ndjson(want))
		}
	})

	t.Run("durations ago", func(t *testing.T) {
		if code, out, _ := runRelay(env, "replay", "--since", "1h"); code != 0 || out != ndjson(evs) {
			t.Fatalf("--since 1h: exit %d, %d bytes", code, len(out))
		}
		if code, out, _ := runRelay(env, "replay", "--until", "1d"); code != 0 || out != "" {
			t.Fatalf("--until 1d: exit %d, %q", code, out)
		}
	})

	t.Run("csv", func(t *testing.T) {
		code, out, _ := runRelay(env, "replay", "--format", "csv", "--outcome", "refused")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil {
			t.Fatalf("exit %d, %v", code, err)
		}
		if len(rows) != 1+6 || rows[0][0] != "id" || rows[1][11] != events.OutcomeRefused {
			t.Fatalf("rows %v", rows)
		}
	})

	// What had key1 spent as of cut: the time-travel question support asks.
	t.Run("time travel", func(t *testing.T) {
		code, out, _ := runRelay(env, "replay", "--until", cut.Format(time.RFC3339Nano), "--key", "key1", "--group-by", "key")
		var row struct {
			KeyID     string `json:"keyId"`
			Requests  int64  `json:"requests"`
			Refused   int64  `json:"refused"`
			CostNanos int64  `json:"costNanos"`
		}
		if err := json.Unmarshal([]byte(out), &row); code != 0 || err != nil {
			t.Fatalf("exit %d %v: %s", code, err, out)
		}
		var req, ref, cost int64
		for _, e := range evs[:20] {
			if e.u.KeyID == "key1" {
				if e.u.Outcome == events.OutcomeRefused {
					ref++
				} else {
					req++
				}
				cost += e.u.CostNanos
			}
		}
		if row.KeyID != "key1" || row.Requests != req || row.Refused != ref || row.CostNanos != cost || cost == 0 {
			t.Fatalf("row %+v, want %d requests %d refused %d µ$", row, req, ref, cost)
		}
	})

	t.Run("reprice", func(t *testing.T) {
		same := filepath.Join(t.TempDir(), "prices.json")
		if err := os.WriteFile(same, []byte(`{"models":{}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runRelay(env, "replay", "--reprice", same, "--format", "csv")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if code != 0 || err != nil || len(rows) != 4 {
			t.Fatalf("exit %d %v: %v", code, err, rows)
		}
		for _, r := range rows[1:] {
			if r[5] != "0.000000000" {
				t.Fatalf("key %s: difference %s with the same prices", r[0], r[5])
			}
		}
		if !strings.Contains(errs, "difference 0.000000000 USD") {
			t.Fatalf("stderr %q", errs)
		}
	})

	t.Run("progress", func(t *testing.T) {
		code, _, errs := runRelay(env, "replay", "--progress", "--model", "claude-sonnet-4-5")
		if code != 0 || !strings.Contains(errs, "replay: 15 events matched of 30 read") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
}

// Every mistake is one line on stderr and exit code 2.
func TestReplayCommandBadInput(t *testing.T) {
	ns := natstest.Start(t)
	env := map[string]string{"NATS_URL": ns.ClientURL()}
	cases := [][]string{
		{"--nope"},
		{"--format", "xml"},
		{"--since", "yesterday"},
		{"--until", "-3h"},
		{"--since", "2026-01-02", "--until", "2026-01-01"},
		{"--group-by", "day,week"},
		{"--group-by", "key,key"},
		{"--reprice", filepath.Join(t.TempDir(), "missing.json")},
		{"--platform", "gemini"},
		{"--outcome", "fine"},
		{"--follow=maybe"},
		{"extra"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errs := runRelay(env, append([]string{"replay"}, args...)...)
			if code != exitUsage || out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "relay replay: ") {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
		})
	}
	t.Run("NATS_LISTEN=off", func(t *testing.T) {
		code, _, errs := runRelay(map[string]string{"NATS_LISTEN": "off"}, "replay")
		if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "NATS_URL") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("no server", func(t *testing.T) {
		ns.Stop()
		code, _, errs := runRelay(map[string]string{"NATS_URL": ns.ClientURL()}, "replay")
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "connect NATS") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("help", func(t *testing.T) {
		if code, _, errs := runRelay(env, "replay", "-h"); code != 0 || !strings.Contains(errs, "--group-by") {
			t.Fatalf("exit %d, %q", code, errs)
		}
	})
}

// --follow streams what is published while it runs, until --until.
func TestReplayCommandFollow(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	first := replayPublish(t, js, 3)
	until := time.Now().Add(3 * time.Second)
	type result struct {
		code        int
		out, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := runRelay(map[string]string{"NATS_URL": ns.ClientURL()}, "replay", "--follow", "--until", until.Format(time.RFC3339Nano))
		done <- result{code, out, errs}
	}()
	later := replayPublish(t, js, 2)
	r := <-done
	if r.code != 0 || r.out != ndjson(append(first, later...)) {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.out)
	}
}

// Counts of refused requests (usage.refusals_counted) in the ledger: NDJSON
// shows them as stored (outcome refused, with their count), --group-by
// counts them in its refused column with the old per-request refusals,
// and CSV rows stay one per request, so counts have none.
func TestReplayCommandCountsRefusals(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	evs := replayPublish(t, js, 10) // two old per-request refusals among them
	ctx := context.Background()
	minute := time.Now().UTC().Truncate(time.Minute)
	var counts []replayEvent
	for i, n := range []int64{1500, 7} {
		c := events.RefusalsCounted{KeyID: fmt.Sprintf("key%d", i), Platform: events.PlatformClaudeConsole, Outcome: events.OutcomeRefused,
			Reason: "requests", Time: minute, Count: n, First: minute, Last: minute.Add(time.Second), Edge: "edge-a"}
		env, err := events.NewWithID(events.RefusalsCountedID(c.Edge, c.KeyID, c.Platform, c.Reason, minute, 1), events.UsageRefusalsCounted, minute, "", "", c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, js, events.UsageSubject(c.Platform, c.KeyID), env, nil); err != nil {
			t.Fatal(err)
		}
		counts = append(counts, replayEvent{data: env.Data})
	}
	env := map[string]string{"NATS_URL": ns.ClientURL()}

	if code, out, _ := runRelay(env, "replay"); code != 0 || out != ndjson(append(append([]replayEvent{}, evs...), counts...)) {
		t.Fatalf("ndjson: exit %d:\n%s", code, out)
	}
	code, out, _ := runRelay(env, "replay", "--format", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 1+len(evs) {
		t.Fatalf("csv: exit %d %v, %d rows for %d usage events", code, err, len(rows), len(evs))
	}
	code, out, _ = runRelay(env, "replay", "--group-by", "key")
	if code != 0 {
		t.Fatalf("group-by: exit %d", code)
	}
	type row struct {
		KeyID    string `json:"keyId"`
		Requests int64  `json:"requests"`
		Refused  int64  `json:"refused"`
	}
	want := map[string]row{}
	for _, e := range evs {
		r := want[e.u.KeyID]
		r.KeyID = e.u.KeyID
		if e.u.Outcome == events.OutcomeRefused {
			r.Refused++
		} else {
			r.Requests++
		}
		want[e.u.KeyID] = r
	}
	for i, n := range []int64{1500, 7} {
		r := want[fmt.Sprintf("key%d", i)]
		r.Refused += n
		want[r.KeyID] = r
	}
	dec := json.NewDecoder(strings.NewReader(out))
	got := map[string]row{}
	for dec.More() {
		var r row
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got[r.KeyID] = r
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("group-by key:\n%v\nwant\n%v", got, want)
	}
	if code, out, _ := runRelay(env, "replay", "--outcome", "refused", "--key", "key1"); code != 0 || !strings.Contains(out, `"count":7`) {
		t.Fatalf("--outcome refused: exit %d:\n%s", code, out)
	}
}
