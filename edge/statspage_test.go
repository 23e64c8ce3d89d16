package edge_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// statsClient is a browser-like client of the key holder's page: it keeps
// cookies, never follows redirects, and sends the form as a browser does.
type statsClient struct {
	t   *testing.T
	env *edgetest.Env
	c   *http.Client
}

func newStatsClient(t *testing.T, env *edgetest.Env) *statsClient {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &statsClient{t: t, env: env, c: c}
}

var statsCSRFRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (s *statsClient) do(req *http.Request) (int, http.Header, string) {
	s.t.Helper()
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// look shows the form, then posts secret with the form's token.
func (s *statsClient) look(secret string) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.env.HTTP.URL+"/stats", nil)
	code, _, body := s.do(req)
	m := statsCSRFRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		s.t.Fatalf("GET /stats: %d, no form\n%s", code, body)
	}
	form := url.Values{"csrf": {m[1]}, "apiKey": {secret}}
	req, _ = http.NewRequest(http.MethodPost, s.env.HTTP.URL+"/stats", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.env.HTTP.URL)
	return s.do(req)
}

// The key holder's page on the real edge: the key's requests of today and
// its nearest limit, as the admin action reads them; one answer for every
// bad key; the key never in the page but masked.
func TestStatsPageOnTheEdge(t *testing.T) {
	e := newRelayEnvWith(t, redistest.Embedded(t), 1, edgetest.Options{Edge: func(c *edge.Config) {
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.1/32"))
	}})
	e.UpdateKey(t, "key1", `{"name":"alice <laptop>","rateLimitWindow":60,"rateLimitRequests":100,"dailyCostLimitMicros":50000000}`)
	e.up.SetDefault(upstreamtest.Reply{Text: "ok", Usage: upstreamtest.Usage{InputTokens: 1200, OutputTokens: 300}})
	for i := range 3 {
		resp, got := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("relay %d: %d %s", i, resp.StatusCode, got)
		}
	}
	e.WaitUsage(t, 3)
	e.WaitUsageProjected(t)

	s := newStatsClient(t, e.Env)
	code, hdr, body := s.look(e.key)
	if code != http.StatusOK {
		t.Fatalf("POST /stats: %d\n%s", code, body)
	}
	if hdr.Get("Content-Security-Policy") == "" || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v, want the console's CSP and no-store", hdr)
	}
	for _, want := range []string{
		"alice &lt;laptop&gt;",
		`<th scope="row">Requests</th><td class="num" title="3">3</td>`,
		"Requests in window", "3 / 100",
		"Nearest limit: Requests in window, 3 / 100",
		"claude-sonnet-4-5-20250929",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, e.key[3:]) || strings.Contains(body, e.key[len(e.key)-12:]) {
		t.Error("the page holds the key")
	}
	u, _ := url.Parse(e.HTTP.URL + "/stats")
	for _, c := range s.c.Jar.Cookies(u) {
		if strings.Contains(c.Value, e.key[3:12]) {
			t.Errorf("cookie %s holds the key", c.Name)
		}
	}

	// Unknown, disabled, deleted and malformed keys: one answer.
	disabled := e.CreateKey(t, events.Key{ID: "key2", Name: "off", IsActive: true})
	e.UpdateKey(t, "key2", `{"isActive":false}`)
	deleted := e.CreateKey(t, events.Key{ID: "key3", Name: "gone", IsActive: true})
	e.DeleteKey(t, "key3")
	unknown := "cr_" + strings.Repeat("0", len(e.key)-3)
	var first string
	for name, secret := range map[string]string{"unknown": unknown, "disabled": disabled, "deleted": deleted, "malformed": "hello"} {
		code, _, body := s.look(secret)
		if code != http.StatusUnauthorized {
			t.Fatalf("%s key: %d, want 401\n%s", name, code, body)
		}
		if first == "" {
			first = body
		} else if body != first {
			t.Errorf("%s key: the answer differs from another bad key's", name)
		}
	}

	// Behind a trusted TLS proxy the form's cookie is Secure; over plain
	// HTTP it cannot be.
	for proto, want := range map[string]bool{"https": true, "": false} {
		req, _ := http.NewRequest(http.MethodGet, e.HTTP.URL+"/stats", nil)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(ck, "relay_stats_csrf=") || strings.Contains(ck, "; Secure") != want {
			t.Errorf("X-Forwarded-Proto %q: Set-Cookie %q, want Secure=%v", proto, ck, want)
		}
	}

	// A form from another origin never reaches the action.
	req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/stats", strings.NewReader(url.Values{"apiKey": {e.key}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if code, _, _ := s.do(req); code != http.StatusForbidden {
		t.Errorf("a foreign form: %d, want 403", code)
	}
}
