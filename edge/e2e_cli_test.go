//go:build unix

package edge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// These tests drive the real coding agents, unchanged, through an
// in-process relay to the fake upstream: Claude Code and Codex CLI as
// installed by .ci/install-clis (the versions of shared/UPSTREAMS.md).
// They prove what unit tests with hand-made requests cannot: that the
// clients accept relay's answers, that relay recognises them, and that
// their credentials never travel upstream.

// cliTimeout bounds one run of a CLI; a run here takes a few seconds.
const cliTimeout = 120 * time.Second

// installHint is how to get the CLIs.
const installHint = "bash .ci/install-clis (npm install -g --prefix $HOME/.relay-clis @anthropic-ai/claude-code@2.1.328 @openai/codex@0.169.0)"

// findCLI returns the path of CLI name: in $RELAY_CLIS_PREFIX/bin, in
// $HOME/.relay-clis/bin (where .ci/install-clis puts it), else on PATH.
// Without it the test is skipped, or fails in CI.
func findCLI(t *testing.T, name string) string {
	t.Helper()
	var dirs []string
	if p := os.Getenv("RELAY_CLIS_PREFIX"); p != "" {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".relay-clis", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (looked in %v and PATH): the end-to-end tests must run in CI; install it with %s", name, dirs, installHint)
	}
	t.Skipf("%s not installed; install it with %s", name, installHint)
	return ""
}

// cliPATH is the PATH of a CLI's process: the CLI's own directory, node's
// (the npm launchers are node scripts) and the system's.
func cliPATH(bin string) string {
	dirs := []string{filepath.Dir(bin)}
	if node, err := exec.LookPath("node"); err == nil {
		dirs = append(dirs, filepath.Dir(node))
	}
	dirs = append(dirs, "/usr/local/bin", "/usr/bin", "/bin")
	return strings.Join(slices.Compact(dirs), string(os.PathListSeparator))
}

// cliRun is one finished run of a CLI.
type cliRun struct {
	stdout, stderr string
	took           time.Duration
}

// runCLI runs bin with args in dir with exactly env (nothing inherited, so
// no user configuration, credential or proxy setting leaks in), in its own
// process group, killed as a whole at cliTimeout. It fails t unless the
// process exits 0.
func runCLI(t *testing.T, dir string, env []string, bin string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	run := cliRun{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("killed after %v: %w", cliTimeout, err)
		}
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, run.stdout, tail(run.stderr, 4000))
	}
	return run
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// seenRequest is one request a CLI sent to relay.
type seenRequest struct {
	method, path, query string
	header              http.Header
	status              int
	took                time.Duration
}

// clientLog wraps the edge's handler to record what the CLI asks relay and
// what relay answers, including requests that never reach the upstream
// (GET /api/v1/models, refusals).
type clientLog struct {
	next http.Handler
	mu   sync.Mutex // protects reqs
	reqs []seenRequest
}

func (l *clientLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	l.next.ServeHTTP(sw, r)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), sw.status, time.Since(start)})
}

func (l *clientLog) requests() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// statusWriter notes the status; Unwrap keeps Flush reaching the real
// writer through http.ResponseController, as echo flushes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// e2eRelay is a relay for one CLI: edge on the embedded Redis, the fake
// upstream, one account, one key, and a recording front server.
type e2eRelay struct {
	*edgetest.Env
	up      *upstreamtest.Server
	key     string
	account events.Account
	front   *httptest.Server
	log     *clientLog
	answer  string
}

