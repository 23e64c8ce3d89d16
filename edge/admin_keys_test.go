package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/edgetest"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
	"relay/store/redistest"
)

// adminAnswer is the admin API's answer shape.
type adminAnswer[T any] struct {
	Success bool `json:"success"`
	Data    T    `json:"data"`
	Error   struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

type page[T any] struct {
	Items    []T `json:"items"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

// apiKey is a key as answers show it; Extra catches fields the test does not
// name, to assert none of them is a secret.
type apiKey struct {
	ID                      string     `json:"id"`
	Name                    string     `json:"name"`
	Description             string     `json:"description"`
	Permissions             string     `json:"permissions"`
	IsActive                bool       `json:"isActive"`
	IsDeleted               bool       `json:"isDeleted"`
	DeletedAt               *time.Time `json:"deletedAt"`
	ExpirationMode          string     `json:"expirationMode"`
	ExpiresAt               *time.Time `json:"expiresAt"`
	ActivationDays          int        `json:"activationDays"`
	ActivationUnit          string     `json:"activationUnit"`
	IsActivated             bool       `json:"isActivated"`
	ClaudeConsoleAccountID  *string    `json:"claudeConsoleAccountId"`
	CodexAccountID          *string    `json:"codexAccountId"`
	AllowedClients          []string   `json:"allowedClients"`
	RestrictedModels        []string   `json:"restrictedModels"`
	EnableClientRestriction bool       `json:"enableClientRestriction"`
	ConcurrencyLimit        int        `json:"concurrencyLimit"`
	RateLimitWindow         int        `json:"rateLimitWindow"`
	RateLimitRequests       int        `json:"rateLimitRequests"`
	RateLimitCost           float64    `json:"rateLimitCost"`
	DailyCostLimit          float64    `json:"dailyCostLimit"`
	TotalCostLimit          float64    `json:"totalCostLimit"`
	WeeklyOpusCostLimit     float64    `json:"weeklyOpusCostLimit"`
	Tags                    []string   `json:"tags"`
	LastUsedAt              *time.Time `json:"lastUsedAt"`
	Version                 uint64     `json:"version"`
	Key                     string     `json:"key"`
}

// do sends a request with extra headers (edgetest.Env.Do sends none).
func do(t testing.TB, env *edgetest.Env, method, path, token string, body any, header map[string]string) edgetest.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, env.HTTP.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return edgetest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// call sends a request and decodes the admin answer, failing unless the
// status is want.
func call[T any](t testing.TB, env *edgetest.Env, want int, method, path, token string, body any, header ...string) (T, edgetest.Response) {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	r := do(t, env, method, path, token, body, h)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	var a adminAnswer[T]
	r.JSON(t, &a)
	return a.Data, r
}

// wantInvalid asserts a 400 validation error naming field.
func wantInvalid(t testing.TB, r edgetest.Response, field string) {
	t.Helper()
	var a adminAnswer[json.RawMessage]
	if err := json.Unmarshal(r.Body, &a); err != nil || r.Status != http.StatusBadRequest || a.Success ||
		a.Error.Code != "validation_error" || a.Error.Field != field || a.Error.Message == "" {
		t.Fatalf("want 400 validation_error on %q, got %d %s", field, r.Status, r.Body)
	}
}

func wantStatus(t testing.TB, r edgetest.Response, status int, code string) {
	t.Helper()
	var a adminAnswer[json.RawMessage]
	if err := json.Unmarshal(r.Body, &a); err != nil || r.Status != status || a.Success || a.Error.Code != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
}

var secretFormat = regexp.MustCompile(`^cr_[0-9a-f]{64}$`)

func createKey(t testing.TB, env *edgetest.Env, tok string, body map[string]any) apiKey {
	t.Helper()
	k, _ := call[apiKey](t, env, http.StatusCreated, http.MethodPost, "/api/v2/keys", tok, body)
	return k
}

func TestKeyLifecycle(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)

		created, r := call[apiKey](t, env, http.StatusCreated, http.MethodPost, "/api/v2/keys", tok, map[string]any{
			"name": "  ci bot  ", "tags": []string{"ci", "ci", "team-a"}, "rateLimitWindow": 60, "rateLimitCost": 1.25,
			"dailyCostLimit": 10, "allowedClients": []string{"claude_code"}, "enableClientRestriction": true,
		})
		if !secretFormat.MatchString(created.Key) {
			t.Fatalf("secret %q has the wrong format", created.Key)
		}
		if strings.Contains(string(r.Body), "keyHash") {
			t.Fatalf("create answer shows the hash: %s", r.Body)
		}
		if r.Header.Get("ETag") != `"`+strconv.FormatUint(created.Version, 10)+`"` || created.Version == 0 {
			t.Fatalf("ETag %q, version %d", r.Header.Get("ETag"), created.Version)
		}
		want := apiKey{
			ID: created.ID, Name: "ci bot", Permissions: "all", IsActive: true, ExpirationMode: "fixed", IsActivated: true, ActivationUnit: "days",
			AllowedClients: []string{"claude_code"}, RestrictedModels: []string{}, EnableClientRestriction: true,
			RateLimitWindow: 60, RateLimitCost: 1.25, DailyCostLimit: 10, Tags: []string{"ci", "team-a"}, Version: created.Version,
		}
		got := created
		got.Key = ""
		if !keysEqual(got, want) {
			t.Fatalf("created\n got %+v\nwant %+v", got, want)
		}
		// Only the hash was kept: the projection and the catalog authenticate
		// the secret by it.
		view, err := env.Store.Key(t.Context(), created.ID)
		if err != nil || view.KeyHash == "" || view.KeyHash == created.Key || view.RateLimitCostMicros != 1_250_000 {
			t.Fatalf("projection %+v %v", view, err)
		}

		read, r := call[apiKey](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys/"+created.ID, tok, nil)
		if read.Key != "" || !keysEqual(read, want) || r.Header.Get("ETag") == "" {
			t.Fatalf("read %+v", read)
		}

		// A partial update changes the fields sent and only those.
		upd, _ := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+created.ID, tok,
			map[string]any{"description": "nightly", "concurrencyLimit": 3}, "If-Match", r.Header.Get("ETag"))
		want.Description, want.ConcurrencyLimit, want.Version = "nightly", 3, upd.Version
		if !keysEqual(upd, want) || upd.Version <= read.Version {
			t.Fatalf("updated\n got %+v\nwant %+v", upd, want)
		}
		// null clears a list and a dedicated account.
		upd, _ = call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+created.ID, tok, map[string]any{"tags": nil, "codexAccountId": nil})
		if len(upd.Tags) != 0 || upd.CodexAccountID != nil || upd.Name != "ci bot" {
			t.Fatalf("after null: %+v", upd)
		}

		// Delete: the key leaves the default list and the catalog refuses it
		// before the answer.
		del, _ := call[apiKey](t, env, http.StatusOK, http.MethodDelete, "/api/v2/keys/"+created.ID, tok, nil)
		if !del.IsDeleted || del.DeletedAt == nil {
			t.Fatalf("deleted %+v", del)
		}
		if v := catalogKey(env, created.ID); !v.IsDeleted || v.Usable(time.Now()) {
			t.Fatalf("catalog still accepts the deleted key: %+v", v)
		}
		list, _ := call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys", tok, nil)
		if list.Total != 0 || len(list.Items) != 0 {
			t.Fatalf("deleted key listed: %+v", list)
		}
		list, _ = call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys?includeDeleted=true", tok, nil)
		if list.Total != 1 || list.Items[0].ID != created.ID || !list.Items[0].IsDeleted {
			t.Fatalf("includeDeleted: %+v", list)
		}
		wantStatus(t, do(t, env, http.MethodDelete, "/api/v2/keys/"+created.ID, tok, nil, nil), http.StatusConflict, "conflict")
		wantStatus(t, do(t, env, http.MethodPut, "/api/v2/keys/"+created.ID, tok, map[string]any{"name": "x"}, nil), http.StatusConflict, "conflict")

		restored, _ := call[apiKey](t, env, http.StatusOK, http.MethodPost, "/api/v2/keys/"+created.ID+"/restore", tok, nil)
		if restored.IsDeleted || restored.DeletedAt != nil || restored.Name != "ci bot" {
			t.Fatalf("restored %+v", restored)
		}
		if v := catalogKey(env, created.ID); !v.Usable(time.Now()) {
			t.Fatalf("catalog refuses the restored key: %+v", v)
		}
		wantStatus(t, do(t, env, http.MethodPost, "/api/v2/keys/"+created.ID+"/restore", tok, nil, nil), http.StatusConflict, "conflict")
	})
}

func catalogKey(env *edgetest.Env, id string) projections.KeyView {
	var v projections.KeyView
	env.Edge.Catalog().Read(func(c *projections.Catalog) { v = c.Keys[id] })
	return v
}

func keysEqual(a, b apiKey) bool {
	norm := func(k apiKey) string {
		k.Key = ""
		j, _ := json.Marshal(k)
		return string(j)
	}
	return norm(a) == norm(b)
}

// Two admins read the same version; the second write must not overwrite
// the first.
func TestKeyStaleUpdateConflicts(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		k := createKey(t, env, tok, map[string]any{"name": "shared"})
		etag := `"` + strconv.FormatUint(k.Version, 10) + `"`
		call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{"name": "first"}, "If-Match", etag)
		r := do(t, env, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{"name": "second"}, map[string]string{"If-Match": etag})
		wantStatus(t, r, http.StatusConflict, "conflict")
		for _, method := range []string{http.MethodDelete} {
			wantStatus(t, do(t, env, method, "/api/v2/keys/"+k.ID, tok, nil, map[string]string{"If-Match": etag}), http.StatusConflict, "conflict")
		}
		got, _ := call[apiKey](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys/"+k.ID, tok, nil)
		if got.Name != "first" || got.IsDeleted {
			t.Fatalf("the first change was lost: %+v", got)
		}
		wantInvalid(t, do(t, env, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{"name": "x"}, map[string]string{"If-Match": "yesterday"}), "If-Match")
		// An empty update changes nothing but still checks the version.
		wantStatus(t, do(t, env, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{}, map[string]string{"If-Match": etag}), http.StatusConflict, "conflict")
		same, _ := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{})
		if same.Version != got.Version {
			t.Fatalf("empty update published: %d -> %d", got.Version, same.Version)
		}
	})
}

func TestKeyValidation(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		codex, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody("sk-proj-validation-test-key-0001"))
		future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		tests := []struct {
			name  string
			body  any
			field string
		}{
			{"name missing", `{"description":"x"}`, "name"},
			{"name empty", `{"name":"   "}`, "name"},
			{"name not a string", `{"name":5}`, "name"},
			{"name null", `{"name":null}`, "name"},
			{"name too long", map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{"name control character", `{"name":"a\u0007b"}`, "name"},
			{"unknown field", `{"name":"k","colour":"red"}`, "colour"},
			{"read-only field", `{"name":"k","id":"abc"}`, "id"},
			{"secret hash", `{"name":"k","keyHash":"abc"}`, "keyHash"},
			{"permissions", `{"name":"k","permissions":"gemini"}`, "permissions"},
			{"isActive type", `{"name":"k","isActive":"yes"}`, "isActive"},
			{"expirationMode", `{"name":"k","expirationMode":"never"}`, "expirationMode"},
			{"expiresAt format", `{"name":"k","expiresAt":"tomorrow"}`, "expiresAt"},
			{"expiresAt date only", `{"name":"k","expiresAt":"2030-01-01"}`, "expiresAt"},
			{"expiresAt past", map[string]any{"name": "k", "expiresAt": past}, "expiresAt"},
			{"activation without days", `{"name":"k","expirationMode":"activation"}`, "activationDays"},
			{"activation with expiresAt", map[string]any{"name": "k", "expirationMode": "activation", "activationDays": 3, "expiresAt": future}, "expiresAt"},
			{"days in fixed mode", `{"name":"k","activationDays":3}`, "activationDays"},
			{"activationUnit", `{"name":"k","expirationMode":"activation","activationDays":3,"activationUnit":"weeks"}`, "activationUnit"},
			{"activationDays negative", `{"name":"k","activationDays":-1}`, "activationDays"},
			{"activationDays fraction", `{"name":"k","activationDays":1.5}`, "activationDays"},
			{"allowedClients value", `{"name":"k","allowedClients":["cursor"]}`, "allowedClients"},
			{"allowedClients type", `{"name":"k","allowedClients":"claude_code"}`, "allowedClients"},
			{"restrictedModels empty item", `{"name":"k","restrictedModels":[""]}`, "restrictedModels"},
			{"tags not strings", `{"name":"k","tags":[1]}`, "tags"},
			{"too many tags", map[string]any{"name": "k", "tags": manyStrings(51)}, "tags"},
			{"concurrency negative", `{"name":"k","concurrencyLimit":-1}`, "concurrencyLimit"},
			{"rateLimitRequests huge", `{"name":"k","rateLimitRequests":1e30}`, "rateLimitRequests"},
			{"cost negative", `{"name":"k","dailyCostLimit":-0.01}`, "dailyCostLimit"},
			{"cost string", `{"name":"k","totalCostLimit":"5"}`, "totalCostLimit"},
			{"cost huge", `{"name":"k","weeklyOpusCostLimit":1e12}`, "weeklyOpusCostLimit"},
			{"window needed", `{"name":"k","rateLimitRequests":10}`, "rateLimitWindow"},
			{"window needed for cost", `{"name":"k","rateLimitCost":1}`, "rateLimitWindow"},
			{"account unknown", `{"name":"k","codexAccountId":"nope"}`, "codexAccountId"},
			{"account bad id", `{"name":"k","codexAccountId":"a.b"}`, "codexAccountId"},
			{"account wrong platform", map[string]any{"name": "k", "claudeConsoleAccountId": codex.ID}, "claudeConsoleAccountId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantInvalid(t, do(t, env, http.MethodPost, "/api/v2/keys", tok, tt.body, nil), tt.field)
			})
		}
		for name, body := range map[string]string{"array": `[]`, "null": `null`, "empty": ``, "truncated": `{"name":`, "two objects": `{} {}`} {
			t.Run(name, func(t *testing.T) {
				wantStatus(t, do(t, env, http.MethodPost, "/api/v2/keys", tok, body, nil), http.StatusBadRequest, "validation_error")
			})
		}
		list, _ := call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys?includeDeleted=true", tok, nil)
		if list.Total != 0 {
			t.Fatalf("an invalid request created a key: %+v", list)
		}

		// The same checks hold on update, against the key as it stands.
		k := createKey(t, env, tok, map[string]any{"name": "k", "codexAccountId": codex.ID})
		if k.CodexAccountID == nil || *k.CodexAccountID != codex.ID {
			t.Fatalf("dedicated account not bound: %+v", k)
		}
		for _, tt := range []struct {
			name  string
			body  string
			field string
		}{
			{"name null", `{"name":null}`, "name"},
			{"requests without window", `{"rateLimitRequests":5}`, "rateLimitWindow"},
			{"unknown field", `{"createdAt":"2020-01-01T00:00:00Z"}`, "createdAt"},
			{"account", `{"codexAccountId":"missing"}`, "codexAccountId"},
		} {
			t.Run("update "+tt.name, func(t *testing.T) {
				wantInvalid(t, do(t, env, http.MethodPut, "/api/v2/keys/"+k.ID, tok, tt.body, nil), tt.field)
			})
		}
	})
}

func manyStrings(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("s%d", i)
	}
	return out
}

func TestKeyExpirationModes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		at := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
		fixed := createKey(t, env, tok, map[string]any{"name": "fixed", "expiresAt": at.Format(time.RFC3339)})
		if fixed.ExpiresAt == nil || !fixed.ExpiresAt.Equal(at) {
			t.Fatalf("expiresAt %v, want %v", fixed.ExpiresAt, at)
		}
		// A fixed-expiry key is in force from its creation: Claude Relay
		// Service reports it activated, and tools built on it read that.
		if !fixed.IsActivated {
			t.Fatalf("fixed-expiry key: isActivated false, want true")
		}
		// Switching to activation mode drops the fixed expiry.
		act, _ := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+fixed.ID, tok,
			map[string]any{"expirationMode": "activation", "activationDays": 12, "activationUnit": "hours"})
		if act.ExpiresAt != nil || act.ActivationDays != 12 || act.ActivationUnit != "hours" || act.IsActivated {
			t.Fatalf("activation: %+v", act)
		}
		// And back: activationDays goes, an expiry may be set.
		back, _ := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+fixed.ID, tok,
			map[string]any{"expirationMode": "fixed", "expiresAt": at.Format(time.RFC3339)})
		if back.ActivationDays != 0 || back.ExpiresAt == nil {
			t.Fatalf("fixed again: %+v", back)
		}
		never, _ := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+fixed.ID, tok, map[string]any{"expiresAt": nil})
		if never.ExpiresAt != nil {
			t.Fatalf("expiresAt not cleared: %+v", never)
		}
	})
}

func TestKeyListPagingAndSearch(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		var ids []string
		for i := range 5 {
			body := map[string]any{"name": fmt.Sprintf("key %d", i)}
			if i == 1 {
				body["description"] = "Owned by the Platform team"
			}
			if i == 3 {
				body["tags"] = []string{"platform"}
			}
			ids = append(ids, createKey(t, env, tok, body).ID)
		}
		slices.Reverse(ids) // newest first
		names := func(p page[apiKey]) []string {
			var out []string
			for _, k := range p.Items {
				out = append(out, k.ID)
			}
			return out
		}
		for _, tt := range []struct {
			query string
			want  []string
			total int
		}{
			{"", ids, 5},
			{"?page=1&pageSize=2", ids[:2], 5},
			{"?page=3&pageSize=2", ids[4:], 5},
			{"?page=9&pageSize=2", nil, 5},
			{"?search=PLATFORM", []string{ids[1], ids[3]}, 2},
			{"?search=key%204", []string{ids[0]}, 1},
			{"?search=platform&pageSize=1&page=2", []string{ids[3]}, 2},
		} {
			p, _ := call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys"+tt.query, tok, nil)
			if !slices.Equal(names(p), tt.want) || p.Total != tt.total {
				t.Errorf("%q: got %v total %d, want %v total %d", tt.query, names(p), p.Total, tt.want, tt.total)
			}
		}
		p, _ := call[page[apiKey]](t, env, http.StatusOK, http.MethodGet, "/api/v2/keys?page=2&pageSize=3", tok, nil)
		if p.Page != 2 || p.PageSize != 3 {
			t.Errorf("paging echoed as %d/%d", p.Page, p.PageSize)
		}
		for query, field := range map[string]string{
			"?page=0": "page", "?page=x": "page", "?pageSize=101": "pageSize", "?pageSize=0": "pageSize",
			"?includeDeleted=maybe": "includeDeleted", "?search=" + strings.Repeat("s", 201): "search",
		} {
			wantInvalid(t, do(t, env, http.MethodGet, "/api/v2/keys"+query, tok, nil, nil), field)
		}
	})
}

func TestKeyRoutesNeedAdminAndKnownIDs(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		routes := []struct{ method, path string }{
			{http.MethodGet, "/api/v2/keys"}, {http.MethodPost, "/api/v2/keys"},
			{http.MethodGet, "/api/v2/keys/%s"}, {http.MethodPut, "/api/v2/keys/%s"},
			{http.MethodDelete, "/api/v2/keys/%s"}, {http.MethodPost, "/api/v2/keys/%s/restore"},
		}
		for _, rt := range routes {
			path := strings.ReplaceAll(rt.path, "%s", "0123")
			if r := do(t, env, rt.method, path, "", `{"name":"x"}`, nil); r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s without token: %d", rt.method, path, r.Status)
			}
			if !strings.Contains(rt.path, "%s") {
				continue
			}
			for _, id := range []string{"0123", "bad.id", "x%20y"} {
				path := strings.ReplaceAll(rt.path, "%s", id)
				r := do(t, env, rt.method, path, tok, `{"name":"x"}`, nil)
				if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"code":"not_found"`) {
					t.Errorf("%s %s: %d %s", rt.method, path, r.Status, r.Body)
				}
			}
		}
	})
}

