package admin_test

import (
	"context"
	"strings"
	"testing"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/events"
)

// seedAudit records, after the first admin: key k1 created and updated,
// account a1 created, the admin's password changed.
func seedAudit(t *testing.T, svc *admin.Service, env *edgetest.Env) {
	t.Helper()
	env.CreateKey(t, events.Key{ID: "k1", Name: "alpha", IsActive: true})
	env.UpdateKey(t, "k1", `{"name":"beta"}`)
	env.CreateAccount(t, events.Account{ID: "a1", Name: "one", IsActive: true}, "sk-ant-api03-audittest")
	if _, err := svc.ChangePassword(context.Background(), admin.Actor{Username: "admin", RequestID: "req-audit"}, edgetest.AdminPassword, "another-password"); err != nil {
		t.Fatal(err)
	}
}

func TestAuditListsNewestFirstWithoutSecrets(t *testing.T) {
	svc, env := newActions(t, nil)
	seedAudit(t, svc, env)
	page, err := svc.Audit(context.Background(), admin.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for i, e := range page.Entries {
		types = append(types, e.Type)
		if i > 0 && e.Seq >= page.Entries[i-1].Seq {
			t.Fatalf("entry %d (seq %d) not older than the one before", i, e.Seq)
		}
		for _, secret := range []string{"keyHash", "Sealed", "passwordHash", "sk-ant-api03-audittest", "$2a$"} {
			if strings.Contains(string(e.Data), secret) {
				t.Fatalf("%s entry shows %q: %s", e.Type, secret, e.Data)
			}
		}
	}
	want := []string{events.AdminPasswordChanged, events.AccountCreated, events.KeyUpdated, events.KeyCreated, events.AdminCreated}
	if strings.Join(types, " ") != strings.Join(want, " ") || page.Total != len(want) {
		t.Fatalf("types %v total %d, want %v", types, page.Total, want)
	}
	changed := page.Entries[0]
	if changed.Actor != "admin" || changed.RequestID != "req-audit" || changed.EntityKind != events.EntityAdmin || changed.EntityID != "admin" {
		t.Fatalf("password change entry %+v", changed)
	}
	if !strings.Contains(string(page.Entries[1].Data), `"name":"one"`) {
		t.Fatalf("account data lost its name: %s", page.Entries[1].Data)
	}
}

func TestAuditFiltersAndPages(t *testing.T) {
	svc, env := newActions(t, nil)
	seedAudit(t, svc, env)
	for _, tc := range []struct {
		name  string
		q     admin.AuditQuery
		types string
		total int
	}{
		{"keys", admin.AuditQuery{Entity: "key", Limit: 10}, "key.updated key.created", 2},
		{"one key", admin.AuditQuery{Entity: "key:k1", Limit: 10}, "key.updated key.created", 2},
		{"another key", admin.AuditQuery{Entity: "key:k2", Limit: 10}, "", 0},
		{"a type alone", admin.AuditQuery{Type: events.KeyCreated, Limit: 10}, "key.created", 1},
		{"admins", admin.AuditQuery{Entity: "admin", Limit: 10}, "admin.password_changed admin.created", 2},
		{"second page", admin.AuditQuery{Offset: 1, Limit: 2}, "account.created key.updated", 5},
		{"filtered second page", admin.AuditQuery{Entity: "key", Offset: 1, Limit: 1}, "key.created", 2},
		{"past the end", admin.AuditQuery{Offset: 10, Limit: 2}, "", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := svc.Audit(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range page.Entries {
				types = append(types, e.Type)
			}
			if strings.Join(types, " ") != tc.types || page.Total != tc.total {
				t.Fatalf("types %v total %d, want %q and %d", types, page.Total, tc.types, tc.total)
			}
		})
	}
}

func TestAuditNamesTheFieldAtFault(t *testing.T) {
	svc, _ := newActions(t, nil)
	for _, tc := range []struct {
		q     admin.AuditQuery
		field string
	}{
		{admin.AuditQuery{Entity: "user", Limit: 10}, "entity"},
		{admin.AuditQuery{Entity: "key:a.b", Limit: 10}, "entity"},
		{admin.AuditQuery{Type: "usage.recorded", Limit: 10}, "type"},
		{admin.AuditQuery{Limit: 0}, "pageSize"},
		{admin.AuditQuery{Limit: 101}, "pageSize"},
		{admin.AuditQuery{Offset: -1, Limit: 10}, "page"},
	} {
		_, err := svc.Audit(context.Background(), tc.q)
		wantField(t, err, tc.field)
	}
}