func startE2E(t *testing.T, platform, upstreamKey string, usage upstreamtest.Usage) *e2eRelay {
	t.Helper()
	env := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{})
	up := upstreamtest.New(t)
	answer := "relay-e2e-ok-" + rand.Text()[:12]
	up.SetDefault(upstreamtest.Reply{Text: answer, Usage: usage})
	acct := env.CreateAccount(t, events.Account{ID: "e2e-" + platform, Platform: platform, Name: "e2e", APIURL: up.URL, IsActive: true, Schedulable: true}, upstreamKey)
	key := env.CreateKey(t, events.Key{ID: "e2e-key", Name: "e2e", IsActive: true})
	log := &clientLog{next: env.Edge.Handler()}
	front := httptest.NewServer(log)
	t.Cleanup(front.Close)
	return &e2eRelay{Env: env, up: up, key: key, account: acct, front: front, log: log, answer: answer}
}

// checkUpstreamCredentials asserts that every upstream request carried the
// account's credential in the platform's header and nothing of the
// client's key, in any header or the body.
func (e *e2eRelay) checkUpstreamCredentials(t *testing.T, reqs []upstreamtest.Request, header, want string) {
	t.Helper()
	secret := strings.TrimPrefix(e.key, "cr_") // with or without its prefix
	for _, r := range reqs {
		if got := r.Header.Values(header); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s %s: %s = %q, want %q", r.Method, r.Path, header, got, want)
		}
		for name, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, secret) {
					t.Errorf("upstream %s %s: header %s carries the client's key", r.Method, r.Path, name)
				}
			}
		}
		if bytes.Contains(r.Body, []byte(secret)) {
			t.Errorf("upstream %s %s: body carries the client's key", r.Method, r.Path)
		}
	}
}

// checkUsage waits for one usage event per upstream request and asserts
// each is ok, on the account, from client, with the fake's tokens where
// the route reports them.
func (e *e2eRelay) checkUsage(t *testing.T, reqs []upstreamtest.Request, client string, tokens func(upstreamtest.Request) events.Tokens) []events.Usage {
	t.Helper()
	us := e.WaitUsage(t, len(reqs))
	if len(us) != len(reqs) {
		t.Fatalf("%d usage events for %d upstream requests: %+v", len(us), len(reqs), us)
	}
	// Usage events are published when a request ends, so their order may
	// differ from the upstream's arrival order: match them by model and
	// stream instead, counting.
	type shape struct {
		model  string
		stream bool
		tokens events.Tokens
	}
	want := map[shape]int{}
	for _, r := range reqs {
		want[shape{r.Model, r.Stream, tokens(r)}]++
	}
	for _, u := range us {
		if u.Outcome != events.OutcomeOK || u.Status != http.StatusOK || u.Attempts != 1 {
			t.Errorf("usage %s: outcome %q status %d attempts %d, want ok 200 1 (%+v)", u.ID, u.Outcome, u.Status, u.Attempts, u)
		}
		if u.Client != client {
			t.Errorf("usage %s: client %q, want %q: relay did not recognise the real client", u.ID, u.Client, client)
		}
		if u.KeyID != "e2e-key" || u.AccountID != e.account.ID {
			t.Errorf("usage %s: key %q account %q", u.ID, u.KeyID, u.AccountID)
		}
		k := shape{u.Model, u.Stream, u.Tokens}
		if want[k] == 0 {
			t.Errorf("usage %s: model %q stream %v tokens %+v match no upstream request (want %v)", u.ID, u.Model, u.Stream, u.Tokens, want)
		}
		want[k]--
	}
	return us
}

// report logs what the CLI asked relay and what relay asked the upstream.
func (e *e2eRelay) report(t *testing.T, name string, run cliRun, us []events.Usage) {
	t.Helper()
	t.Logf("%s ran %v; %d requests to relay, %d to the upstream, %d usage events", name, run.took.Round(time.Millisecond), len(e.log.requests()), e.up.Total(), len(us))
	for _, r := range e.log.requests() {
		t.Logf("  client -> relay: %s %s?%s -> %d in %v; User-Agent %q; headers %v", r.method, r.path, r.query, r.status, r.took.Round(time.Millisecond), r.header.Get("User-Agent"), headerNames(r.header))
	}
	for _, r := range e.up.Requests() {
		t.Logf("  relay -> upstream: %s %s?%s model %q stream %v -> %d; headers %v", r.Method, r.Path, r.RawQuery, r.Model, r.Stream, r.Status, headerNames(r.Header))
	}
	for _, u := range us {
		t.Logf("  usage: model %q client %q outcome %s status %d tokens %+v cost $%.6f priced %v duration %dms ttft %dms", u.Model, u.Client, u.Outcome, u.Status, u.Tokens, u.Cost, u.Priced, u.DurationMs, u.TTFTMs)
	}
}

func headerNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// checkClientStatuses fails t for any relay answer other than 2xx: the
// real client must be served, not refused.
func (e *e2eRelay) checkClientStatuses(t *testing.T) {
	t.Helper()
	for _, r := range e.log.requests() {
		if r.status < 200 || r.status > 299 {
			t.Errorf("relay answered %s %s with %d", r.method, r.path, r.status)
		}
	}
}

func TestE2EClaudeCode(t *testing.T) {
	bin := findCLI(t, "claude")
	usage := upstreamtest.Usage{InputTokens: 1234, OutputTokens: 56, CacheCreation5m: 70, CacheCreation1h: 30, CacheRead: 800}
	e := startE2E(t, events.PlatformClaudeConsole, "sk-ant-e2e-upstream", usage)
	home, work := t.TempDir(), t.TempDir()
	env := []string{
		"PATH=" + cliPATH(bin),
		"HOME=" + home,
		"TMPDIR=" + t.TempDir(),
		"TERM=dumb",
		"LANG=C.UTF-8",
		"NO_PROXY=127.0.0.1,localhost",
		"ANTHROPIC_BASE_URL=" + e.front.URL + "/api",
		"ANTHROPIC_AUTH_TOKEN=" + e.key,
		// No update checks, telemetry, error reports or other calls
		// beyond the API (checked with strace: 2.1.328 then connects to
		// relay only).
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_ERROR_REPORTING=1",
		"DISABLE_BUG_COMMAND=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	}
	// JSON output is the same run as the plain one, plus the client's own
	// view of the turn: its usage and the cost it computes from its
	// built-in prices.
	run := runCLI(t, work, env, bin, "-p", "say hi", "--output-format", "json")
	var out struct {
		Type         string  `json:"type"`
		IsError      bool    `json:"is_error"`
		Result       string  `json:"result"`
		TotalCostUSD float64 `json:"total_cost_usd"`
		Usage        struct {
			InputTokens              int64 `json:"input_tokens"`
			OutputTokens             int64 `json:"output_tokens"`
			CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
			CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.stdout)), &out); err != nil {
		t.Fatalf("claude printed %q: %v\nstderr:\n%s", run.stdout, err, tail(run.stderr, 4000))
	}
	if out.Type != "result" || out.IsError || !strings.Contains(out.Result, e.answer) {
		t.Fatalf("claude's result %+v, want the upstream's answer %q\nstderr:\n%s", out, e.answer, tail(run.stderr, 4000))
	}
	reqs := e.up.Requests()
	if e.up.Count("/v1/messages") == 0 {
		t.Fatalf("the upstream saw no /v1/messages call: %+v", reqs)
	}
	e.checkUpstreamCredentials(t, reqs, "X-Api-Key", "sk-ant-e2e-upstream")
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("upstream %s: Authorization forwarded", r.Path)
		}
	}
	want := events.Tokens{InputTokens: 1234, OutputTokens: 56, CacheCreateTokens: 100, CacheCreate1hTokens: 30, CacheReadTokens: 800}
	us := e.checkUsage(t, reqs, "claude_code", func(r upstreamtest.Request) events.Tokens {
		if r.Path == "/v1/messages/count_tokens" {
			return events.Tokens{}
		}
		return want
	})
	e.checkClientStatuses(t)

	// What relay recorded is what the client itself counted and charged.
	var tokens events.Tokens
	var nanos int64
	for _, u := range us {
		tokens.InputTokens += u.InputTokens
		tokens.OutputTokens += u.OutputTokens
		tokens.CacheCreateTokens += u.CacheCreateTokens
		tokens.CacheReadTokens += u.CacheReadTokens
		nanos += u.CostNanos
	}
	cu := out.Usage
	if cu.InputTokens != tokens.InputTokens || cu.OutputTokens != tokens.OutputTokens || cu.CacheCreationInputTokens != tokens.CacheCreateTokens || cu.CacheReadInputTokens != tokens.CacheReadTokens {
		t.Errorf("claude counted %+v, relay recorded %+v", cu, tokens)
	}
	// To the nano-dollar: relay never rounds a request's cost.
	if clientNanos := int64(math.Round(out.TotalCostUSD * 1e9)); clientNanos != nanos {
		t.Errorf("claude computed $%.9f, relay recorded %d nano-dollars", out.TotalCostUSD, nanos)
	}
	e.report(t, "claude "+versionOf(t, bin, env), run, us)
}

