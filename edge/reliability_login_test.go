package edge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

const loginPath = "/api/v2/auth/admin/login"

// loginResult is one login attempt's answer.
type loginResult struct {
	status     int
	retryAfter string
	device     *http.Cookie // the relay_device cookie set, if any
	body       string
}

// tryLogin posts a login through client (nil: the test server's) with
// set shaping the request (headers, cookies).
func tryLogin(t *testing.T, env *edgetest.Env, client *http.Client, user, pass string, set func(*http.Request)) loginResult {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	req, err := http.NewRequest(http.MethodPost, env.HTTP.URL+loginPath, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if set != nil {
		set(req)
	}
	if client == nil {
		client = env.HTTP.Client()
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := loginResult{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
	for _, c := range resp.Cookies() {
		if c.Name == "relay_device" {
			r.device = c
		}
	}
	return r
}

func withHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// X-Forwarded-For names the counted address only when the connection
// comes from TRUSTED_PROXIES; then the right-most address not trusted
// counts, so a client cannot dodge by prepending addresses. X-Real-IP is
// never read. (Without TRUSTED_PROXIES the edge already ignored both;
// these rows keep it so.)
func TestReliabilityLoginThrottleIgnoresForwardedFor(t *testing.T) {
	cases := []struct {
		name     string
		trusted  []netip.Prefix
		honoured bool
	}{
		{name: "TRUSTED_PROXIES unset"},
		{name: "peer not a trusted proxy", trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{name: "peer trusted", trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, honoured: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3; c.TrustedProxies = tc.trusted }})
				// Distinct unknown usernames: only the address bound can
				// refuse these.
				n := 0
				guess := func(set func(*http.Request)) int {
					n++
					return tryLogin(t, env, nil, fmt.Sprintf("nobody%d", n), "wrong-password", set).status
				}
				for range 3 {
					if got := guess(withHeader("X-Forwarded-For", "198.51.100.1")); got != http.StatusUnauthorized {
						t.Fatalf("failed login: %d", got)
					}
				}
				if got := guess(withHeader("X-Forwarded-For", "198.51.100.1")); got != http.StatusTooManyRequests {
					t.Fatalf("throttle not reached: %d", got)
				}
				// Another claimed address gets through only when the
				// proxy is trusted.
				want := http.StatusTooManyRequests
				if tc.honoured {
					want = http.StatusUnauthorized
				}
				if got := guess(withHeader("X-Forwarded-For", "198.51.100.2")); got != want {
					t.Errorf("guess claiming another address in X-Forwarded-For: %d, want %d", got, want)
				}
				// Prepending addresses or sending X-Real-IP never dodges.
				if tc.honoured {
					if got := guess(withHeader("X-Forwarded-For", "192.0.2.77, 198.51.100.1")); got != http.StatusTooManyRequests {
						t.Errorf("forged left-most X-Forwarded-For entry dodged the throttle: %d", got)
					}
				} else {
					for i := range 5 {
						if got := guess(withHeader("X-Real-Ip", fmt.Sprintf("203.0.113.%d", i+1))); got != http.StatusTooManyRequests {
							t.Errorf("X-Real-IP dodged the throttle: %d", got)
						}
					}
				}
			})
		})
	}
}
