package events_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"relay/events"
)

func TestDecodeKnowsEveryType(t *testing.T) {
	payloads := map[string]any{
		events.AdminCreated:         events.AdminCreatedData{Username: "a", PasswordHash: "h"},
		events.AdminPasswordChanged: events.AdminPasswordChangedData{Username: "a", PasswordHash: "h"},
		events.KeyCreated:           events.Key{ID: "k"},
		events.KeyUpdated:           events.KeyUpdatedData{ID: "k", Changes: json.RawMessage(`{"name":"n"}`)},
		events.KeyDeleted:           events.KeyDeletedData{ID: "k"},
		events.KeyRestored:          events.KeyRestoredData{ID: "k"},
		events.KeyActivated:         events.KeyActivatedData{ID: "k"},
		events.AccountCreated:       events.Account{ID: "a"},
		events.AccountUpdated:       events.AccountUpdatedData{ID: "a", Changes: json.RawMessage(`{}`)},
		events.AccountDeleted:       events.AccountDeletedData{ID: "a"},
		events.AccountStateMarked:   events.AccountStateMarkedData{AccountID: "a", State: events.StateOverloaded},
		events.AccountStateCleared:  events.AccountStateClearedData{AccountID: "a"},
		events.UsageRecorded:        events.Usage{ID: "r", KeyID: "k"},
		events.UsageRefusalsCounted: events.RefusalsCounted{KeyID: "k", Count: 3},
	}
	for typ, p := range payloads {
		env, err := events.New(typ, time.Now(), "test", "", p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := events.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if _, err := events.Decode(back); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestDecodeRefusesUnknownAndMalformed(t *testing.T) {
	if _, err := events.Decode(events.Envelope{ID: "x", Type: "key.exploded", Data: json.RawMessage(`{}`)}); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := events.Decode(events.Envelope{ID: "x", Type: events.KeyCreated, Data: json.RawMessage(`[1,2]`)}); err == nil {
		t.Fatal("malformed payload decoded")
	}
	for _, b := range []string{``, `{}`, `{"id":"x"}`, `not json`} {
		if _, err := events.Unmarshal([]byte(b)); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%q: %v", b, err)
		}
	}
}

func TestIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 100 {
		ids = append(ids, events.NewID(base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !slices.IsSorted(ids) {
		t.Fatal("ids do not sort by time")
	}
	if a, b := events.NewID(base), events.NewID(base); a == b || len(a) != 32 {
		t.Fatalf("ids %q %q", a, b)
	}
}

func TestSubjectsRoundTrip(t *testing.T) {
	cases := []struct{ subject, kind, id string }{
		{events.KeySubject("k1"), events.EntityKey, "k1"},
		{events.AccountSubject("a1"), events.EntityAccount, "a1"},
		{events.AdminSubject("root"), events.EntityAdmin, "root"},
		{events.AccountStateSubject("a1"), events.EntityAccountState, "a1"},
		{"relay.usage.claude.k1", "", ""},
	}
	for _, c := range cases {
		if kind, id := events.EntityOf(c.subject); kind != c.kind || id != c.id {
			t.Errorf("%s: %s %s", c.subject, kind, id)
		}
	}
	if p, k, ok := events.UsageOf(events.UsageSubject("codex", "k9")); !ok || p != "codex" || k != "k9" {
		t.Errorf("usage subject: %s %s %v", p, k, ok)
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b"} {
		if events.ValidToken(bad) {
			t.Errorf("%q accepted as a subject token", bad)
		}
	}
}

// A count's id is fixed by what it counts (a retried publish is dropped by
// the server as a duplicate) and differs for anything else: another edge,
// key, platform, reason, minute or flush.
func TestRefusalsCountedIDIsDeterministic(t *testing.T) {
	m := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	base := events.RefusalsCountedID("e1", "k1", "claude-console", "requests", m, 0)
	if again := events.RefusalsCountedID("e1", "k1", "claude-console", "requests", m, 0); again != base {
		t.Fatalf("same count, two ids: %s %s", base, again)
	}
	others := []string{
		events.RefusalsCountedID("e2", "k1", "claude-console", "requests", m, 0),
		events.RefusalsCountedID("e1", "k2", "claude-console", "requests", m, 0),
		events.RefusalsCountedID("e1", "k1", "codex", "requests", m, 0),
		events.RefusalsCountedID("e1", "k1", "claude-console", "concurrency", m, 0),
		events.RefusalsCountedID("e1", "k1", "claude-console", "requests", m.Add(time.Minute), 0),
		events.RefusalsCountedID("e1", "k1", "claude-console", "requests", m, 1),
		events.RefusalsCountedID("e1k", "1", "claude-console", "requests", m, 0),
	}
	for i, id := range others {
		if id == base || len(id) != 32 {
			t.Errorf("variant %d: id %q", i, id)
		}
	}
	if got := events.RefusalReason("made-up"); got != events.RefusalOther {
		t.Errorf("unknown reason counted as %q", got)
	}
	for _, r := range events.RefusalReasons {
		if events.RefusalReason(r) != r {
			t.Errorf("reason %q not kept", r)
		}
	}
}

// A usage event's cost: costNanos when recorded to the nano-dollar, else the
// micro-dollars of an older event, so old streams fold as they always did.
func TestUsageNanos(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int64
	}{
		{`{"costNanos":5197500}`, 5_197_500},
		{`{"costMicros":5198}`, 5_198_000},
		{`{"costNanos":100,"costMicros":1}`, 100},
		{`{}`, 0},
		{`{"costMicros":9223372036854775807}`, 1<<63 - 1},
	} {
		var u events.Usage
		if err := json.Unmarshal([]byte(tc.json), &u); err != nil {
			t.Fatal(err)
		}
		if got := u.Nanos(); got != tc.want {
			t.Errorf("%s: %d n$, want %d", tc.json, got, tc.want)
		}
	}
	b, _ := json.Marshal(events.Usage{CostNanos: 42})
	if !strings.Contains(string(b), `"costNanos":42`) || strings.Contains(string(b), "costMicros") {
		t.Errorf("a new event is written %s: want costNanos and no costMicros", b)
	}
}
