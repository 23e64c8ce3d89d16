package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/store"
)

// chaosSpoolEmpty waits until DATA_DIR/spool holds no event file.
func chaosSpoolEmpty(t *testing.T, dataDir string, within time.Duration) {
	t.Helper()
	chaosWait(t, within, "spool empty", func() bool {
		files, _ := filepath.Glob(filepath.Join(dataDir, "spool", "*.event"))
		return len(files) == 0
	})
}

// chaosOpenStore serves the JetStream store a stopped `relay serve` left
// under dataDir in this process, to read its streams.
func chaosOpenStore(t *testing.T, dataDir string) *natstest.Server {
	t.Helper()
	return natstest.StartAt(t, filepath.Join(dataDir, "nats"), -1)
}

// Property 4: the single binary survives SIGKILL under load. `relay serve`
// (embedded NATS and Redis) serves 6 clients streaming back to back and is
// SIGKILLed 4 times at random points (the 20 kills scaled down),
// restarted each time on the same DATA_DIR. Every response the client
// received complete (message_stop) has exactly one usage event with the
// reported tokens, and no event is stored twice; spooled events are
// published after the restart.
func TestChaosServeSurvivesSIGKILLUnderLoad(t *testing.T) {
	chaosLong(t)
	const kills, clients = 4, 6
	dir := t.TempDir()
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage, EventDelay: 3 * time.Millisecond})
	env := map[string]string{"DATA_DIR": dir, "HOST": "127.0.0.1", "PORT": "0", "NATS_LISTEN": "off", "ADMIN_PASSWORD": chaosAdminPassword, "LOG_LEVEL": "warn"}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 4))
	ledger := &chaosLedger{}
	var key string
	var p *chaosProc
	var cutAt []int
	for round := 0; ; round++ {
		p = chaosStart(t, "serve", fmt.Sprintf("serve%d", round), env)
		p.awaitListening(t)
		if round == 0 {
			_, key = chaosLogin(t, p.base).setup(t, up.URL, 2)
		}
		if round == kills {
			break
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ledger.add(chaosDo(p.base, key))
				}
			})
		}
		target := ledger.len() + 20 + rng.IntN(60)
		chaosWait(t, 60*time.Second, fmt.Sprintf("%d answers", target), func() bool { return ledger.len() >= target })
		cutAt = append(cutAt, target)
		p.kill()
		close(stop)
		wg.Wait()
	}
	// The last start rebuilds the read models and publishes the spool.
	p.awaitReady(t, 60*time.Second)
	chaosSpoolEmpty(t, dir, 30*time.Second)
	if code := p.term(t, 30*time.Second); code != 0 {
		t.Errorf("serve exited %d after SIGTERM", code)
	}
	ns := chaosOpenStore(t, dir)
	_, js := ns.Connect(t)
	us := chaosUsageEvents(t, js)
	complete := ledger.complete()
	byID := chaosCheckLedger(t, "property 4 (serve survives SIGKILL: one usage event per complete response)", us, complete)
	cut, withEvent, refused := 0, 0, 0
	for _, r := range ledger.all() {
		switch {
		case r.complete:
		case r.id == "":
			refused++ // no answer at all: the process was down
		default:
			cut++
			if _, ok := byID[r.id]; ok {
				withEvent++
			}
		}
	}
	t.Logf("seed %d: SIGKILLed serve %d times (after %v answers in all); %d answers complete, %d cut by a kill (%d of them recorded: the event is published before the final bytes), %d connections refused while down; %d usage events, none twice",
		seed, kills, cutAt, len(complete), cut, withEvent, refused, len(us))
}

// Property 18: graceful shutdown under load. 8 streams (each about 1.5 s)
// are in flight when `relay serve` gets SIGTERM: it stops accepting new
// connections, every in-flight stream finishes complete, the process
// exits 0, and the 8 usage events are in USAGE (nothing left in the
// spool).
func TestChaosServeSIGTERMFinishesInFlightStreams(t *testing.T) {
	chaosLong(t)
	const n = 8
	dir := t.TempDir()
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage, EventDelay: 150 * time.Millisecond, Deltas: 8})
	p := chaosStart(t, "serve", "serve", map[string]string{
		"DATA_DIR": dir, "HOST": "127.0.0.1", "PORT": "0", "NATS_LISTEN": "off", "ADMIN_PASSWORD": chaosAdminPassword,
		"LOG_LEVEL": "warn", "SHUTDOWN_GRACE": "20s",
	})
	p.awaitListening(t)
	_, key := chaosLogin(t, p.base).setup(t, up.URL, 2)
	results := make([]chaosResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = chaosDo(p.base, key) })
	}
	chaosWait(t, 10*time.Second, "8 streams in flight upstream", func() bool { return up.InFlight() == n })
	termAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused soon after SIGTERM; any request still
	// accepted before that must be served in full.
	var late []chaosResult
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		r := chaosDo(p.base, key)
		if r.err != nil && r.status == 0 {
			refused = true
			break
		}
		late = append(late, r)
	}
	if !refused {
		t.Errorf("property 18: new connections still accepted 5 s after SIGTERM")
	}
	wg.Wait()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit within 30 s of SIGTERM")
	}
	exitAfter := time.Since(termAt)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("property 18: serve exited %d after SIGTERM:\n%s", code, chaosLastLines(p.stderr.String(), 20))
	}
	var complete []string
	for i, r := range append(results, late...) {
		if !r.complete {
			t.Errorf("property 18 (in-flight streams finish on SIGTERM): stream %d ended %d %v", i, r.status, r.err)
			continue
		}
		complete = append(complete, r.id)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "spool", "*.event")); len(files) > 0 {
		t.Errorf("property 18: %d usage events left in the spool at exit", len(files))
	}
	ns := chaosOpenStore(t, dir)
	_, js := ns.Connect(t)
	us := chaosUsageEvents(t, js)
	chaosCheckLedger(t, "property 18 (usage of in-flight streams published before exit)", us, complete)
	if len(us) != len(complete) {
		t.Errorf("property 18: %d usage events for %d requests", len(us), len(complete))
	}
	t.Logf("SIGTERM with %d streams in flight (+%d accepted just after): all complete, exit 0 after %v, %d usage events stored",
		n, len(late), exitAfter.Round(time.Millisecond), len(us))
}

