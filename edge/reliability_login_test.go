package edge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

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

func withDeviceCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "relay_device", Value: v}) }
}

func withHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// clientFrom returns a client whose connections come from the local
// address ip (any of 127.0.0.0/8 reaches the test server on Linux).
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Issue 13 (Medium), the reverse-proxy lockout: behind a proxy every
// client has the proxy's address (TRUSTED_PROXIES unset, all requests from
// 127.0.0.1). An attacker's 50 wrong passwords throttle that address and
// the admin username, yet the real admin, whose browser (cookie) or script
// (X-Relay-Device) signed in before, still logs in. Before device cookies
// the right password got 429 for 15 minutes.
func TestLoginDeviceCookieKeepsAdminInBehindProxy(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		first := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, nil)
		if first.status != http.StatusOK || first.device == nil {
			t.Fatalf("first login: %d, device cookie %v", first.status, first.device)
		}
		checked := 0
		for range 50 {
			switch r := tryLogin(t, env, nil, "admin", "attacker-guess", nil); r.status {
			case http.StatusUnauthorized:
				checked++
			case http.StatusTooManyRequests:
				if r.retryAfter == "" {
					t.Fatal("429 without Retry-After")
				}
			default:
				t.Fatalf("attacker guess: %d %s", r.status, r.body)
			}
		}
		if want := edge.Defaults().LoginFailures; checked != want {
			t.Errorf("attacker's guesses that reached the password check: %d of 50, want %d (the per-address bound)", checked, want)
		}
		// A client that never signed in is throttled like the attacker:
		// only untrusted clients are.
		if r := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, nil); r.status != http.StatusTooManyRequests {
			t.Errorf("right password without a device cookie: %d, want 429", r.status)
		}
		for name, set := range map[string]func(*http.Request){
			"cookie":         withDeviceCookie(first.device.Value),
			"X-Relay-Device": withHeader("X-Relay-Device", first.device.Value),
		} {
			r := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, set)
			if r.status != http.StatusOK {
				t.Errorf("real admin with a device %s after 50 attacker guesses: %d %s, want 200", name, r.status, r.body)
				continue
			}
			if r.device == nil || r.device.Value == first.device.Value {
				t.Errorf("login with a device %s: want a fresh device cookie, got %v", name, r.device)
			}
		}
		// The device's own typos are counted by the device only: it keeps
		// its right to try after one.
		if r := tryLogin(t, env, nil, "admin", "typo-typo", withDeviceCookie(first.device.Value)); r.status != http.StatusUnauthorized {
			t.Errorf("device typo: %d, want 401", r.status)
		}
		if r := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, withDeviceCookie(first.device.Value)); r.status != http.StatusOK {
			t.Errorf("device after a typo: %d, want 200", r.status)
		}
	})
}

// Issue 13 (Medium), spreading guesses over addresses: 100 guesses at one
// username from 25 addresses (4 each, under the per-address bound of 5)
// used to all reach the password check. Now exactly LoginUserFailures (10)
// do, sent concurrently, whether the addresses are the connections' own or
// come through a trusted proxy's X-Forwarded-For.
func TestLoginGuessesAcrossAddressesBoundedPerUsername(t *testing.T) {
	const addrs, guesses, workers = 25, 100, 8
	cases := []struct {
		name    string
		trusted []netip.Prefix
		shape   func(t *testing.T, i int) (*http.Client, func(*http.Request))
	}{
		{name: "source addresses", shape: func(t *testing.T, i int) (*http.Client, func(*http.Request)) {
			return clientFrom(t, fmt.Sprintf("127.0.0.%d", 2+i%addrs)), nil
		}},
		{name: "X-Forwarded-For via trusted proxy", trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			shape: func(t *testing.T, i int) (*http.Client, func(*http.Request)) {
				return nil, withHeader("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", 1+i%addrs))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.TrustedProxies = tc.trusted }})
				clients := make([]*http.Client, guesses)
				sets := make([]func(*http.Request), guesses)
				for i := range guesses {
					if i < addrs {
						clients[i], sets[i] = tc.shape(t, i)
					} else {
						clients[i], sets[i] = clients[i%addrs], sets[i%addrs]
					}
				}
				var mu sync.Mutex // protects statuses
				statuses := map[int]int{}
				next := make(chan int)
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for i := range next {
							r := tryLogin(t, env, clients[i], "admin", fmt.Sprintf("guess-%03d", i), sets[i])
							mu.Lock()
							statuses[r.status]++
							mu.Unlock()
						}
					})
				}
				for i := range guesses {
					next <- i
				}
				close(next)
				wg.Wait()
				want := edge.Defaults().LoginUserFailures
				if statuses[http.StatusUnauthorized] != want || statuses[http.StatusTooManyRequests] != guesses-want {
					t.Fatalf("%d guesses from %d addresses: answers %v; want exactly %d through to the password check (401), the rest 429", guesses, addrs, statuses, want)
				}
			})
		})
	}
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