func TestE2ECodexCLI(t *testing.T) {
	bin := findCLI(t, "codex")
	usage := upstreamtest.Usage{InputTokens: 2345, OutputTokens: 67, CacheRead: 2000, ReasoningTokens: 12}
	e := startE2E(t, events.PlatformCodex, "sk-openai-e2e-upstream", usage)
	work, env := codexHome(t, bin, e, "", false)
	run := runCLI(t, work, env, bin, "exec", "--strict-config", "--skip-git-repo-check", "--sandbox", "read-only", "--color", "never", "--ephemeral", "say hi")
	if !strings.Contains(run.stdout, e.answer) {
		t.Fatalf("codex printed %q, want the upstream's answer %q\nstderr:\n%s", run.stdout, e.answer, tail(run.stderr, 4000))
	}
	reqs := e.up.Requests()
	if e.up.Count("/responses") == 0 {
		t.Fatalf("the upstream saw no /responses call: %+v", reqs)
	}
	e.checkUpstreamCredentials(t, reqs, "Authorization", "Bearer sk-openai-e2e-upstream")
	for _, r := range reqs {
		if r.Header.Get("X-Api-Key") != "" {
			t.Errorf("upstream %s: x-api-key sent", r.Path)
		}
	}
	want := events.Tokens{InputTokens: 2345, OutputTokens: 67, CacheReadTokens: 2000, ReasoningTokens: 12}
	us := e.checkUsage(t, reqs, "codex_cli", func(upstreamtest.Request) events.Tokens { return want })
	e.checkClientStatuses(t)
	e.report(t, "codex "+versionOf(t, bin, env), run, us)
}

