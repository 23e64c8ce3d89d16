package edge_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

const unauthorizedBody = `{"error":{"code":"unauthorized","message":"invalid or expired token"},"success":false}`

func TestLoginAndMe(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		r := env.Do(t, http.MethodGet, "/api/v2/auth/me", tok, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"username":"admin"`) {
			t.Fatalf("me: %d %s", r.Status, r.Body)
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		wrongPass := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "nope-nope"})
		wrongUser := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "root", "password": edgetest.AdminPassword})
		if wrongPass.Status != http.StatusUnauthorized || wrongUser.Status != http.StatusUnauthorized {
			t.Fatalf("statuses %d %d", wrongPass.Status, wrongUser.Status)
		}
		if !bytes.Equal(wrongPass.Body, wrongUser.Body) {
			t.Fatalf("bodies differ:\n%s\n%s", wrongPass.Body, wrongUser.Body)
		}
	})
}

// The per-address bound still holds: after LoginFailures failures from one
// address, even the right password waits for the window to pass when the
// client holds no device cookie.
func TestLoginThrottledAfterRepeatedFailures(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3 }})
		bad := map[string]string{"username": "admin", "password": "wrong-password"}
		for range 3 {
			if r := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", bad); r.Status != http.StatusUnauthorized {
				t.Fatalf("want 401, got %d", r.Status)
			}
		}
		r := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": edgetest.AdminPassword})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("want 429 with Retry-After, got %d %v %s", r.Status, r.Header, r.Body)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 14*60 || ra > 15*60 {
			t.Fatalf("Retry-After %q, want the rest of the 15-minute window", r.Header.Get("Retry-After"))
		}
	})
}

// One address spraying many usernames (known or not) is bounded by the
// per-address count, and the throttled answer is the same for a known and
// an unknown username.
func TestLoginPerAddressBoundsUsernameSpraying(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3 }})
		checked := 0
		for i := range 20 {
			r := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": fmt.Sprintf("user%d", i), "password": "wrong-password"})
			if r.Status == http.StatusUnauthorized {
				checked++
			} else if r.Status != http.StatusTooManyRequests {
				t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
			}
		}
		if checked != 3 {
			t.Fatalf("%d of 20 sprayed usernames reached the password check from one address, want 3", checked)
		}
		known := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "wrong-password"})
		unknown := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "root", "password": "wrong-password"})
		if known.Status != http.StatusTooManyRequests || !bytes.Equal(known.Body, unknown.Body) {
			t.Fatalf("throttled answers differ: %d %s / %d %s", known.Status, known.Body, unknown.Status, unknown.Body)
		}
	})
}

// A successful login is not a failure: an admin who logs in often from one
// address (a script without a device cookie) is never throttled by it.
func TestLoginSuccessIsNotCountedAsFailure(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3; c.LoginUserFailures = 3 }})
		for range 2 {
			env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "wrong-password"})
		}
		for i := range 5 {
			if r := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": edgetest.AdminPassword}); r.Status != http.StatusOK {
				t.Fatalf("login %d after 2 failures: %d %s", i, r.Status, r.Body)
			}
		}
	})
}

func TestMalformedLoginBodies(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		for name, body := range map[string]string{
			"empty":        ``,
			"not json":     `username=admin`,
			"array":        `[]`,
			"wrong type":   `{"username":1,"password":"x"}`,
			"missing user": `{"password":"x"}`,
			"missing pass": `{"username":"admin"}`,
			"unknown":      `{"username":"admin","password":"x","extra":true}`,
			"trailing":     `{"username":"admin","password":"x"} {}`,
			"truncated":    `{"username":"adm`,
			"deep":         strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		} {
			t.Run(name, func(t *testing.T) {
				r := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", body)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("want 400, got %d %s", r.Status, r.Body)
				}
				if !strings.HasPrefix(string(r.Body), `{"error":{"code":"validation_error"`) || !strings.Contains(string(r.Body), `"success":false`) {
					t.Fatalf("not the admin error shape: %s", r.Body)
				}
			})
		}
	})
}

