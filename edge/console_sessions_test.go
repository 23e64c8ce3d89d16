package edge_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"relay/edge/console"
	"relay/edge/edgetest"
	"relay/store/redistest"
)

// consoleClient is a browser without JavaScript: a cookie jar that does
// not follow redirects, so each answer can be checked.
type consoleClient struct {
	t    *testing.T
	env  *edgetest.Env
	base string // the edge's URL
	http *http.Client
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newConsoleClient(t *testing.T, env *edgetest.Env) *consoleClient {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &consoleClient{t: t, env: env, base: env.HTTP.URL, http: c}
}

func (c *consoleClient) get(path string) (int, string, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (c *consoleClient) csrf(path string) string {
	c.t.Helper()
	_, _, body := c.get(path)
	m := consoleCSRF.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (c *consoleClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func (c *consoleClient) signIn(password string) {
	c.t.Helper()
	tok := c.csrf("/console/login")
	status, loc := c.post("/console/login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {password}, "next": {"/console/"}})
	if status != http.StatusSeeOther || loc != "/console/" {
		c.t.Fatalf("sign in: %d to %q", status, loc)
	}
}

// open reports whether the console lets this browser in.
func (c *consoleClient) open() bool {
	c.t.Helper()
	status, loc, _ := c.get("/console/")
	switch {
	case status == http.StatusOK:
		return true
	case (status == http.StatusFound || status == http.StatusSeeOther) && strings.HasPrefix(loc, "/console/login"):
		return false
	}
	c.t.Fatalf("GET /console/: %d to %q", status, loc)
	return false
}

// A password change through the REST API ends every console session.
func TestConsoleSessionsEndOnRESTPasswordChange(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	browsers := []*consoleClient{newConsoleClient(t, env), newConsoleClient(t, env)}
	for _, b := range browsers {
		b.signIn(edgetest.AdminPassword)
		if !b.open() {
			t.Fatal("signed in, the console is closed")
		}
	}
	token := env.AdminToken(t)
	r := env.Do(t, http.MethodPost, "/api/v2/auth/change-password", token, map[string]string{"currentPassword": edgetest.AdminPassword, "newPassword": "a-new-password-42"})
	if r.Status != http.StatusOK {
		t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	for i, b := range browsers {
		if b.open() {
			t.Errorf("browser %d still in the console after the password changed", i)
		}
	}
	browsers[0].signIn("a-new-password-42")
	if !browsers[0].open() {
		t.Fatal("the new password does not open the console")
	}
}

// Signing out of the console closes that session on every edge (the
// record is in Redis), not only in the browser that signed out.
func TestConsoleSignOutVoidsACopiedCookie(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	b := newConsoleClient(t, env)
	b.signIn(edgetest.AdminPassword)
	u, _ := url.Parse(env.HTTP.URL + "/console/")
	copied := newConsoleClient(t, env)
	copied.http.Jar.SetCookies(u, b.http.Jar.Cookies(u))
	if !copied.open() {
		t.Fatal("the copied cookie does not open the console")
	}
	if status, loc := b.post("/console/logout", url.Values{"csrf": {b.csrf("/console/settings")}}); status != http.StatusSeeOther || loc != "/console/login?out=1" {
		t.Fatalf("sign out: %d to %q", status, loc)
	}
	if copied.open() {
		t.Fatal("a copy of the signed-out session still opens the console")
	}
}

// The console's writes are audited like the REST API's: the admin is the
// actor, and the REST audit log lists them.
func TestConsoleWritesAppearInRESTAudit(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	b := newConsoleClient(t, env)
	b.signIn(edgetest.AdminPassword)
	form := url.Values{"csrf": {b.csrf("/console/keys/new")}, "name": {"audited from the console"}, "permissions": {"all"},
		"isActive": {"on"}, "expiry": {"none"}, "activationUnit": {"days"}}
	status, loc := b.post("/console/keys/new", form)
	if status != http.StatusCreated {
		t.Fatalf("create key: %d to %q", status, loc)
	}
	token := env.AdminToken(t)
	r := env.Do(t, http.MethodGet, "/api/v2/audit?type=key.created", token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	var out struct {
		Data struct {
			Items []struct {
				Actor     string `json:"actor"`
				RequestID string `json:"requestId"`
				Data      struct {
					Name string `json:"name"`
				} `json:"data"`
			} `json:"items"`
		} `json:"data"`
	}
	r.JSON(t, &out)
	if len(out.Data.Items) != 1 {
		t.Fatalf("audit lists %d key creations, want 1: %s", len(out.Data.Items), r.Body)
	}
	e := out.Data.Items[0]
	if e.Actor != "admin" || e.Data.Name != "audited from the console" || e.RequestID == "" {
		t.Fatalf("audit entry %+v, want the admin creating the console's key with a request id", e)
	}
}

// Each part of the edge answers with its own Content-Security-Policy: the
// console's on every console answer (pages, assets, redirects, not found),
// the docs' on /docs, the API's elsewhere.
func TestConsoleCSPWinsOnItsRoutesOnly(t *testing.T) {
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	c := newConsoleClient(t, env)
	_, _, login := c.get("/console/login")
	asset := regexp.MustCompile(`/console/static/[0-9a-f]+/[a-z]+\.css`).FindString(login)
	if asset == "" {
		t.Fatal("no stylesheet on the sign-in page")
	}
	for _, tc := range []struct{ path, want string }{
		{"/console/login", console.CSP},
		{"/console/", console.CSP},
		{"/console", console.CSP},
		{"/console/no-such-page", console.CSP},
		{asset, console.CSP},
		{"/docs", "script-src 'self'; style-src 'self' 'unsafe-inline'"},
		{"/health", "default-src 'none'; frame-ancestors 'none'"},
		{"/", "default-src 'none'; frame-ancestors 'none'"},
	} {
		resp, err := c.http.Get(env.HTTP.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Values("Content-Security-Policy")
		if len(got) != 1 || !strings.Contains(got[0], tc.want) {
			t.Errorf("%s: CSP %q, want one containing %q", tc.path, got, tc.want)
		}
	}
	if _, loc, _ := c.get("/"); loc != "/console/" {
		t.Errorf("GET / redirects to %q, want /console/", loc)
	}
}
