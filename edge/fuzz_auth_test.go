package edge_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/events"
	"relay/projections"
	"relay/store/redistest"
)

// The fuzzers of property 13 drive the edge's HTTP handler in memory, so a
// header may carry any bytes (no client would send some of them, a raw
// socket can). Their seed corpora under testdata/fuzz run as ordinary
// tests; `go test -fuzz FuzzRelayAuthHeader ./edge` explores further.

// fuzzEdge is a relay with an admin and one live key, whose secret no
// fuzz input can know.
func fuzzEdge(f *testing.F) *edgetest.Env {
	f.Helper()
	return fuzzEdgeWith(f, edgetest.Options{})
}

func fuzzEdgeWith(f *testing.F, o edgetest.Options) *edgetest.Env {
	f.Helper()
	env := edgetest.Start(f, redistest.Embedded(f), o)
	env.CreateKey(f, events.Key{ID: "fuzzkey", Name: "fuzz", IsActive: true})
	return env
}

// serve runs one request through env's handler.
func fuzzServe(env *edgetest.Env, method, path string, body []byte, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = []string{v} // as sent: no canonical checks
	}
	rec := httptest.NewRecorder()
	env.Edge.Handler().ServeHTTP(rec, req)
	return rec
}

// FuzzRelayAuthHeader: whatever a client puts in x-api-key and
// Authorization, a relay route that cannot match a key answers 401 with
// the one body every refused key gets (byte-identical), never another
// status, and records nothing.
func FuzzRelayAuthHeader(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""},
		{"cr_" + strings.Repeat("0", 64), ""},
		{"", "Bearer cr_" + strings.Repeat("f", 64)},
		{"cr_" + strings.Repeat("a", 63), "Bearer "},
		{" cr_" + strings.Repeat("1", 64) + " ", "bearer x"},
		{"CR_" + strings.Repeat("A", 64), "Bearer\tcr_x"},
		{"cr_\x00\xff\n", "Basic dXNlcjpwYXNz"},
		{strings.Repeat("cr_", 5000), "Bearer " + strings.Repeat("x", 70000)},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	env := fuzzEdge(f)
	paths := map[bool]string{false: "/api/v1/messages", true: "/openai/responses"}
	bodies := map[bool][]byte{false: []byte(relBody), true: []byte(`{"model":"gpt-5","stream":true,"input":"hi"}`)}
	want := map[bool]string{}
	for _, codex := range []bool{false, true} {
		rec := fuzzServe(env, http.MethodPost, paths[codex], bodies[codex], map[string]string{"X-Api-Key": "cr_" + strings.Repeat("0", 64)})
		if rec.Code != http.StatusUnauthorized {
			f.Fatalf("%s with an unknown key: %d %s", paths[codex], rec.Code, rec.Body)
		}
		want[codex] = rec.Body.String()
	}
	f.Fuzz(func(t *testing.T, apiKey, authorization string, codex bool) {
		h := map[string]string{}
		if apiKey != "" {
			h["X-Api-Key"] = apiKey
		}
		if authorization != "" {
			h["Authorization"] = authorization
		}
		rec := fuzzServe(env, http.MethodPost, paths[codex], bodies[codex], h)
		if rec.Code != http.StatusUnauthorized || rec.Body.String() != want[codex] {
			t.Fatalf("property 13 (auth header fuzz: clean 401): x-api-key %q, Authorization %q on %s: %d %s", apiKey, authorization, paths[codex], rec.Code, rec.Body)
		}
	})
}

// FuzzAdminToken: an arbitrary Authorization header on an admin route gets
// the one 401 answer for bad tokens, never a 5xx nor a pass. Seeds include
// tokens signed with the test edge's own JWT secret whose claims are wrong
// (expired, unknown admin, stale password version, other issuer, HS512,
// alg none), so the fuzzer starts past the signature check.
func FuzzAdminToken(f *testing.F) {
	f.Add("")
	f.Add("Bearer ")
	f.Add("Bearer a.b.c")
	f.Add("bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
	var secret []byte
	env := fuzzEdgeWith(f, edgetest.Options{Edge: func(c *edge.Config) { secret = c.JWTSecret }})
	rec := fuzzServe(env, http.MethodGet, "/api/v2/auth/me", nil, nil)
	if rec.Code != http.StatusUnauthorized {
		f.Fatalf("no token: %d", rec.Code)
	}
	want := rec.Body.String()
	// Control: the claims the seeds get wrong one at a time, all right,
	// pass; so each seed fails for the reason it names.
	var ver uint64
	env.Edge.Catalog().Read(func(c *projections.Catalog) { ver = c.Admins["admin"].PasswordSeq })
	good, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "relay", "sub": "admin", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "ver": ver}).SignedString(secret)
	if err != nil {
		f.Fatal(err)
	}
	if rec := fuzzServe(env, http.MethodGet, "/api/v2/auth/me", nil, map[string]string{"Authorization": "Bearer " + good}); rec.Code != http.StatusOK || ver != 1 {
		f.Fatalf("control token (ver %d; the seeds assume 1): %d %s", ver, rec.Code, rec.Body)
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		rec := fuzzServe(env, http.MethodGet, "/api/v2/auth/me", nil, map[string]string{"Authorization": authorization})
		if rec.Code != http.StatusUnauthorized || rec.Body.String() != want {
			t.Fatalf("property 13 (JWT fuzz: 401, never 500): Authorization %q: %d %s", authorization, rec.Code, rec.Body)
		}
	})
}

// FuzzAdminLoginBody: whatever body POST /api/v2/auth/admin/login gets, the
// answer is 400 (malformed), 401 (wrong credentials) or 429 (too many
// failures from this address), in the admin error shape, never a 5xx; the
// right password is not among the inputs.
func FuzzAdminLoginBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"username":"admin","password":"wrong-password"}`,
		`{"username":"admin","password":"` + strings.Repeat("x", 100) + `"}`,
		`{"username":"","password":""}`, `{"username":"admin"}`, `{"username":1,"password":true}`,
		`{"username":"admin","password":"x","x":1}`, `{"username":"admin","password":"x"}{}`,
		`{"username":"\u0000","password":"\ud800"}`, strings.Repeat(`{"a":`, 100),
	} {
		f.Add([]byte(s))
	}
	env := fuzzEdge(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.Contains(body, []byte(edgetest.AdminPassword)) {
			t.Skip("the right password")
		}
		rec := fuzzServe(env, http.MethodPost, "/api/v2/auth/admin/login", body, nil)
		switch rec.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests:
		default:
			t.Fatalf("property 13 (admin login body fuzz: 400/401/429 only): body %q: %d %s", body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Body.String(), `{"error":{"code":"`) || !strings.Contains(rec.Body.String(), `"success":false`) {
			t.Fatalf("body %q: answer not in the admin error shape: %s", body, rec.Body)
		}
	})
}
