package edge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

// Property 15 (addition to TestLoginThrottledAfterRepeatedFailures): the
// failed-login throttle counts per client address, and a client cannot
// choose its address with X-Forwarded-For or X-Real-IP: after the allowed
// failures, a guess that claims another address through those headers,
// sent over the same connection, is throttled too. Otherwise the 5-in-15-
// minutes limit allows unlimited password guessing.
func TestReliabilityLoginThrottleIgnoresForwardedFor(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3 }})
		login := func(hdr, val string) int {
			req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+"/api/v2/auth/admin/login", strings.NewReader(`{"username":"admin","password":"wrong-password"}`))
			req.Header.Set("Content-Type", "application/json")
			if hdr != "" {
				req.Header.Set(hdr, val)
			}
			resp, err := env.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for range 3 {
			if got := login("", ""); got != http.StatusUnauthorized {
				t.Fatalf("failed login: %d", got)
			}
		}
		if got := login("", ""); got != http.StatusTooManyRequests {
			t.Fatalf("throttle not reached: %d", got)
		}
		dodged := 0
		for i := range 10 {
			hdr := "X-Forwarded-For"
			if i%2 == 1 {
				hdr = "X-Real-Ip"
			}
			if login(hdr, fmt.Sprintf("203.0.113.%d", i+1)) != http.StatusTooManyRequests {
				dodged++
			}
		}
		if dodged > 0 {
			t.Errorf("property 15 (login throttle per address cannot be dodged): %d of 10 guesses from a throttled connection got a password check by sending X-Forwarded-For / X-Real-IP (edge uses Echo's RealIP without an IPExtractor, which trusts those headers)", dodged)
		}
	})
}
