package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var consoleLine = regexp.MustCompile(`console: (http://\S+/console/)`)

// `relay serve` (make run) says where the console is, and it is there: the
// sign-in page, under the console's own CSP.
func TestServePrintsWhereTheConsoleIs(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off", "ADMIN_PASSWORD": "console-password", "LOG_LEVEL": "warn"}
	p := startServe(t, env)
	m := consoleLine.FindStringSubmatch(p.stdout.String())
	if m == nil || !strings.HasPrefix(m[1], p.base) {
		t.Fatalf("no console line for %s in the banner:\n%s", p.base, p.stdout.String())
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/console/login") {
		t.Fatalf("GET %s: %d to %q, want the sign-in page", m[1], resp.StatusCode, loc)
	}
	resp, err = client.Get(p.base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("sign-in page: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
