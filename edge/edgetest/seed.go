package edgetest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/secrets"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
)

// EncryptionKey is the edge's ENCRYPTION_KEY in every Env.
const EncryptionKey = "edgetest-encryption-key-32-bytes"

// publish stores a CONFIG event and waits until the edge's catalog and the
// projection have it.
func (e *Env) publish(t testing.TB, subject, typ string, p any) uint64 {
	t.Helper()
	env, err := events.New(typ, time.Now(), "test", "", p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := streams.Publish(ctx, e.JS, subject, env, nil)
	if err != nil {
		t.Fatalf("edgetest: publish %s: %v", typ, err)
	}
	if err := e.Edge.Catalog().WaitConfig(ctx, seq); err != nil {
		t.Fatalf("edgetest: catalog did not reach %d: %v", seq, err)
	}
	if e.Workers != nil {
		if err := e.Store.WaitCheckpoint(ctx, store.ProjectionConfig, seq); err != nil {
			t.Fatalf("edgetest: projection did not reach %d: %v", seq, err)
		}
	}
	return seq
}

// CreateKey creates an API key from k (ID and KeyHash are filled in when
// empty; IsActive defaults to true) and returns its secret.
func (e *Env) CreateKey(t testing.TB, k events.Key) string {
	t.Helper()
	secret, err := secrets.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.ID == "" {
		k.ID = events.NewID(time.Now())
	}
	k.KeyHash = secrets.HashKey(secret)
	if k.Permissions == "" {
		k.Permissions = "all"
	}
	e.publish(t, events.KeySubject(k.ID), events.KeyCreated, k)
	return secret
}

// UpdateKey publishes a key.updated event with the given changes (JSON).
func (e *Env) UpdateKey(t testing.TB, id, changes string) {
	t.Helper()
	e.publish(t, events.KeySubject(id), events.KeyUpdated, events.KeyUpdatedData{ID: id, Changes: []byte(changes)})
}

// DeleteKey soft-deletes key id.
func (e *Env) DeleteKey(t testing.TB, id string) {
	t.Helper()
	e.publish(t, events.KeySubject(id), events.KeyDeleted, events.KeyDeletedData{ID: id})
}

// CreateAccount creates upstream account a with apiKey sealed as the edge
// seals it. Empty Platform means claude-console; Priority 0 means 50.
func (e *Env) CreateAccount(t testing.TB, a events.Account, apiKey string) events.Account {
	t.Helper()
	box, err := secrets.NewBox([]byte(EncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" {
		a.ID = events.NewID(time.Now())
	}
	if a.Platform == "" {
		a.Platform = events.PlatformClaudeConsole
	}
	if a.Priority == 0 {
		a.Priority = 50
	}
	if a.AccountType == "" {
		a.AccountType = "shared"
	}
	if a.APIKeySealed, err = box.Seal(apiKey); err != nil {
		t.Fatal(err)
	}
	a.APIKeyMask = secrets.Mask(apiKey)
	e.publish(t, events.AccountSubject(a.ID), events.AccountCreated, a)
	return a
}

// AccountState returns the edge's view of account id's health.
func (e *Env) AccountState(id string) projections.AccountStateView {
	var v projections.AccountStateView
	e.Edge.Catalog().Read(func(c *projections.Catalog) { v = c.States[id] })
	return v
}

// UsageEvents returns every usage.recorded event in the USAGE stream, in
// order: one per request that passed the edge's checks. Counts of refused
// requests are read with RefusalCounts.
func (e *Env) UsageEvents(t testing.TB) []events.Usage {
	t.Helper()
	var out []events.Usage
	for _, p := range e.usagePayloads(t) {
		if u, ok := p.(*events.Usage); ok {
			out = append(out, *u)
		}
	}
	return out
}

// RefusalCounts publishes the refusals the edge has counted (the current
// minute's included), then returns every usage.refusals_counted event in
// the USAGE stream, in order.
func (e *Env) RefusalCounts(t testing.TB) []events.RefusalsCounted {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.Edge.FlushRefusals(ctx)
	return e.StoredRefusalCounts(t)
}

// StoredRefusalCounts returns the usage.refusals_counted events in the
// USAGE stream, in order, without publishing what the edge holds.
func (e *Env) StoredRefusalCounts(t testing.TB) []events.RefusalsCounted {
	t.Helper()
	var out []events.RefusalsCounted
	for _, p := range e.usagePayloads(t) {
		if c, ok := p.(*events.RefusalsCounted); ok {
			out = append(out, *c)
		}
	}
	return out
}

// Refused sums RefusalCounts per reason.
func (e *Env) Refused(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range e.RefusalCounts(t) {
		out[c.Reason] += c.Count
	}
	return out
}

// usagePayloads decodes every event in the USAGE stream, in order.
func (e *Env) usagePayloads(t testing.TB) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := e.JS.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			if err == jetstream.ErrMsgNotFound {
				continue
			}
			t.Fatal(err)
		}
		env, err := streams.FromRaw(m)
		if err != nil {
			t.Fatal(err)
		}
		p, err := events.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// WaitUsage waits until the USAGE stream holds n events and returns them.
func (e *Env) WaitUsage(t testing.TB, n int) []events.Usage {
	t.Helper()
	var got []events.Usage
	WaitFor(t, 10*time.Second, func() bool {
		got = e.UsageEvents(t)
		return len(got) >= n
	})
	return got
}

// WaitUsageProjected waits until the usage projection has counted every
// event in the USAGE stream.
func (e *Env) WaitUsageProjected(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := e.JS.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.WaitCheckpoint(ctx, store.ProjectionUsage, info.State.LastSeq); err != nil {
		t.Fatalf("edgetest: usage projection did not reach %d: %v", info.State.LastSeq, err)
	}
}