// chaosFreePort returns a loopback port free a moment ago.
func chaosFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// chaosSmoke creates an account and a key through the admin API of base,
// relays one streaming request, and checks the key's statistics and (when
// usage is set) the USAGE stream.
func chaosSmoke(t *testing.T, base string, up *upstreamtest.Server, usage func() []events.Usage) {
	t.Helper()
	admin := chaosLogin(t, base)
	id, key := admin.setup(t, up.URL, 1)
	r := chaosDo(base, key)
	if !r.complete {
		t.Fatalf("property 19 (conformance smoke): %d %v", r.status, r.err)
	}
	var stats struct {
		Total struct {
			Requests    int64 `json:"requests"`
			InputTokens int64 `json:"inputTokens"`
			CostNanos   int64 `json:"costNanos"`
		} `json:"total"`
	}
	chaosWait(t, 20*time.Second, "the request in the key's statistics", func() bool {
		admin.do(t, http.StatusOK, http.MethodGet, "/api/v2/keys/"+id+"/stats", nil, &stats)
		return stats.Total.Requests == 1
	})
	if stats.Total.InputTokens != int64(chaosTokens.InputTokens) || stats.Total.CostNanos != chaosCost {
		t.Fatalf("property 19: statistics %+v", stats.Total)
	}
	if usage != nil {
		us := usage()
		if len(us) != 1 || us[0].ID != r.id || us[0].Tokens != chaosTokens {
			t.Fatalf("property 19: USAGE holds %+v", us)
		}
	}
}

// Property 19: the same relay smoke test (admin login, account and key
// created through the API, one stream relayed, usage projected into the
// key's statistics) on every NATS topology relay supports: `relay serve`
// with its embedded NATS reached in-process (NATS_LISTEN=off); the same
// embedded server listening on TCP, which the test reads as an external
// client would; and `relay edge` plus `relay worker` processes against a
// separate JetStream server over TCP (natstest: nats-server embedded in
// the test process; no nats-server binary is installed here, and reached
// over TCP it is what an external server is to relay) with a real
// redis-server.
func TestChaosSmokeOnEveryNATSTopology(t *testing.T) {
	chaosLong(t)
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage})
	t.Run("serve embedded NATS in-process", func(t *testing.T) {
		p := chaosStart(t, "serve", "serve", map[string]string{"DATA_DIR": t.TempDir(), "HOST": "127.0.0.1", "PORT": "0", "NATS_LISTEN": "off", "ADMIN_PASSWORD": chaosAdminPassword, "LOG_LEVEL": "warn"})
		p.awaitListening(t)
		chaosSmoke(t, p.base, up, nil)
	})
	t.Run("serve embedded NATS over TCP", func(t *testing.T) {
		port, dir := chaosFreePort(t), t.TempDir()
		p := chaosStart(t, "serve", "serve", map[string]string{"DATA_DIR": dir, "HOST": "127.0.0.1", "PORT": "0",
			"NATS_LISTEN": "127.0.0.1:" + strconv.Itoa(port), "ADMIN_PASSWORD": chaosAdminPassword, "LOG_LEVEL": "warn"})
		p.awaitListening(t)
		chaosSmoke(t, p.base, up, func() []events.Usage {
			_, js := trustConnect(t, fmt.Sprintf("nats://127.0.0.1:%d", port), dir, natsRelayUser)
			return chaosUsageEvents(t, js)
		})
	})
	t.Run("edge and worker, external NATS over TCP, real Redis", func(t *testing.T) {
		js, rb, env := chaosSplit(t)
		chaosStart(t, "worker", "worker", env)
		edge := chaosStart(t, "edge", "edge", env)
		edge.awaitListening(t)
		chaosSmoke(t, edge.base, up, func() []events.Usage { return chaosUsageEvents(t, js) })
		chaosWaitProjected(t, js, store.New(rb.Client, ""), 20*time.Second)
	})
}
