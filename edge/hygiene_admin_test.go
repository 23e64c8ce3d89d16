package edge_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"relay/edge/edgetest"
	"relay/events"
	"relay/store/redistest"
)

// TestRefusedUpstreamConnectionIs502: an account whose upstream refuses the
// connection gets the client a 502 naming a connect error in the route's
// dialect, not a 504 saying the upstream did not answer in time (which every
// connection failure was, once the attempt's cancel had run).
func TestRefusedUpstreamConnectionIs502(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	env.CreateAccount(t, events.Account{ID: "claude", Name: "c", APIURL: closed, IsActive: true, Schedulable: true}, "sk-ant-upstream-secret-1")
	env.CreateAccount(t, events.Account{ID: "codex", Name: "x", Platform: events.PlatformCodex, APIURL: closed, IsActive: true, Schedulable: true}, "sk-openai-upstream-secret")
	key := env.CreateKey(t, events.Key{ID: "key1", Name: "k", IsActive: true})
	for _, tc := range []struct{ path, body, want string }{
		{"/api/v1/messages", claudeBody, `"type":"api_error"`},
		{"/openai/responses", `{"model":"gpt-5-codex","stream":true,"input":"hi"}`, `"code":"bad_gateway"`},
	} {
		resp, body := post(t, env, tc.path, key, tc.body, "Authorization", "Bearer "+key)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), tc.want) || !strings.Contains(string(body), "connect") {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
	us := env.WaitUsage(t, 2)
	for _, u := range us {
		if u.Status != http.StatusBadGateway || u.Outcome != events.OutcomeUpstreamError {
			t.Errorf("usage %s: status %d outcome %s", u.Platform, u.Status, u.Outcome)
		}
	}
}

// TestAdminRequestHygiene: the admin API refuses a body that is not JSON
// with 415, a string that is not valid UTF-8 with 400 (it was stored with
// U+FFFD in its place), and a method a route does not have with 405 and
// Allow (it was 404); all in the admin error format. Without a token an
// unknown route or method still answers 401, revealing nothing.
func TestAdminRequestHygiene(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	tok := env.AdminToken(t)
	do := func(method, path, token, contentType, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, env.HTTP.URL+path, strings.NewReader(body))
		if body == "" {
			req.Body = http.NoBody
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := env.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	t.Run("415", func(t *testing.T) {
		for _, tc := range []struct{ method, path, token, ct string }{
			{"POST", "/api/v2/keys", tok, "text/plain"},
			{"POST", "/api/v2/keys", tok, "application/x-www-form-urlencoded"},
			{"POST", "/api/v2/keys", tok, ""},
			{"PUT", "/api/v2/keys/k1", tok, "text/plain;charset=utf-8"},
			{"POST", "/api/v2/auth/admin/login", "", "text/plain"},
		} {
			code, _, body := do(tc.method, tc.path, tc.token, tc.ct, `{"name":"k"}`)
			if code != http.StatusUnsupportedMediaType || !strings.Contains(body, `"code":"unsupported_media_type"`) || !strings.Contains(body, `"success":false`) {
				t.Errorf("%s %s with %q: %d %s", tc.method, tc.path, tc.ct, code, body)
			}
		}
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
			if code, _, body := do("POST", "/api/v2/keys", tok, ct, `{"name":"json-`+ct[len(ct)-4:]+`"}`); code != http.StatusCreated && code != http.StatusOK {
				t.Errorf("%q refused: %d %s", ct, code, body)
			}
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		for name, body := range map[string]string{
			"raw byte":       "{\"name\":\"bad\xff name\"}",
			"lone surrogate": `{"name":"bad \ud800 name"}`,
			"in description": "{\"name\":\"ok\",\"description\":\"\xc3\x28\"}",
		} {
			code, _, out := do("POST", "/api/v2/keys", tok, "application/json", body)
			if code != http.StatusBadRequest || !strings.Contains(out, `"code":"validation_error"`) || !strings.Contains(out, "UTF-8") {
				t.Errorf("%s: %d %s", name, code, out)
			}
		}
		// A real U+FFFD, sent as such or escaped, is a character like any.
		for _, name := range []string{"keep \ufffd", `keep \ufffd escaped`} {
			if code, _, out := do("POST", "/api/v2/keys", tok, "application/json", `{"name":"`+name+`"}`); code != http.StatusCreated && code != http.StatusOK {
				t.Errorf("%q: %d %s", name, code, out)
			}
		}
	})
	t.Run("405", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{"DELETE", "/api/v2/keys", "GET"},
			{"PATCH", "/api/v2/auth/me", "GET"},
			{"GET", "/api/v2/auth/change-password", "POST"},
		} {
			code, h, body := do(tc.method, tc.path, tok, "", "")
			if code != http.StatusMethodNotAllowed || !strings.Contains(body, `"code":"method_not_allowed"`) || !strings.Contains(h.Get("Allow"), tc.allow) {
				t.Errorf("%s %s: %d %v %s", tc.method, tc.path, code, h.Get("Allow"), body)
			}
		}
		if code, _, body := do("GET", "/api/v2/no-such-route", tok, "", ""); code != http.StatusNotFound {
			t.Errorf("unknown route with a token: %d %s", code, body)
		}
		for _, path := range []string{"/api/v2/keys", "/api/v2/no-such-route"} {
			if code, _, body := do("DELETE", path, "", "", ""); code != http.StatusUnauthorized {
				t.Errorf("DELETE %s without a token: %d %s", path, code, body)
			}
		}
	})
}

