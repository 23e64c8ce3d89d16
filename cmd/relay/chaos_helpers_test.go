package main

// Helpers of the process-level chaos tests (GitHub issue 8): the relay
// binary built once per test run, relay processes started, SIGKILLed and
// SIGTERMed, a client that records what it saw, and readers of the
// streams. Every name here starts with chaos.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/secrets"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
)

// chaosEncryptionKey and chaosJWTSecret configure every edge of the chaos
// tests that does not generate its own.
const (
	chaosEncryptionKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	chaosJWTSecret     = "chaos-jwt-secret-0123456789abcdef0123456789"
	chaosAdminPassword = "chaos-admin-password"
)

// chaosModel and chaosUsage are what every request asks and gets; each
// costs chaosCost nano-dollars: 120×3 + 33×15 + 10×3.75 + 20×6 + 7×0.3 µ$.
const (
	chaosModel = "claude-sonnet-4-5-20250929"
	chaosBody  = `{"model":"` + chaosModel + `","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	chaosCost  = 1_014_600
)

var chaosUsage = upstreamtest.Usage{InputTokens: 120, OutputTokens: 33, CacheCreation5m: 10, CacheCreation1h: 20, CacheRead: 7}

// chaosTokens is chaosUsage as a usage event records it.
var chaosTokens = events.Tokens{InputTokens: 120, OutputTokens: 33, CacheCreateTokens: 30, CacheCreate1hTokens: 20, CacheReadTokens: 7}

// chaosLong skips a process-level chaos test under -short, except in CI
// (CI set), where every test runs.
func chaosLong(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("starts and kills relay processes; runs without -short (and always in CI)")
	}
}

var chaosBin struct {
	once sync.Once
	path string
	err  error
}

// chaosBinary builds cmd/relay once per test run, with the race detector
// when the tests have it, and returns its path. It needs no TestMain: the
// binary lives in a temporary directory named after this process, and
// each run removes the directories of runs whose process is gone.
func chaosBinary(t *testing.T) string {
	t.Helper()
	chaosBin.once.Do(func() {
		chaosSweep()
		dir, err := os.MkdirTemp("", fmt.Sprintf("relay-chaos-%d-", os.Getpid()))
		if err != nil {
			chaosBin.err = err
			return
		}
		out := filepath.Join(dir, "relay")
		args := []string{"build", "-o", out}
		if chaosRace {
			args = append(args, "-race")
		}
		start := time.Now()
		if b, err := exec.Command("go", append(args, "relay/cmd/relay")...).CombinedOutput(); err != nil {
			chaosBin.err = fmt.Errorf("go build relay/cmd/relay: %v\n%s", err, b)
			return
		}
		chaosBin.path = out
		t.Logf("built relay (race detector: %v) in %v", chaosRace, time.Since(start).Round(time.Millisecond))
	})
	if chaosBin.err != nil {
		t.Fatal(chaosBin.err)
	}
	return chaosBin.path
}

// chaosSweep removes the binaries of earlier runs whose process is gone.
func chaosSweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "relay-chaos-*"))
	for _, d := range dirs {
		parts := strings.SplitN(filepath.Base(d), "-", 4)
		if len(parts) < 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// chaosTail keeps the last max bytes written to it.
type chaosTail struct {
	max int
	mu  sync.Mutex // mu protects buf
	buf bytes.Buffer
}

func (b *chaosTail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *chaosTail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// chaosProc is one relay process.
type chaosProc struct {
	name, role string
	cmd        *exec.Cmd
	stdout     *chaosTail
	stderr     *chaosTail
	exited     chan struct{} // closed once reaped
	waitErr    error         // set before exited closes
	base       string        // http://host:port once it listens (serve, edge)
	killed     bool
}

var chaosListen = regexp.MustCompile(`relay is listening on [^\n]*?(http://\S+)`)

// chaosStart starts `relay <role>` with env (plus PATH, HOME and TZ only:
// nothing of the developer's configuration leaks in). The kernel kills it
// if the test binary dies first. Cleanup stops it (SIGTERM, then SIGKILL)
// and fails the test if the race detector reported a race in it.
func chaosStart(t *testing.T, role, name string, env map[string]string) *chaosProc {
	t.Helper()
	p := &chaosProc{name: name, role: role, stdout: &chaosTail{max: 64 << 10}, stderr: &chaosTail{max: 256 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(chaosBinary(t), role)
	// METRICS_LISTEN off: processes of parallel tests would share its port.
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC", "METRICS_LISTEN=off"}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	// The death signal is tied to the forking thread: fork from a locked
	// thread that stays parked in Wait for the child's life.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		if !p.done() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(20 * time.Second):
				p.kill()
			}
		}
		if bytes.Contains([]byte(p.stderr.String()), []byte("WARNING: DATA RACE")) {
			t.Errorf("%s: the race detector reported a data race:\n%s", p.name, p.stderr.String())
		}
		if t.Failed() {
			t.Logf("%s (%s) stderr tail:\n%s", p.name, p.role, chaosLastLines(p.stderr.String(), 25))
		}
	})
	return p
}

