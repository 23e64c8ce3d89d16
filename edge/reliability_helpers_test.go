package edge_test

// Helpers of the reliability tests (GitHub issue 8): tests that break
// things and check what relay guarantees still holds. Every name here
// starts with rel so the other test files of edge_test stay free to name
// theirs.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// relBody is a streaming Claude request; relModel is its model.
const (
	relModel = "claude-sonnet-4-5-20250929"
	relBody  = `{"model":"` + relModel + `","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

// relUsage is what the fake upstream reports for every request of these
// tests unless a test says otherwise: 1015 µ$ on sonnet 4.5.
var relUsage = upstreamtest.Usage{InputTokens: 120, OutputTokens: 33, CacheCreation5m: 10, CacheCreation1h: 20, CacheRead: 7}

// relCost is the cost of relUsage on relModel, in nano-dollars:
// 120×3 + 33×15 + 10×3.75 + 20×6 + 7×0.3 µ$.
const relCost = 1_014_600

// relLog is a log sink shared by the edge's goroutines.
type relLog struct {
	mu  sync.Mutex // mu protects buf
	buf bytes.Buffer
}

func (l *relLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *relLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// relSetup is a running relay with a fake upstream, n Claude accounts
// (acct0...) on it and one API key ("key1").
type relSetup struct {
	*edgetest.Env
	up  *upstreamtest.Server
	key string
}

func relStart(t *testing.T, b redistest.Backend, accounts int, o edgetest.Options) relSetup {
	t.Helper()
	env := edgetest.Start(t, b, o)
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: relUsage})
	for i := range accounts {
		env.CreateAccount(t, events.Account{ID: fmt.Sprintf("acct%d", i), Name: "a", APIURL: up.URL, IsActive: true, Schedulable: true},
			fmt.Sprintf("sk-ant-reliability-upstream-%d", i))
	}
	key := env.CreateKey(t, events.Key{ID: "key1", Name: "k", IsActive: true})
	return relSetup{Env: env, up: up, key: key}
}

// relResult is one relay exchange as the client saw it.
type relResult struct {
	status   int
	id       string // X-Request-Id
	body     []byte
	complete bool // the stream reached message_stop
	err      error
}

// relDo sends a relay request to base (an edge's URL) and reads the whole
// answer. Transport errors are returned in the result, not fatal: chaos
// tests expect some.
func relDo(ctx context.Context, client *http.Client, base, key, body string) relResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/messages", strings.NewReader(body))
	if err != nil {
		return relResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	resp, err := client.Do(req)
	if err != nil {
		return relResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := relResult{status: resp.StatusCode, id: resp.Header.Get("X-Request-Id"), body: b, err: err}
	r.complete = err == nil && resp.StatusCode == 200 && bytes.Contains(b, []byte("event: message_stop"))
	return r
}

// relLeasesFree waits until key and every account hold no live lease.
func relLeasesFree(t *testing.T, env *edgetest.Env, keyID string, accounts ...string) {
	t.Helper()
	ctx := context.Background()
	edgetest.WaitFor(t, 5*time.Second, func() bool {
		n, err := env.Store.KeyInFlight(ctx, keyID, time.Now())
		if err != nil || n != 0 {
			return false
		}
		m, err := env.Store.AccountInFlight(ctx, time.Now(), accounts...)
		if err != nil {
			return false
		}
		for _, v := range m {
			if v != 0 {
				return false
			}
		}
		return true
	})
}

// relReadUntil reads an SSE response line by line until a line contains
// want, and returns what it read.
func relReadUntil(t *testing.T, br *bufio.Reader, want string) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if strings.Contains(line, want) {
			return sb.String()
		}
		if err != nil {
			t.Fatalf("stream ended (%v) before %q: %s", err, want, sb.String())
		}
	}
}

// relGoroutinesBack polls until the process runs at most baseline
// goroutines, and fails with a dump of them otherwise.
func relGoroutinesBack(t *testing.T, baseline int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		n := runtime.NumGoroutine()
		if n <= baseline {
			t.Logf("goroutines: %d after, %d before", n, baseline)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d goroutines %v after the test, %d before:\n%s", n, within, baseline, buf)
		}
		time.Sleep(delay)
	}
}