// TestE2ECodexCompaction makes the real Codex compact its conversation
// through relay and go on. A tiny model_auto_compact_token_limit and an
// upstream that reports 90k input tokens a turn make the second turn start
// with an automatic compaction. Observed from 0.169.0, which no longer
// calls /responses/compact: with a custom provider it compacts locally, a
// streamed POST {base_url}/responses of a summary prompt, and speaks HTTP
// only (supports_websockets is false for custom providers); with its own
// OpenAI provider pointed at relay (openai_base_url) it compacts remotely,
// a POST /responses whose input ends with a compaction_trigger item and
// whose output is one compaction item, and first tries a WebSocket that
// relay refuses (405) before falling back to HTTPS. Either way the
// request is marked request_kind "compaction" in x-codex-turn-metadata,
// and it must run on the account that holds the session, as must the turn
// after it.
func TestE2ECodexCompaction(t *testing.T) {
	bin := findCLI(t, "codex")
	for _, tc := range []struct {
		name           string
		builtin        bool
		implementation string // x-codex-turn-metadata's compaction.implementation
	}{
		{"custom provider", false, "responses"},
		{"OpenAI provider at relay", true, "responses_compaction_v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			usage := upstreamtest.Usage{InputTokens: 90000, OutputTokens: 50, CacheRead: 1000}
			e := startE2E(t, events.PlatformCodex, "sk-openai-e2e-upstream", usage)
			// A second account on its own upstream: least-recently-used
			// would pick it for every request after the first, so only
			// stickiness keeps the session on one account.
			up2 := upstreamtest.New(t)
			up2.SetDefault(upstreamtest.Reply{Text: e.answer, Usage: usage})
			e.CreateAccount(t, events.Account{ID: "e2e-codex-2", Platform: events.PlatformCodex, Name: "e2e-2", APIURL: up2.URL, IsActive: true, Schedulable: true}, "sk-openai-e2e-upstream-2")
			work, env := codexHome(t, bin, e, "model_auto_compact_token_limit = 1000\n", tc.builtin)
			args := []string{"exec", "--strict-config", "--skip-git-repo-check", "--sandbox", "read-only", "--color", "never"}
			first := runCLI(t, work, env, bin, append(args, "say hi")...)
			second := runCLI(t, work, env, bin, append(args, "resume", "--last", "and now say hi again")...)
			for _, run := range []cliRun{first, second} {
				if !strings.Contains(run.stdout, e.answer) {
					t.Fatalf("codex printed %q, want the upstream's answer %q\nstderr:\n%s", run.stdout, e.answer, tail(run.stderr, 4000))
				}
			}
			if !strings.Contains(second.stderr, "context compacted") || strings.Contains(second.stderr, "Error running remote compact task") {
				t.Fatalf("the second turn did not compact\nstderr:\n%s", tail(second.stderr, 4000))
			}

			// Every request of the session, the compaction included, on
			// the account that served the first.
			type seen struct {
				upstreamtest.Request
				account string
				meta    struct {
					RequestKind string `json:"request_kind"`
					Compaction  struct {
						Implementation string `json:"implementation"`
					} `json:"compaction"`
				}
			}
			var all []seen
			for acct, up := range map[string]*upstreamtest.Server{e.account.ID: e.up, "e2e-codex-2": up2} {
				for _, r := range up.Requests() {
					x := seen{Request: r, account: acct}
					_ = json.Unmarshal([]byte(r.Header.Get("X-Codex-Turn-Metadata")), &x.meta)
					all = append(all, x)
				}
			}
			slices.SortFunc(all, func(a, b seen) int { return a.Start.Compare(b.Start) })
			var kinds []string
			for _, r := range all {
				kinds = append(kinds, r.Method+" "+r.Path+" "+r.meta.RequestKind+" on "+r.account)
				if r.account != all[0].account {
					t.Errorf("%s %s (%s) went to %s, the session is on %s", r.Method, r.Path, r.meta.RequestKind, r.account, all[0].account)
				}
				if r.Header.Get("Session-Id") == "" || r.Header.Get("Session-Id") != all[0].Header.Get("Session-Id") {
					t.Errorf("%s %s (%s): session-id %q, the first request's %q", r.Method, r.Path, r.meta.RequestKind, r.Header.Get("Session-Id"), all[0].Header.Get("Session-Id"))
				}
			}
			t.Logf("upstream requests in order: %q", kinds)
			compacted := slices.IndexFunc(all, func(r seen) bool { return r.meta.RequestKind == "compaction" })
			if compacted < 0 || !slices.ContainsFunc(all[compacted+1:], func(r seen) bool { return r.meta.RequestKind == "turn" }) {
				t.Fatalf("want a compaction followed by a turn, the upstreams saw %q", kinds)
			}
			if c := all[compacted]; c.Path != "/responses" || c.meta.Compaction.Implementation != tc.implementation ||
				bytes.Contains(c.Body, []byte(`"compaction_trigger"`)) != tc.builtin {
				t.Errorf("compaction %s by %q (trigger item: %v), want /responses by %q", c.Path, c.meta.Compaction.Implementation, !tc.builtin, tc.implementation)
			}

			// What Codex asked relay: HTTP, or WebSocket upgrades that
			// relay refused before Codex fell back to HTTP.
			var upgrades int
			for _, r := range e.log.requests() {
				switch {
				case r.header.Get("Upgrade") != "":
					upgrades++
					if !tc.builtin || r.method != http.MethodGet || r.status != http.StatusMethodNotAllowed {
						t.Errorf("codex asked relay for an upgrade: %s %s Upgrade %q -> %d", r.method, r.path, r.header.Get("Upgrade"), r.status)
					}
				case r.status != http.StatusOK:
					t.Errorf("relay answered %s %s with %d", r.method, r.path, r.status)
				}
			}
			if tc.builtin && upgrades == 0 {
				t.Errorf("Codex's OpenAI provider asked for no WebSocket: the README's account of it is out of date")
			}
			us := e.WaitUsage(t, len(all))
			if len(us) != len(all) {
				t.Fatalf("%d usage events for %d upstream requests", len(us), len(all))
			}
			want := events.Tokens{InputTokens: 90000, OutputTokens: 50, CacheReadTokens: 1000}
			for _, u := range us {
				if u.Outcome != events.OutcomeOK || u.AccountID != all[0].account || u.Client != "codex_cli" || u.Tokens != want {
					t.Errorf("usage %+v", u)
				}
				if u.ID != us[0].ID && u.ChosenBy != "sticky" {
					t.Errorf("usage %s chosen by %q, want sticky", u.ID, u.ChosenBy)
				}
			}
			t.Logf("%d WebSocket upgrades refused; runs took %v and %v", upgrades, first.took.Round(time.Millisecond), second.took.Round(time.Millisecond))
			e.report(t, "codex "+versionOf(t, bin, env), second, us)
		})
	}
}

