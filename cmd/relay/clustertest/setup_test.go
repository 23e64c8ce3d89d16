//go:build cluster

package clustertest

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store"
	"relay/store/redistest"
)

// The secrets every process of the deployment shares (compose reads them
// from one env file).
const (
	adminUser     = "admin"
	adminPassword = "cluster-test-admin-password"
	jwtSecret     = "clustertest-jwt-secret-0123456789abcdef"
	encryptionKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// deployment is relay as compose.yaml runs it, on loopback.
type deployment struct {
	nats    *natsCluster
	js      jetstream.JetStream
	store   *store.Store // the test's own view of the read models
	rdb     *redis.Client
	up      *upstreamtest.Server
	fake    *fakeControls
	edges   [2]*proc
	workers [2]*proc
	admin   admin // logged in on edge 1
	ledger  *ledger
	top     *testing.T                                 // owns the processes, whichever subtest starts them
	bin     string                                     // the relay binary
	env     func(role string, n int) map[string]string // a process's environment

	// liveKeys and liveAccounts count what the tests created and did not
	// delete, for waitCatalog.
	liveKeys, liveAccounts int
}

// fakeControls steer the fake upstream's Script.
type fakeControls struct {
	mu         sync.Mutex    // mu protects release and overloaded
	release    chan struct{} // requests whose body holds holdMarker wait for it
	overloaded string        // the account API key answered with 529
}

// holdMarker in a request's content makes the fake upstream hold the
// request (before its response headers) until the test releases it.
const holdMarker = "cluster-test-hold"

func (f *fakeControls) script(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
	f.mu.Lock()
	release, overloaded := f.release, f.overloaded
	f.mu.Unlock()
	if overloaded != "" && r.Header.Get("X-Api-Key") == overloaded {
		return upstreamtest.Overloaded(), true
	}
	if bytes.Contains(r.Body, []byte(holdMarker)) {
		<-release
	}
	return upstreamtest.Reply{}, false
}

// releaseHeld lets every held request go, now and from now on.
func (f *fakeControls) releaseHeld() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.release:
	default:
		close(f.release)
	}
}

// startDeployment starts the NATS cluster, Redis, the fake upstream, then
// two workers and two edges at the same moment (they provision the
// replicated streams concurrently, as compose starts them), and logs in.
func startDeployment(t *testing.T) *deployment {
	t.Helper()
	bin := relayBinary(t)
	d := &deployment{top: t, ledger: &ledger{}, fake: &fakeControls{release: make(chan struct{})}}
	d.nats = startNATSCluster(t, 3)
	_, d.js = d.nats.connect(t)
	rs := redistest.NewServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { rdb.Close() })
	d.store, d.rdb = store.New(rdb, ""), rdb
	d.up = upstreamtest.New(t)
	d.up.SetScript(d.fake.script)
	// Runs before the upstream's Close (cleanups run last first): a held
	// request must not keep it from closing.
	t.Cleanup(d.fake.releaseHeld)

	d.bin = bin
	d.env = func(role string, i int) map[string]string {
		env := map[string]string{
			"NATS_URL":       d.nats.urls(),
			"NATS_USER":      "relay",
			"NATS_PASSWORD":  relayNATSPassword,
			"REDIS_URL":      fmt.Sprintf("redis://%s/0", rs.Addr()),
			"JWT_SECRET":     jwtSecret,
			"ENCRYPTION_KEY": encryptionKey,
			"ADMIN_USERNAME": adminUser,
			"ADMIN_PASSWORD": adminPassword,
			"HOST":           "127.0.0.1",
			"PORT":           "0",
			"DATA_DIR":       filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d", role, i)),
			"LOG_LEVEL":      "info",
			// Edges of one host cannot share a metrics port: scrape the
			// main port with the token instead.
			"METRICS_LISTEN": "off",
			"METRICS_TOKEN":  metricsToken,
		}
		if role == "edge" { // the usage export's reader, as compose gives it
			env["NATS_ANALYST_USER"], env["NATS_ANALYST_PASSWORD"] = "analyst", analystNATSPassword
		}
		return env
	}
	start := time.Now()
	for i := range 2 {
		d.workers[i] = startRelay(t, t, bin, "worker", fmt.Sprintf("worker-%d", i+1), d.env("worker", i+1))
		d.edges[i] = startRelay(t, t, bin, "edge", fmt.Sprintf("edge-%d", i+1), d.env("edge", i+1))
	}
	for _, p := range append(d.workers[:], d.edges[:]...) {
		p.awaitListening(t)
		p.awaitReady(t, 60*time.Second)
	}
	t.Logf("2 workers and 2 edges ready %v after they were started together", time.Since(start).Round(time.Millisecond))
	d.admin = login(t, d.edges[0])
	return d
}

// waitCatalog waits until edge's in-memory catalog holds keys live keys and
// accounts accounts (the admin API waited for the writing edge's catalog
// only; the other edge follows through its ordered consumer).
func (d *deployment) waitCatalog(t *testing.T, edge *proc, keys, accounts int) {
	t.Helper()
	ad := admin{edge: edge, token: d.admin.token}
	var o overview
	if !poll(10*time.Second, func() bool {
		o = ad.overview(t)
		return o.Keys.Total == keys && o.Accounts.Total == accounts
	}) {
		t.Fatalf("%s catalog: %d keys, %d accounts; want %d, %d", edge.name, o.Keys.Total, o.Accounts.Total, keys, accounts)
	}
}

// keyUsage waits until USAGE holds n events of key (Claude route) and
// returns them by request id.
func (d *deployment) keyUsage(t *testing.T, keyID string, n int) map[string]events.Usage {
	t.Helper()
	return byID(t, newUsageScan(d.js, events.UsageSubject("claude", keyID)).atLeast(t, n))
}

// upstreamCalls counts the fake upstream's requests made with an account's
// API key.
func (d *deployment) upstreamCalls(apiKey string) int {
	n := 0
	for _, r := range d.up.Requests() {
		if r.Header.Get("X-Api-Key") == apiKey {
			n++
		}
	}
	return n
}

// heldCalls counts the fake upstream's requests that carry holdMarker.
func (d *deployment) heldCalls() int {
	n := 0
	for _, r := range d.up.Requests() {
		if bytes.Contains(r.Body, []byte(holdMarker)) {
			n++
		}
	}
	return n
}

// availability asks edge whether it may schedule account id now, from its
// own catalog.
func (d *deployment) availability(t *testing.T, edge *proc, id string) (bool, []string) {
	t.Helper()
	var out struct {
		Available bool     `json:"available"`
		Reasons   []string `json:"reasons"`
	}
	admin{edge: edge, token: d.admin.token}.do(t, http.MethodGet, "/api/v2/accounts/claude-console/"+id+"/availability", nil, &out)
	return out.Available, out.Reasons
}
