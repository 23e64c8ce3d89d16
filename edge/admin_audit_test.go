package edge_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"relay/edge/edgetest"
	"relay/store/redistest"
)

type apiAuditEntry struct {
	Seq    uint64 `json:"seq"`
	ID     string `json:"id"`
	Type   string `json:"type"`
	Actor  string `json:"actor"`
	Entity struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"entity"`
	Data json.RawMessage `json:"data"`
}

func TestAuditLog(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		k1 := createKey(t, env, tok, map[string]any{"name": "one"})
		k2 := createKey(t, env, tok, map[string]any{"name": "two"})
		call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+k1.ID, tok, map[string]any{"name": "uno"})
		call[apiKey](t, env, http.StatusOK, http.MethodDelete, "/api/v2/keys/"+k2.ID, tok, nil)
		acct, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody("sk-proj-audit-test-key-000000000"))
		call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(acct, ""), tok, map[string]any{
			"apiKey": "sk-proj-audit-test-key-111111111", "proxy": map[string]any{"protocol": "http", "host": "p", "port": 1, "auth": map[string]any{"username": "u", "password": "audit-proxy-password"}},
		})
		// The log so far, newest first: the admin's bootstrap, then six changes.
		wantTypes := []string{"account.updated", "account.created", "key.deleted", "key.updated", "key.created", "key.created", "admin.created"}

		all, _ := call[page[apiAuditEntry]](t, env, http.StatusOK, http.MethodGet, "/api/v2/audit", tok, nil)
		if all.Total != len(wantTypes) || len(all.Items) != len(wantTypes) {
			t.Fatalf("audit total %d items %d", all.Total, len(all.Items))
		}
		for i, e := range all.Items {
			if e.Type != wantTypes[i] {
				t.Fatalf("item %d is %s, want %s", i, e.Type, wantTypes[i])
			}
			if i > 0 && e.Seq >= all.Items[i-1].Seq {
				t.Fatal("not newest first")
			}
			if e.Type != "admin.created" && e.Actor != "admin" {
				t.Fatalf("actor %q", e.Actor)
			}
			for _, secret := range []string{"keyHash", "apiKeySealed", "passwordHash", "passwordSealed", "audit-test-key", "audit-proxy-password"} {
				if strings.Contains(string(e.Data), secret) {
					t.Fatalf("%s shows %s: %s", e.Type, secret, e.Data)
				}
			}
		}
		if e := all.Items[0]; e.Entity.Kind != "account" || e.Entity.ID != acct.ID || !strings.Contains(string(e.Data), `"apiKeyMask":"sk-proj-...111"`) {
			t.Fatalf("account.updated entry %+v %s", e.Entity, e.Data)
		}
		if e := all.Items[4]; e.Entity.Kind != "key" || e.Entity.ID != k2.ID && e.Entity.ID != k1.ID || !strings.Contains(string(e.Data), `"name":`) {
			t.Fatalf("key.created entry %+v %s", e.Entity, e.Data)
		}

		types := func(p page[apiAuditEntry]) string {
			var out []string
			for _, e := range p.Items {
				out = append(out, e.Type)
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct {
			query string
			want  string
			total int
		}{
			{"?page=2&pageSize=3", "key.updated,key.created,key.created", 7},
			{"?page=3&pageSize=3", "admin.created", 7},
			{"?page=4&pageSize=3", "", 7},
			{"?entity=key:" + k1.ID, "key.updated,key.created", 2},
			{"?entity=key", "key.deleted,key.updated,key.created,key.created", 4},
			{"?entity=key&page=2&pageSize=3", "key.created", 4},
			{"?type=key.created", "key.created,key.created", 2},
			{"?type=key.created&pageSize=1&page=2", "key.created", 2},
			{"?entity=account&type=account.created", "account.created", 1},
			{"?entity=account&type=key.created", "", 0},
			{"?entity=admin", "admin.created", 1},
			{"?entity=key:nosuchkey", "", 0},
		} {
			p, _ := call[page[apiAuditEntry]](t, env, http.StatusOK, http.MethodGet, "/api/v2/audit"+tt.query, tok, nil)
			if types(p) != tt.want || p.Total != tt.total {
				t.Errorf("%s: got %q total %d, want %q total %d", tt.query, types(p), p.Total, tt.want, tt.total)
			}
		}
		for query, field := range map[string]string{
			"?entity=usage": "entity", "?entity=key:a.b": "entity", "?type=usage.recorded": "type", "?pageSize=500": "pageSize",
		} {
			wantInvalid(t, do(t, env, http.MethodGet, "/api/v2/audit"+query, tok, nil, nil), field)
		}
		wantStatus(t, do(t, env, http.MethodGet, "/api/v2/audit?search=x", tok, nil, nil), http.StatusBadRequest, "validation_error")
		if r := do(t, env, http.MethodGet, "/api/v2/audit", "", nil, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("audit without token: %d", r.Status)
		}
	})
}