// codexHome writes a Codex home whose config.toml makes relay its model
// provider, plus extra config lines, and returns a working directory and
// the environment of a codex run. With builtin, the provider is Codex's
// own OpenAI provider pointed at relay (openai_base_url, the key in
// CODEX_API_KEY) instead of a custom one.
func codexHome(t *testing.T, bin string, e *e2eRelay, extra string, builtin bool) (work string, env []string) {
	t.Helper()
	home := t.TempDir()
	work = t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	// A custom provider on relay, as DESIGN.md tells Codex users. Off:
	// update checks, analytics, feedback; the plugins feature, which in
	// 0.169.0 runs `git ls-remote https://github.com/openai/plugins.git`
	// and looks up api.github.com and chatgpt.com; and the shell snapshot,
	// a login shell started at every session. With these off, strace shows
	// codex connecting to relay only. --strict-config rejects a key this
	// version does not know.
	top := `model = "gpt-5"
check_for_update_on_startup = false
` + extra
	provider, keyVar := fmt.Sprintf(`
[model_providers.relay]
name = "relay"
base_url = %q
env_key = "RELAY_API_KEY"
wire_api = "responses"
`, e.front.URL+"/openai"), "RELAY_API_KEY="
	if builtin {
		top = fmt.Sprintf("openai_base_url = %q\n", e.front.URL+"/openai") + top
		provider, keyVar = "", "CODEX_API_KEY="
	} else {
		top = `model_provider = "relay"` + "\n" + top
	}
	config := top + provider + `
[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
shell_snapshot = false
`
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return work, []string{
		"PATH=" + cliPATH(bin),
		"HOME=" + home,
		"CODEX_HOME=" + codexHome,
		"TMPDIR=" + t.TempDir(),
		"TERM=dumb",
		"LANG=C.UTF-8",
		"NO_PROXY=127.0.0.1,localhost",
		keyVar + e.key,
	}
}

// versionOf is the CLI's --version answer, for the log.
func versionOf(t *testing.T, bin string, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "(version unknown: " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}
