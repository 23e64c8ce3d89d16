// Package consoletest drives the web console in Debian's chromium
// (headless) for browser tests, of the console over a fake backend
// (edge/console) and of relay's real server (edge): every test fails on a
// JavaScript exception, a console error (CSP violations and failed loads
// are reported as such), or a request to any host but the server tested.
package consoletest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser tests: the console driven by Debian's chromium, headless. Every
// test fails on a JavaScript exception, a console error (CSP violations and
// failed loads are reported as such), or a request to any host but the
// test server. Screenshots go to $RELAY_ARTIFACTS/console when set, else to
// a temporary directory (named in the log); none is committed.

// ChromiumPath finds chromium; without it the test fails in CI and skips
// elsewhere.
func ChromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RELAY_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing: .ci/run installs it with apt-get install chromium")
	}
	t.Skip("chromium is missing (apt-get install chromium); the browser tests skip locally and fail in CI")
	return ""
}

// Harness is one browser tab watched for problems.
type Harness struct {
	T      *testing.T
	Ctx    context.Context
	Base   string // the test server's URL
	host   string
	shots  string
	mu     sync.Mutex // protects problems and marks
	issues []string
	marks  map[string]bool
	// allowed are messages a test expects (a refused form answers 400,
	// which the browser reports as a failed load).
	allowed []string
}

// Allow lets a message containing text through until the test ends.
func (h *Harness) Allow(text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowed = append(h.allowed, text)
}

// New opens a tab on a test server serving handler, watched until t ends.
func New(t *testing.T, handler http.Handler) *Harness {
	t.Helper()
	exe := ChromiumPath(t)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)

	shots := os.Getenv("RELAY_ARTIFACTS")
	if shots != "" {
		shots = filepath.Join(shots, "console")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		shots = t.TempDir()
	}
	t.Logf("screenshots in %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	h := &Harness{T: t, Ctx: ctx, Base: srv.URL, host: u.Host, shots: shots, marks: map[string]bool{}}

	// Start the browser, then watch everything the tab does.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	console := chromedp.Console(ctx)
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if strings.HasPrefix(m.Text, "harness-mark ") {
				h.mu.Lock()
				h.marks[strings.TrimPrefix(m.Text, "harness-mark ")] = true
				h.mu.Unlock()
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				h.Problem("%s (%s:%d)", m, m.URL, m.Line)
			}
		}
	}()
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			r, err := url.Parse(ev.Request.URL)
			if err != nil {
				h.Problem("unparsable request URL %q", ev.Request.URL)
				continue
			}
			if (r.Scheme == "http" || r.Scheme == "https" || r.Scheme == "ws" || r.Scheme == "wss") && r.Host != h.host {
				h.Problem("request to another host: %s", ev.Request.URL)
			}
		}
	}()
	// Any problem fails the test, checked after the test's last step.
	t.Cleanup(func() { h.Check() })
	return h
}

// Problem records a problem that fails the test (unless allowed).
func (h *Harness) Problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	for _, a := range h.allowed {
		if strings.Contains(msg, a) {
			return
		}
	}
	h.issues = append(h.issues, msg)
}

// Sync waits until the watchers have seen every event sent before now: the
// browser sends events in order, so once a mark logged now has come
// through, so has everything before it.
func (h *Harness) Sync() {
	h.T.Helper()
	mark := fmt.Sprintf("%d", time.Now().UnixNano())
	if err := chromedp.Do(h.Ctx, chromedp.Evaluate[chromedp.Void](`console.info("harness-mark `+mark+`")`)); err != nil {
		// A page with JavaScript off cannot log: fall back to a round trip.
		h.T.Logf("sync: %v", err)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		seen := h.marks[mark]
		h.mu.Unlock()
		if seen {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.T.Error("the console watcher never saw the sync mark")
}

// Check fails the test on every problem seen so far.
func (h *Harness) Check() {
	h.T.Helper()
	h.Sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.issues {
		h.T.Errorf("browser: %s", p)
	}
	h.issues = nil
}

// Do runs steps, failing the test on an error.
func (h *Harness) Do(steps ...chromedp.Action[chromedp.Void]) {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(h.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		h.T.Fatalf("browser: %v", err)
	}
}

// Run runs a and returns its value, failing the test on an error.
func Run[T any](h *Harness, a chromedp.Action[T]) T {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(h.Ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		h.T.Fatalf("browser: %v", err)
	}
	return v
}

// Submit clicks sel and waits for the page it leads to.
func (h *Harness) Submit(sel string) {
	h.T.Helper()
	if _, err := chromedp.RunResponse(h.Ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		h.T.Fatalf("browser: click %s: %v", sel, err)
	}
}

// Location is the path and query of the page shown.
func (h *Harness) Location() string {
	h.T.Helper()
	return strings.TrimPrefix(Run(h, chromedp.Location()), h.Base)
}

// Text is the text of sel.
func (h *Harness) Text(sel string) string {
	h.T.Helper()
	return Run(h, chromedp.Text(chromedp.CSS(sel)))
}

// Eval evaluates js to a string.
func (h *Harness) Eval(js string) string {
	h.T.Helper()
	return Run(h, chromedp.Evaluate[string](js))
}

// Screenshot writes the page as name.png in Shots.
func (h *Harness) Screenshot(name string) {
	h.T.Helper()
	buf := Run(h, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(h.shots, name+".png"), buf, 0o644); err != nil {
		h.T.Fatal(err)
	}
}

// SignIn signs in on the console's sign-in page.
func (h *Harness) SignIn(username, password string) {
	h.T.Helper()
	h.Do(
		chromedp.Navigate(h.Base+"/console/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	h.Submit(`.login button[type=submit]`)
	if got := h.Location(); got != "/console/" {
		h.T.Fatalf("after signing in the browser is at %s", got)
	}
}

// TakeIssues returns the problems seen so far and forgets them, so the
// check at the end of the test does not fail it (tests of the harness).
func (h *Harness) TakeIssues() []string {
	h.Sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	issues := h.issues
	h.issues = nil
	return issues
}

// Shots is the directory screenshots are written to.
func (h *Harness) Shots() string { return h.shots }
