package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/edge/secrets"
	"relay/events"
)

// Each update of a key or an account shows what its fields were before:
// the entity folded from its own events up to the one before, secrets
// never shown.
func TestAuditBeforeFoldsEachUpdatesPredecessor(t *testing.T) {
	_, env := newActions(t, nil)
	box, err := secrets.NewBox([]byte(edgetest.EncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(admin.Config{WriteWait: 10 * time.Second, BcryptCost: bcrypt.MinCost, Location: time.UTC},
		admin.Deps{JS: env.JS, Store: env.Store, Catalog: env.Edge.Catalog(), Box: box, Log: zerolog.Nop()})
	ctx := context.Background()
	who := admin.Actor{Username: "admin", RequestID: "req-before"}
	k, _, err := svc.CreateKey(ctx, who, admin.KeyInput{Name: admin.Some("first"), DailyCostLimit: admin.Some("1")})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []admin.KeyInput{
		{DailyCostLimit: admin.Some("2.5")},
		{Name: admin.Some("second"), DailyCostLimit: admin.Some("4")},
	} {
		if _, err := svc.UpdateKey(ctx, who, k.ID, nil, in); err != nil {
			t.Fatal(err)
		}
	}
	a, err := svc.CreateAccount(ctx, who, events.PlatformClaudeConsole, admin.AccountInput{
		Name: admin.Some("acct"), APIURL: admin.Some("https://api.example.com"), APIKey: admin.Some("sk-ant-api03-before-test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateAccount(ctx, who, events.PlatformClaudeConsole, a.ID, nil, admin.AccountInput{
		Priority: admin.Some(int64(7)), APIKey: admin.Some("sk-ant-api03-rotated-key"),
	}); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Audit(ctx, admin.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	before, err := svc.AuditBefore(ctx, page.Entries)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	for i := len(page.Entries) - 1; i >= 0; i-- { // oldest first
		e := page.Entries[i]
		if e.Type != events.KeyUpdated && e.Type != events.AccountUpdated {
			if _, ok := before[e.Seq]; ok {
				t.Errorf("%s has a before", e.Type)
			}
			continue
		}
		m := map[string]string{}
		for f, v := range before[e.Seq] {
			m[f] = string(v)
		}
		got = append(got, m)
	}
	want := []map[string]string{
		{"dailyCostLimitMicros": "1000000"},
		{"name": `"first"`, "dailyCostLimitMicros": "2500000"},
		{"priority": "50", "apiKeyMask": `"sk-ant-...est"`},
	}
	if len(got) != len(want) {
		t.Fatalf("befores %v, want %v", got, want)
	}
	for i := range want {
		for f, v := range want[i] {
			if got[i][f] != v {
				t.Errorf("update %d: %s before = %s, want %s (all: %v)", i, f, got[i][f], v, got[i])
			}
		}
		for f := range got[i] {
			if f == "apiKeySealed" || f == "keyHash" {
				t.Errorf("update %d shows the secret %s", i, f)
			}
		}
	}
}