// TestSecurityHeaders: every answer carries nosniff, DENY framing and a
// CSP; API answers a CSP that loads nothing, the docs page one that lets
// Swagger UI load its own assets but no inline script and no framing; every
// /api/v2 answer (tokens, key secrets) is no-store.
func TestSecurityHeaders(t *testing.T) {
	e := newRelayEnv(t, redistest.Embedded(t), 1)
	tok := e.AdminToken(t)
	type check struct {
		name, method, path, token string
		body                      any
		status                    int
		docs, noStore             bool
	}
	for _, c := range []check{
		{"health", "GET", "/health", "", nil, 200, false, false},
		{"unknown path", "GET", "/nothing", "", nil, 404, false, false},
		{"login", "POST", "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": edgetest.AdminPassword}, 200, false, true},
		{"login refused", "POST", "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "wrong"}, 401, false, true},
		{"key create (carries the secret)", "POST", "/api/v2/keys", tok, map[string]string{"name": "k"}, 201, false, true},
		{"admin without token", "GET", "/api/v2/keys", "", nil, 401, false, true},
		{"relay refused", "POST", "/api/v1/messages", "", claudeBody, 401, false, false},
		{"docs page", "GET", "/docs", "", nil, 200, true, false},
		{"docs asset", "GET", "/docs/swagger-ui.css", "", nil, 200, true, false},
		{"docs initializer", "GET", "/docs/relay-init.js", "", nil, 200, true, false},
	} {
		r := e.Do(t, c.method, c.path, c.token, c.body)
		if r.Status != c.status {
			t.Errorf("%s: status %d, want %d: %.200s", c.name, r.Status, c.status, r.Body)
			continue
		}
		h := r.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: nosniff %q, frame options %q", c.name, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"))
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q allows framing", c.name, csp)
		}
		if c.docs {
			if !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
				t.Errorf("%s: CSP %q", c.name, csp)
			}
		} else if !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "'self'") {
			t.Errorf("%s: CSP %q", c.name, csp)
		}
		if got := h.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s: Cache-Control %q", c.name, h.Get("Cache-Control"))
		}
	}
	// The page's CSP allows no inline script: every script is a file.
	page := string(e.Do(t, "GET", "/docs", "", nil).Body)
	if n, src := strings.Count(page, "<script"), strings.Count(page, "<script src=\"/docs/"); n == 0 || n != src {
		t.Errorf("/docs has %d scripts, %d of them files of its own:\n%s", n, src, page)
	}
	if r := e.Do(t, "GET", "/docs/relay-init.js", "", nil); !strings.Contains(string(r.Body), "SwaggerUIBundle(") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("initializer: %s %s", r.Header.Get("Content-Type"), r.Body)
	}
}