func TestBadTokensGetOneIdenticalAnswer(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		var secret []byte
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { secret = c.JWTSecret }})
		good := env.AdminToken(t)
		sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
			s, err := jwt.NewWithClaims(m, claims).SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		now := time.Now()
		valid := func() jwt.MapClaims {
			return jwt.MapClaims{"iss": "relay", "sub": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": 1}
		}
		expired := valid()
		expired["exp"] = now.Add(-time.Hour).Unix()
		noExp := valid()
		delete(noExp, "exp")
		otherIssuer := valid()
		otherIssuer["iss"] = "someone"
		tokens := map[string]string{
			"missing":      "",
			"garbage":      "not.a.token",
			"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()),
			"HS512":        sign(jwt.SigningMethodHS512, secret, valid()),
			"wrong secret": sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid()),
			"expired":      sign(jwt.SigningMethodHS256, secret, expired),
			"no exp":       sign(jwt.SigningMethodHS256, secret, noExp),
			"other issuer": sign(jwt.SigningMethodHS256, secret, otherIssuer),
			"tampered":     tamper(good),
		}
		for name, tok := range tokens {
			t.Run(name, func(t *testing.T) {
				r := env.Do(t, http.MethodGet, "/api/v2/auth/me", tok, nil)
				if r.Status != http.StatusUnauthorized || strings.TrimSpace(string(r.Body)) != unauthorizedBody {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
			})
		}
		// The forged-but-valid claims of this test are accepted when signed
		// right, so the cases above fail for the reason they name.
		if r := env.Do(t, http.MethodGet, "/api/v2/auth/me", sign(jwt.SigningMethodHS256, secret, valid()), nil); r.Status != http.StatusOK {
			t.Fatalf("control token refused: %d %s", r.Status, r.Body)
		}
	})
}

func TestChangePasswordVoidsEarlierTokens(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		old := env.AdminToken(t)
		r := env.Do(t, http.MethodPost, "/api/v2/auth/change-password", old, map[string]string{"currentPassword": "wrong-one", "newPassword": "a-new-password"})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("wrong current password: %d %s", r.Status, r.Body)
		}
		r = env.Do(t, http.MethodPost, "/api/v2/auth/change-password", old, map[string]string{"currentPassword": edgetest.AdminPassword, "newPassword": "a-new-password"})
		if r.Status != http.StatusOK {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		var out struct {
			Data struct{ Token string } `json:"data"`
		}
		r.JSON(t, &out)
		if got := env.Do(t, http.MethodGet, "/api/v2/auth/me", old, nil); got.Status != http.StatusUnauthorized || strings.TrimSpace(string(got.Body)) != unauthorizedBody {
			t.Fatalf("old token still works: %d %s", got.Status, got.Body)
		}
		if got := env.Do(t, http.MethodGet, "/api/v2/auth/me", out.Data.Token, nil); got.Status != http.StatusOK {
			t.Fatalf("new token refused: %d %s", got.Status, got.Body)
		}
		if got := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": edgetest.AdminPassword}); got.Status != http.StatusUnauthorized {
			t.Fatalf("old password still logs in: %d", got.Status)
		}
		if got := env.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "a-new-password"}); got.Status != http.StatusOK {
			t.Fatalf("new password refused: %d", got.Status)
		}
		// The read model in Redis holds the new hash too.
		a, err := env.Store.Admin(t.Context(), "admin")
		if err != nil || a.PasswordSeq <= 1 {
			t.Fatalf("projection: %+v %v", a, err)
		}
	})
}

func TestUnknownRoutesAnswerInTheirDialect(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		// Unknown admin routes are not revealed without a token.
		if r := env.Do(t, http.MethodGet, "/api/v2/nothing", "", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("/api/v2/nothing without token: %d %s", r.Status, r.Body)
		}
		if r := env.Do(t, http.MethodGet, "/api/v2/nothing", env.AdminToken(t), nil); r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), `"code":"not_found"`) {
			t.Errorf("/api/v2/nothing with token: %d %s", r.Status, r.Body)
		}
		for path, want := range map[string]string{
			"/api/v1/nothing":    `"type":"error"`,
			"/openai/nothing":    `"error":{"code":"not_found"`,
			"/claude/v1/nothing": `"type":"not_found_error"`,
		} {
			r := env.Do(t, http.MethodGet, path, "", nil)
			if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), want) {
				t.Errorf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	})
}

func TestHealthReadyMetrics(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.MetricsToken = "scrape-token" }})
		if r := env.Do(t, http.MethodGet, "/health", "", nil); r.Status != http.StatusOK {
			t.Fatalf("health %d", r.Status)
		}
		if r := env.Do(t, http.MethodGet, "/ready", "", nil); r.Status != http.StatusOK {
			t.Fatalf("ready %d %s", r.Status, r.Body)
		}
		env.Do(t, http.MethodGet, "/health", "", nil)
		// The projector counts an event just after its checkpoint moves,
		// so poll rather than scrape once.
		wants := []string{`relay_http_requests_total{method="GET",route="/health",status="200"}`, "relay_events_published_total", "relay_projection_events_applied_total"}
		edgetest.WaitFor(t, 5*time.Second, func() bool {
			r := env.Do(t, http.MethodGet, "/metrics", "scrape-token", nil)
			for _, want := range wants {
				if !strings.Contains(string(r.Body), want) {
					return false
				}
			}
			return true
		})
	})
}

// tamper changes one character in the middle of a token's signature. (The
// last characters of a base64url signature carry padding bits: changing
// them may leave the decoded signature as it was.)
func tamper(token string) string {
	i := strings.LastIndex(token, ".") + 10
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}