func chaosLastLines(s string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if !strings.Contains(l, `"message":"request"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep[max(0, len(keep)-n):], "\n")
}

func (p *chaosProc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// awaitListening waits until a serve or edge process prints where it
// listens.
func (p *chaosProc) awaitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if m := chaosListen.FindStringSubmatch(p.stdout.String()); m != nil {
			p.base = m[1]
			return
		}
		if p.done() {
			t.Fatalf("%s exited at start (%v):\n%s", p.name, p.waitErr, chaosLastLines(p.stderr.String(), 30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start listening within 90s:\n%s", p.name, chaosLastLines(p.stderr.String(), 30))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitReady waits until /ready answers 200 (configuration loaded, and in
// serve every projection caught up).
func (p *chaosProc) awaitReady(t *testing.T, within time.Duration) {
	t.Helper()
	var last string
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(p.base + "/ready")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprint(resp.StatusCode, " ", string(b))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v: %s", p.name, within, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *chaosProc) kill() {
	if p.done() {
		return
	}
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// term sends SIGTERM and returns the exit code, failing t if the process
// does not exit within `within`.
func (p *chaosProc) term(t *testing.T, within time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(within):
		p.kill()
		t.Fatalf("%s did not exit within %v of SIGTERM:\n%s", p.name, within, chaosLastLines(p.stderr.String(), 30))
	}
	return p.cmd.ProcessState.ExitCode()
}

// chaosResult is one relay exchange as the client saw it.
type chaosResult struct {
	status   int
	id       string
	complete bool // the stream reached message_stop
	err      error
}

var chaosClient = &http.Client{Timeout: 60 * time.Second}

// chaosDo sends one streaming Claude request with key to base.
func chaosDo(base, key string) chaosResult {
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/messages", strings.NewReader(chaosBody))
	if err != nil {
		return chaosResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	resp, err := chaosClient.Do(req)
	if err != nil {
		return chaosResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := chaosResult{status: resp.StatusCode, id: resp.Header.Get("X-Request-Id"), err: err}
	r.complete = err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("event: message_stop"))
	return r
}

// chaosLedger is the client's record of every answer.
type chaosLedger struct {
	mu      sync.Mutex // mu protects results
	results []chaosResult
}

func (l *chaosLedger) add(r chaosResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
}

func (l *chaosLedger) all() []chaosResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]chaosResult(nil), l.results...)
}

func (l *chaosLedger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// complete returns the ids of the answers that reached message_stop.
func (l *chaosLedger) complete() []string {
	var ids []string
	for _, r := range l.all() {
		if r.complete {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// chaosWait polls cond until it holds or within passes.
func chaosWait(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(delay)
	}
}

// chaosUsageEvents reads every usage.recorded event of the USAGE stream, in
// order.
func chaosUsageEvents(t *testing.T, js jetstream.JetStream) []events.Usage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Usage
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		env, err := streams.FromRaw(m)
		if err != nil {
			t.Fatal(err)
		}
		v, err := events.Decode(env)
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := v.(*events.Usage); ok { // counts of refusals are not requests' events
			out = append(out, *u)
		}
	}
	return out
}

// chaosCheckLedger asserts that every answer the client received in full
// has exactly one usage event, recording the tokens the upstream reported,
// and that no event id is stored twice. It returns the events by id.
func chaosCheckLedger(t *testing.T, property string, us []events.Usage, complete []string) map[string]events.Usage {
	t.Helper()
	byID := map[string]events.Usage{}
	for _, u := range us {
		if _, dup := byID[u.ID]; dup {
			t.Errorf("%s: usage event %s stored twice", property, u.ID)
		}
		byID[u.ID] = u
	}
	for _, id := range complete {
		u, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("%s: request %s reached message_stop but has no usage event", property, id)
		case u.Tokens != chaosTokens || u.CostNanos != chaosCost:
			t.Errorf("%s: request %s recorded %+v (%d n$), the client saw %+v (%d n$)", property, id, u.Tokens, u.CostNanos, chaosTokens, chaosCost)
		}
	}
	return byID
}

// chaosWaitProjected waits until every projection's checkpoint in st
// reaches the last sequence of its stream.
func chaosWaitProjected(t *testing.T, js jetstream.JetStream, st *store.Store, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	for stream, projection := range map[string]string{
		events.StreamConfig: store.ProjectionConfig, events.StreamState: store.ProjectionState, events.StreamUsage: store.ProjectionUsage,
	} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, within)
		err = st.WaitCheckpoint(wctx, projection, info.State.LastSeq)
		cancel()
		if err != nil {
			cp, _ := st.Checkpoint(ctx, projection)
			t.Fatalf("projection %s at %d, its stream %s at %d after %v: %v", projection, cp, stream, info.State.LastSeq, within, err)
		}
	}
}

// chaosSeed publishes accounts (apiUrl, sealed with chaosEncryptionKey) and
// one API key straight into CONFIG, and returns the key's secret.
func chaosSeed(t *testing.T, js jetstream.JetStream, apiURL string, accounts int) string {
	t.Helper()
	ctx := context.Background()
	key, err := secrets.ParseKey(chaosEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(subject, typ string, p any) {
		env, err := events.New(typ, time.Now(), "test", "", p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, js, subject, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range accounts {
		sealed, err := box.Seal(fmt.Sprintf("sk-ant-chaos-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("acct%d", i)
		pub(events.AccountSubject(id), events.AccountCreated, events.Account{
			ID: id, Name: id, Platform: events.PlatformClaudeConsole, APIURL: apiURL, APIKeySealed: sealed, APIKeyMask: "sk-...",
			Priority: 50, IsActive: true, Schedulable: true, AccountType: "shared", SupportedModels: map[string]string{},
		})
	}
	secret, err := secrets.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	pub(events.KeySubject("chaoskey"), events.KeyCreated, events.Key{ID: "chaoskey", Name: "chaos", KeyHash: secrets.HashKey(secret), Permissions: "all", IsActive: true})
	return secret
}

// chaosConnect connects to the NATS server at url.
func chaosConnect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc, js
}

// chaosAdmin is a logged-in admin of one relay.
type chaosAdmin struct {
	base, token string
}

func chaosLogin(t *testing.T, base string) chaosAdmin {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	chaosAdmin{base: base}.do(t, http.StatusOK, http.MethodPost, "/api/v2/auth/admin/login", map[string]string{"username": "admin", "password": chaosAdminPassword}, &out)
	return chaosAdmin{base: base, token: out.Token}
}

// do sends an admin request and decodes the answer's data into out.
func (a chaosAdmin) do(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := chaosClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		var wrap struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &wrap); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		if err := json.Unmarshal(wrap.Data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// setup creates n Claude accounts on apiURL and one key; it returns the
// key's id and secret.
func (a chaosAdmin) setup(t *testing.T, apiURL string, n int) (id, secret string) {
	t.Helper()
	for i := range n {
		a.do(t, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console",
			map[string]any{"name": fmt.Sprintf("chaos %d", i), "apiUrl": apiURL, "apiKey": fmt.Sprintf("sk-ant-chaos-%d", i)}, nil)
	}
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	a.do(t, http.StatusCreated, http.MethodPost, "/api/v2/keys", map[string]any{"name": "chaos"}, &k)
	return k.ID, k.Key
}

// chaosSplit starts the topology where edges and workers are processes of
// their own: JetStream over TCP (natstest), a real redis-server, and the
// environment `relay edge` and `relay worker` need to run on them.
func chaosSplit(t *testing.T) (jetstream.JetStream, redistest.Backend, map[string]string) {
	t.Helper()
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	rb := redistest.NewServer(t).Backend(t)
	env := map[string]string{
		"NATS_URL": ns.ClientURL(), "REDIS_URL": rb.URL(), "HOST": "127.0.0.1", "PORT": "0", "LOG_LEVEL": "warn",
		"JWT_SECRET": chaosJWTSecret, "ENCRYPTION_KEY": chaosEncryptionKey, "DATA_DIR": t.TempDir(), "ADMIN_PASSWORD": chaosAdminPassword,
	}
	return js, rb, env
}