// An IPv6 client counts by its /64: addresses within one cost nothing to
// change, so each would otherwise be a fresh allowance.
func TestLoginThrottleCountsIPv6ByItsSlash64(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) {
			c.LoginFailures = 3
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}})
		n := 0
		guess := func(from string) int {
			n++
			return tryLogin(t, env, nil, fmt.Sprintf("nobody%d", n), "wrong-password", withHeader("X-Forwarded-For", from)).status
		}
		for i := range 3 {
			if got := guess(fmt.Sprintf("2001:db8::%x", i+1)); got != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, got)
			}
		}
		if got := guess("2001:db8::ffff:1"); got != http.StatusTooManyRequests {
			t.Errorf("another address of the same /64: %d, want 429", got)
		}
		if got := guess("2001:db8:0:1::1"); got != http.StatusUnauthorized {
			t.Errorf("an address of another /64: %d, want 401", got)
		}
	})
}

// A device cookie gives its privilege only when relay signed it, it has
// not expired, it names the username logging in, and it has not failed
// LoginDeviceFailures times in the window. Each case sends the right
// password from an address that is throttled: a cookie that counts for
// nothing gets 429.
func TestLoginDeviceCookieForgedExpiredOrOtherUserGivesNoPrivilege(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.LoginFailures = 3 }})
		good := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, nil).device
		if good == nil {
			t.Fatal("no device cookie from a successful login")
		}
		for range 3 {
			tryLogin(t, env, nil, "admin", "wrong-password", nil)
		}
		parts := strings.Split(good.Value, ".")
		rejoin := func(i int, v string) string {
			p := append([]string(nil), parts...)
			p[i] = v
			return strings.Join(p, ".")
		}
		// A device that failed its bound loses its privilege too.
		locked := env.Edge.SignDeviceForTest("admin", time.Now().Add(time.Hour))
		for range edge.Defaults().LoginDeviceFailures {
			if r := tryLogin(t, env, nil, "admin", "wrong-password", withDeviceCookie(locked)); r.status != http.StatusUnauthorized {
				t.Fatalf("device guess: %d, want 401 (counted by the device)", r.status)
			}
		}
		cases := []struct{ name, user, value string }{
			{"none", "admin", ""},
			{"garbage", "admin", "not-a-device-cookie"},
			{"tampered mac", "admin", rejoin(4, flip(parts[4]))},
			{"tampered expiry", "admin", rejoin(3, "99999999999")},
			{"tampered username", "admin", rejoin(1, "cm9vdA")},
			{"expired", "admin", env.Edge.SignDeviceForTest("admin", time.Now().Add(-time.Second))},
			{"other user's", "admin", env.Edge.SignDeviceForTest("root", time.Now().Add(time.Hour))},
			{"admin's for another username", "root", good.Value},
			{"past its failure bound", "admin", locked},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				set := func(*http.Request) {}
				if tc.value != "" {
					set = withDeviceCookie(tc.value)
				}
				if r := tryLogin(t, env, nil, tc.user, edgetest.AdminPassword, set); r.status != http.StatusTooManyRequests {
					t.Errorf("right password with a %s device cookie from a throttled address: %d %s, want 429", tc.name, r.status, r.body)
				}
			})
		}
		// The control: the genuine cookie passes, so the cases above fail
		// for the reason they name.
		if r := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, withDeviceCookie(good.Value)); r.status != http.StatusOK {
			t.Fatalf("genuine device cookie: %d %s", r.status, r.body)
		}
	})
}

// The device cookie is HttpOnly, SameSite=Strict, for the whole site, kept
// a year, and Secure when the client came over TLS (directly, or per
// X-Forwarded-Proto from a trusted proxy only). A failed login sets none.
func TestLoginDeviceCookieAttributes(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}})
		if r := tryLogin(t, env, nil, "admin", "wrong-password", nil); r.device != nil {
			t.Fatalf("failed login set a device cookie: %v", r.device)
		}
		c := tryLogin(t, env, nil, "admin", edgetest.AdminPassword, nil).device
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure ||
			c.MaxAge < 364*24*3600 || c.MaxAge > 366*24*3600 {
			t.Fatalf("device cookie over plain HTTP: %+v", c)
		}
		c = tryLogin(t, env, nil, "admin", edgetest.AdminPassword, withHeader("X-Forwarded-Proto", "https")).device
		if c == nil || !c.Secure {
			t.Fatalf("device cookie behind a trusted TLS proxy is not Secure: %+v", c)
		}
		c = tryLogin(t, env, clientFrom(t, "127.0.0.2"), "admin", edgetest.AdminPassword, withHeader("X-Forwarded-Proto", "https")).device
		if c == nil || c.Secure {
			t.Fatalf("an untrusted peer's X-Forwarded-Proto made the cookie Secure: %+v", c)
		}
	})
}

// flip changes one character in the middle of a base64url string (the last
// characters may carry only padding bits).
func flip(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
