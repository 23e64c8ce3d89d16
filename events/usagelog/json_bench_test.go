package usagelog

import (
	"testing"
	"time"

	"relay/events"
)

func benchEnvelope(b *testing.B) []byte {
	u := events.Usage{ID: "req-0123456789abcdef", Time: time.Now().UTC(), KeyID: "k0123456789", AccountID: "acct-42", Platform: "claude-console",
		Model: "claude-sonnet-4-5", UpstreamModel: "claude-sonnet-4-5-20250929", SessionHash: "abcdef0123456789", Client: "claude_code",
		Stream: true, Status: 200, Outcome: "ok", Attempts: 1, AttemptLog: []events.Attempt{{AccountID: "acct-42", Status: 200}},
		Tokens: events.Tokens{InputTokens: 1234, OutputTokens: 567, CacheReadTokens: 20000, CacheCreateTokens: 300}, Cost: 0.012345,
		CostNanos: 12345, Priced: true, DurationMs: 4567, TTFTMs: 890}
	env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
	if err != nil {
		b.Fatal(err)
	}
	data, err := env.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkPayload(b *testing.B) {
	env := benchEnvelope(b)
	b.SetBytes(int64(len(env)))
	for b.Loop() {
		if _, _, err := payload(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseUsage(b *testing.B) {
	env := benchEnvelope(b)
	data, _, _ := payload(env)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		parseUsage(data)
	}
}
