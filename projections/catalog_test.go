package projections_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
)

// history is a small CONFIG and STATE history with sequences set.
func history(t *testing.T) []events.Envelope {
	t.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var seq uint64
	mk := func(typ, subject string, p any) events.Envelope {
		seq++
		env, err := events.New(typ, at.Add(time.Duration(seq)*time.Second), "admin", "", p)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq, env.Subject = seq, subject
		return env
	}
	return []events.Envelope{
		mk(events.AdminCreated, events.AdminSubject("admin"), events.AdminCreatedData{Username: "admin", PasswordHash: "h1"}),
		mk(events.KeyCreated, events.KeySubject("k1"), events.Key{ID: "k1", Name: "one", KeyHash: "aa", IsActive: true, Permissions: "all"}),
		mk(events.KeyCreated, events.KeySubject("k2"), events.Key{ID: "k2", Name: "two", KeyHash: "bb", IsActive: true, ExpirationMode: "activation", ActivationDays: 2, ActivationUnit: "days"}),
		mk(events.KeyUpdated, events.KeySubject("k1"), events.KeyUpdatedData{ID: "k1", Changes: json.RawMessage(`{"name":"uno","concurrencyLimit":3}`)}),
		mk(events.AccountCreated, events.AccountSubject("a1"), events.Account{ID: "a1", Platform: events.PlatformClaudeConsole, Priority: 50, IsActive: true, Schedulable: true, SupportedModels: map[string]string{"x": "y"}}),
		mk(events.AccountUpdated, events.AccountSubject("a1"), events.AccountUpdatedData{ID: "a1", Changes: json.RawMessage(`{"supportedModels":{"m":"n"},"priority":10}`)}),
		mk(events.AccountStateMarked, events.AccountStateSubject("a1"), events.AccountStateMarkedData{AccountID: "a1", State: events.StateRateLimited, Until: at.Add(time.Hour)}),
		mk(events.KeyDeleted, events.KeySubject("k2"), events.KeyDeletedData{ID: "k2"}),
		mk(events.KeyActivated, events.KeySubject("k1"), events.KeyActivatedData{ID: "k1", ActivatedAt: at, ExpiresAt: at.Add(48 * time.Hour)}),
		mk(events.AdminPasswordChanged, events.AdminSubject("admin"), events.AdminPasswordChangedData{Username: "admin", PasswordHash: "h2"}),
		mk(events.KeyRestored, events.KeySubject("k2"), events.KeyRestoredData{ID: "k2"}),
		mk(events.AccountStateCleared, events.AccountStateSubject("a1"), events.AccountStateClearedData{AccountID: "a1"}),
		mk(events.KeyUpdated, events.KeySubject("k1"), events.KeyUpdatedData{ID: "k1", Changes: json.RawMessage(`{"keyHash":"cc"}`)}),
	}
}

func fold(t *testing.T, envs []events.Envelope) *projections.Catalog {
	t.Helper()
	c := projections.NewCatalog()
	for _, e := range envs {
		if err := c.Apply(e); err != nil {
			t.Fatalf("apply %s@%d: %v", e.Type, e.Seq, err)
		}
	}
	return c
}

// Folding a history in which events are delivered again (right away or
// later, as a redelivery after a lost ack does) gives the same catalog as
// folding it once.
func TestFoldWithDuplicatesEqualsFoldOnce(t *testing.T) {
	h := history(t)
	want := fold(t, h)
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var withDups []events.Envelope
		for i, e := range h {
			withDups = append(withDups, e)
			for r.IntN(3) == 0 {
				withDups = append(withDups, h[r.IntN(i+1)]) // an earlier or the same event again
			}
		}
		if got := fold(t, withDups); !reflect.DeepEqual(got, want) {
			t.Fatalf("fold with duplicates differs:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestCatalogFoldsTheHistory(t *testing.T) {
	c := fold(t, history(t))
	k1 := c.Keys["k1"]
	if k1.Name != "uno" || k1.ConcurrencyLimit != 3 || !k1.IsActivated || k1.ExpiresAt == nil || k1.Permissions != "all" {
		t.Errorf("k1 %+v", k1)
	}
	if _, old := c.KeyByHash["aa"]; old || c.KeyByHash["cc"] != "k1" || c.KeyByHash["bb"] != "k2" {
		t.Errorf("hash index %v", c.KeyByHash)
	}
	if k2 := c.Keys["k2"]; k2.IsDeleted || k2.ExpiresAt != nil {
		t.Errorf("k2 %+v", k2)
	}
	a1 := c.Accounts["a1"]
	if !reflect.DeepEqual(a1.SupportedModels, map[string]string{"m": "n"}) || a1.Priority != 10 {
		t.Errorf("a1 %+v", a1)
	}
	if st := c.States["a1"]; st.ActiveAt(time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)) != "" {
		t.Errorf("cleared state still active: %+v", st)
	}
	if a := c.Admins["admin"]; a.PasswordHash != "h2" || a.PasswordSeq != 10 {
		t.Errorf("admin %+v", a)
	}
	if c.ConfigSeq != 13 || c.StateSeq != 12 {
		t.Errorf("seqs %d %d", c.ConfigSeq, c.StateSeq)
	}
}

func TestSecondAdminCreationNeverResetsThePassword(t *testing.T) {
	h := history(t)
	again, err := events.New(events.AdminCreated, time.Now(), "system", "", events.AdminCreatedData{Username: "admin", PasswordHash: "reset"})
	if err != nil {
		t.Fatal(err)
	}
	again.Seq, again.Subject = 99, events.AdminSubject("admin")
	c := fold(t, append(h, again))
	if got := c.Admins["admin"].PasswordHash; got != "h2" {
		t.Fatalf("password reset by a second admin.created: %s", got)
	}
}

func TestStatesEndByThemselves(t *testing.T) {
	until := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	v := projections.AccountStateView{State: events.StateOverloaded, Until: until}
	if v.ActiveAt(until.Add(-time.Second)) != events.StateOverloaded || v.ActiveAt(until) != "" {
		t.Fatal("state does not end at Until")
	}
}

func TestUpstreamModel(t *testing.T) {
	all := projections.AccountView{}
	if m, ok := all.UpstreamModel("claude-x"); !ok || m != "claude-x" {
		t.Fatal("empty map must support every model")
	}
	mapped := projections.AccountView{Account: events.Account{SupportedModels: map[string]string{"a": "b", "c": ""}}}
	if m, ok := mapped.UpstreamModel("a"); !ok || m != "b" {
		t.Fatal("mapping")
	}
	if m, ok := mapped.UpstreamModel("c"); !ok || m != "c" {
		t.Fatal("same-name entry")
	}
	if _, ok := mapped.UpstreamModel("z"); ok {
		t.Fatal("unsupported model accepted")
	}
}