// BenchmarkListKeys measures the first page of 50 out of 10,000 keys, and a
// search over all of them. RELAY_BENCH_REAL=1 runs it on a real redis-server.
func BenchmarkListKeys(b *testing.B) {
	backend := redistest.Embedded(b)
	if os.Getenv("RELAY_BENCH_REAL") != "" {
		backend = redistest.Real(b)
	}
	env := edgetest.Start(b, backend, edgetest.Options{})
	tok := env.AdminToken(b)
	const n = 10_000
	ctx := context.Background()
	for i := range n {
		id := events.NewID(time.Now())
		e, err := events.New(events.KeyCreated, time.Now(), "bench", "", events.Key{
			ID: id, Name: fmt.Sprintf("bench key %d", i), KeyHash: fmt.Sprintf("%064x", i), Permissions: "all", IsActive: true,
			Tags: []string{"bench"}, RestrictedModels: []string{}, AllowedClients: []string{},
		})
		if err != nil {
			b.Fatal(err)
		}
		m, err := streams.Msg(events.KeySubject(id), e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.JS.PublishMsgAsync(m, jetstream.WithMsgID(e.ID)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-env.JS.PublishAsyncComplete()
		}
	}
	<-env.JS.PublishAsyncComplete()
	stream, err := env.JS.Stream(ctx, events.StreamConfig)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	last := info.State.LastSeq
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := env.Store.WaitCheckpoint(wctx, store.ProjectionConfig, last); err != nil {
		b.Fatal(err)
	}
	var p adminAnswer[page[apiKey]]
	json.Unmarshal(env.Do(b, http.MethodGet, "/api/v2/keys?page=1&pageSize=50", tok, nil).Body, &p)
	if p.Data.Total != n || len(p.Data.Items) != 50 {
		b.Fatalf("total %d, items %d", p.Data.Total, len(p.Data.Items))
	}
	for name, path := range map[string]string{
		"page1":  "/api/v2/keys?page=1&pageSize=50",
		"search": "/api/v2/keys?page=1&pageSize=50&search=KEY%20999", // 11 matches among 10,000
	} {
		b.Run(name, func(b *testing.B) {
			durations := make([]time.Duration, 0, 1024)
			for b.Loop() {
				start := time.Now()
				r := env.Do(b, http.MethodGet, path, tok, nil)
				durations = append(durations, time.Since(start))
				if r.Status != http.StatusOK {
					b.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			slices.Sort(durations)
			b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
