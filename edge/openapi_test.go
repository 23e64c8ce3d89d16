package edge_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"relay/edge/edgetest"
	"relay/store/redistest"
)

// specOf fetches /openapi.json.
func specOf(t *testing.T, env *edgetest.Env) map[string]any {
	t.Helper()
	r := env.Do(t, http.MethodGet, "/openapi.json", "", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	var spec map[string]any
	r.JSON(t, &spec)
	return spec
}

var pathParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// specPath is an Echo route path in OpenAPI form: :id becomes {id}, a
// trailing * becomes {path}.
func specPath(p string) string {
	p = pathParam.ReplaceAllString(p, "{$1}")
	if strings.HasSuffix(p, "/*") {
		p = strings.TrimSuffix(p, "*") + "{path}"
	}
	return p
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	spec := specOf(t, env)
	if spec["openapi"] != "3.0.3" {
		t.Fatalf("openapi version %v", spec["openapi"])
	}
	paths := spec["paths"].(map[string]any)
	has := func(method, path string) bool {
		p, ok := paths[path].(map[string]any)
		if !ok {
			return false
		}
		_, ok = p[strings.ToLower(method)]
		return ok
	}
	// Every route the router serves is described.
	n := 0
	for _, r := range env.Edge.Routes() {
		if r.Method == echo.RouteNotFound {
			continue // the groups' not-found catch-alls
		}
		if r.Path == "/" || r.Path == "/console" || strings.HasPrefix(r.Path, "/console/") {
			continue // the web console: pages for browsers, not API
		}
		n++
		if !has(r.Method, specPath(r.Path)) {
			t.Errorf("route %s %s (%s) is missing from /openapi.json", r.Method, r.Path, specPath(r.Path))
		}
	}
	if n < 20 {
		t.Fatalf("only %d routes registered", n)
	}
	// Every route of DESIGN.md section 4 is described, registered or not yet.
	for _, r := range []string{
		"POST /api/v1/messages", "POST /claude/v1/messages", "POST /api/v1/messages/count_tokens", "GET /api/v1/models",
		"POST /openai/responses", "POST /openai/v1/responses",
		"POST /api/v2/auth/admin/login", "GET /api/v2/auth/me", "POST /api/v2/auth/change-password",
		"GET /api/v2/keys", "POST /api/v2/keys", "GET /api/v2/keys/{id}", "PUT /api/v2/keys/{id}", "DELETE /api/v2/keys/{id}",
		"POST /api/v2/keys/{id}/restore", "GET /api/v2/keys/{id}/stats",
		"GET /api/v2/accounts/{platform}", "POST /api/v2/accounts/{platform}", "GET /api/v2/accounts/{platform}/{id}",
		"PUT /api/v2/accounts/{platform}/{id}", "DELETE /api/v2/accounts/{platform}/{id}",
		"POST /api/v2/accounts/{platform}/{id}/toggle-schedulable", "POST /api/v2/accounts/{platform}/{id}/reset-rate-limit",
		"GET /api/v2/accounts/{platform}/{id}/availability", "GET /api/v2/accounts/{platform}/{id}/stats",
		"GET /api/v2/stats/overview", "GET /api/v2/stats/usage", "GET /api/v2/audit",
		"GET /api/v2/notifications", "POST /api/v2/notifications", "GET /api/v2/notifications/{id}", "PUT /api/v2/notifications/{id}",
		"DELETE /api/v2/notifications/{id}", "POST /api/v2/notifications/{id}/test", "GET /api/v2/notifications/{id}/deliveries",
		"GET /docs", "GET /openapi.json", "GET /health", "GET /ready", "GET /metrics",
	} {
		method, path, _ := strings.Cut(r, " ")
		if !has(method, path) {
			t.Errorf("%s is missing from /openapi.json", r)
		}
	}
	// Every operation answers something, declares its path parameters, and
	// every reference resolves.
	schemas := spec["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch t2 := v.(type) {
		case map[string]any:
			if ref, ok := t2["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !ok {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, c := range t2 {
				walk(c)
			}
		case []any:
			for _, c := range t2 {
				walk(c)
			}
		}
	}
	walk(spec)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			if len(o["responses"].(map[string]any)) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
			declared := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s does not declare path parameter %s", method, path, m[1])
				}
			}
		}
	}
	// The key and account fields of DESIGN.md section 5 are all described.
	props := func(name string) map[string]any {
		return schemas[name].(map[string]any)["properties"].(map[string]any)
	}
	for schema, fields := range map[string]string{
		"Key": "id name description permissions isActive isDeleted deletedAt expirationMode expiresAt activationDays activationUnit isActivated activatedAt " +
			"claudeConsoleAccountId codexAccountId enableModelRestriction restrictedModels enableClientRestriction allowedClients concurrencyLimit " +
			"rateLimitWindow rateLimitRequests rateLimitCost dailyCostLimit totalCostLimit weeklyOpusCostLimit tags createdAt updatedAt lastUsedAt",
		"Account": "id platform name description apiUrl apiKey userAgent supportedModels priority schedulable isActive accountType proxy " +
			"rateLimitDuration dailyQuota quotaResetTime maxConcurrency status createdAt updatedAt lastUsedAt",
		// DESIGN.md section 9; the secret is write-only, so the read shape
		// has hasSecret instead.
		"Channel":       "id name type url hasSecret events enabled cooldownSeconds isDeleted deletedAt createdAt updatedAt version",
		"ChannelCreate": "name type url secret events enabled cooldownSeconds",
	} {
		for _, f := range strings.Fields(fields) {
			if _, ok := props(schema)[f]; !ok {
				t.Errorf("schema %s lacks %s", schema, f)
			}
		}
	}
	if _, ok := props("Channel")["secret"]; ok {
		t.Error("schema Channel shows the write-only secret")
	}
}

func TestDocsServeSwaggerUIOffline(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	r := env.Do(t, http.MethodGet, "/docs", "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `src="/docs/relay-init.js"`) || strings.Contains(string(r.Body), "https://") {
		t.Fatalf("/docs: %d %s", r.Status, r.Body)
	}
	if r := env.Do(t, http.MethodGet, "/docs/relay-init.js", "", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `url: "/openapi.json"`) || strings.Contains(string(r.Body), "https://") {
		t.Fatalf("/docs/relay-init.js: %d %s", r.Status, r.Body)
	}
	for _, asset := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/swagger-ui-standalone-preset.js"} {
		r := env.Do(t, http.MethodGet, asset, "", nil)
		if r.Status != http.StatusOK || len(r.Body) < 1000 {
			t.Errorf("%s: %d, %d bytes", asset, r.Status, len(r.Body))
		}
	}
	// The module's own page and initializer (which point at the petstore)
	// lead to ours.
	for _, p := range []string{"/docs/", "/docs/index.html", "/docs/swagger-initializer.js"} {
		if r := env.Do(t, http.MethodGet, p, "", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `src="/docs/relay-init.js"`) {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
	if r := env.Do(t, http.MethodGet, "/docs/nothing.js", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("missing asset: %d", r.Status)
	}
	if r := env.Do(t, http.MethodGet, "/docs/../../etc/passwd", "", nil); r.Status == http.StatusOK {
		t.Errorf("path escape answered 200")
	}
	var spec map[string]any
	if err := json.Unmarshal(env.Do(t, http.MethodGet, "/openapi.json", "", nil).Body, &spec); err != nil {
		t.Fatal(err)
	}
}
