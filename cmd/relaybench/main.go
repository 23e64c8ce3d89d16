package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case cmdUpstream:
			err = runUpstream(os.Args[2:])
		case cmdProxy:
			err = runProxy(os.Args[2:])
		case cmdNATS:
			err = runNATS(os.Args[2:])
		default:
			os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "relaybench %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(nil, os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	relayBin, redisBin, realRedis string
	out, workDir, logLevel, perf  string
	rounds                        int
	duration, warmup, lagEvery    time.Duration
	concurrency                   []int
	modes                         []string
	deltas, textBytes, bodyBytes  int
	keep, nosync                  bool
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("relaybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.relayBin, "relay", "bin/relay", "the relay binary (make build)")
	fs.StringVar(&o.redisBin, "redis-server", "redis-server", "the redis-server binary for the real-Redis relay")
	fs.StringVar(&o.realRedis, "real-redis", "auto", "run relay on a real redis-server too: auto (when installed), on, off")
	fs.StringVar(&o.out, "out", "bench-results.json", "where to write the results as JSON")
	fs.StringVar(&o.workDir, "workdir", "", "directory for relay data and logs (default: a temporary one, removed unless -keep)")
	fs.StringVar(&o.logLevel, "log-level", "info", "relay's LOG_LEVEL (info is its default: one line per request)")
	fs.StringVar(&o.perf, "perf", "", "after the rounds, record relay with `perf record -g` under streaming load at the highest concurrency into this file and print its top functions")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every system in every cell once")
	fs.DurationVar(&o.duration, "duration", 1800*time.Millisecond, "measured time per system per cell per round (the defaults take about 3 minutes)")
	fs.DurationVar(&o.warmup, "warmup", 200*time.Millisecond, "unmeasured lead-in before each measurement")
	fs.DurationVar(&o.lagEvery, "lag-every", 5*time.Millisecond, "sampling period of the projection lag probe (its resolution)")
	conc := fs.String("concurrency", "1,16,64", "comma-separated client concurrencies")
	modes := fs.String("modes", "stream,json", "comma-separated: stream (SSE), json (non-streaming)")
	fs.IntVar(&o.deltas, "deltas", 24, "text deltas per streamed answer")
	fs.IntVar(&o.textBytes, "text-bytes", 1200, "answer text length")
	fs.IntVar(&o.bodyBytes, "body-bytes", 4096, "approximate request body size")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (relay logs and data)")
	fs.BoolVar(&o.nosync, "nosync", false, "also measure relay-nosync: relay on an external JetStream that does not fsync every event (an experiment: relay serve's embedded NATS always does)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("-concurrency: %q is not a positive integer", s))
			continue
		}
		o.concurrency = append(o.concurrency, n)
	}
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		if m != "stream" && m != "json" {
			errs = append(errs, fmt.Errorf("-modes: %q is neither stream nor json", m))
			continue
		}
		o.modes = append(o.modes, m)
	}
	if o.rounds < 1 || o.duration <= 0 || o.warmup < 0 || o.lagEvery <= 0 {
		errs = append(errs, errors.New("-rounds, -duration and -lag-every must be positive, -warmup not negative"))
	}
	if o.realRedis != "auto" && o.realRedis != "on" && o.realRedis != "off" {
		errs = append(errs, fmt.Errorf("-real-redis %q: want auto, on or off", o.realRedis))
	}
	if runtime.GOOS != "linux" {
		errs = append(errs, errors.New("relaybench reads /proc: Linux only"))
	}
	return o, errors.Join(errs...)
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "relaybench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := &bench{o: o, log: stderr, agg: map[cellKey]*cellAgg{}, lagAgg: map[string]*cellAgg{}, bodies: &requestBodies{bodyBytes: o.bodyBytes}}
	res, err := b.run(ctx)
	if err != nil && b.work != "" {
		fmt.Fprintf(stderr, "relaybench: logs and data in %s\n", b.work)
	}
	if res != nil {
		res.print(stdout)
		if werr := res.write(o.out); werr != nil {
			err = errors.Join(err, werr)
		} else {
			fmt.Fprintf(stdout, "\nresults written to %s\n", o.out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "relaybench: %v\n", err)
		return 1
	}
	return 0
}

// system is one thing under load.
type system struct {
	name   string
	target target
	// procs are the processes whose CPU time the system costs; the first is
	// the system itself.
	procs []*proc
	relay *relayProc // nil for direct and proxy
}

// bench is one run of the harness.
type bench struct {
	o      options
	log    io.Writer
	work   string
	procs  []*proc // every process, in start order
	relays []*relayProc
	probes map[string]*lagProbe
	sys    []system
	client *http.Client
	tr     *http.Transport
	bodies *requestBodies
	agg    map[cellKey]*cellAgg
	// lagAgg holds each relay's lag cells: streaming at the highest
	// concurrency with the lag probe on. They are apart from agg because
	// the probe's polling costs relay CPU.
	lagAgg map[string]*cellAgg
	// goroutinesStart is each relay's go_goroutines after the warm-up, and
	// connsStart its idle connections to the upstream then (each holds two
	// goroutines of net/http's transport).
	goroutinesStart map[string]float64
	connsStart      map[string]int
	// redisConnsStart is the embedded Redis's connections then: each holds
	// one goroutine of miniredis in relay's own process.
	redisConnsStart map[string]int
	upstreamPort    int
}

func (b *bench) logf(format string, args ...any) { fmt.Fprintf(b.log, format+"\n", args...) }

func (b *bench) run(ctx context.Context) (*results, error) {
	res := newResults(b.o)
	if err := b.start(ctx); err != nil {
		b.shutdown()
		return nil, err
	}
	b.warmUp(ctx)
	b.goroutinesStart, b.connsStart, b.redisConnsStart = map[string]float64{}, map[string]int{}, map[string]int{}
	for _, r := range b.relays {
		m, err := r.metrics(ctx, "go_goroutines")
		if err != nil {
			b.shutdown()
			return nil, err
		}
		b.goroutinesStart[r.name] = m["go_goroutines"]
		b.connsStart[r.name] = connectionsTo(r.pid(), b.upstreamPort)
		b.redisConnsStart[r.name] = r.embeddedRedisConns()
	}
	began := time.Now()
	for round := range b.o.rounds {
		for _, mode := range b.o.modes {
			for _, conc := range b.o.concurrency {
				c := cell{stream: mode == "stream", concurrency: conc, warmup: b.o.warmup, dur: b.o.duration}
				for i := range b.sys {
					s := b.sys[(i+round)%len(b.sys)] // rotate who goes first
					if err := b.measure(ctx, round, s, mode, c, false); err != nil {
						b.shutdown()
						return nil, err
					}
				}
			}
		}
		lagCell := cell{stream: true, concurrency: slices.Max(b.o.concurrency), warmup: b.o.warmup, dur: b.o.duration}
		for _, s := range b.sys {
			if s.relay == nil {
				continue
			}
			if err := b.measure(ctx, round, s, "lag", lagCell, true); err != nil {
				b.shutdown()
				return nil, err
			}
		}
	}
	res.MeasuredSeconds = time.Since(began).Seconds()
	if b.o.perf != "" {
		if err := b.profile(ctx, res); err != nil {
			b.logf("perf: %v", err)
		}
	}
	res.Leaks = b.checkLeaks(ctx)
	res.Processes = b.processes()
	res.finish(b)
	if err := b.shutdown(); err != nil {
		return res, err
	}
	if !b.o.keep && b.o.workDir == "" {
		os.RemoveAll(b.work)
	} else {
		b.logf("relay logs and data kept in %s", b.work)
	}
	return res, nil
}

// start launches the upstream, the proxy, redis-server and the relays, and
// seeds the relays.
func (b *bench) start(ctx context.Context) error {
	bin, err := exec.LookPath(b.o.relayBin)
	if err != nil {
		return fmt.Errorf("relay binary: %w (run make build, or pass -relay)", err)
	}
	if b.work = b.o.workDir; b.work == "" {
		if b.work, err = os.MkdirTemp("", "relaybench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(b.work, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	up, err := startProc(ctx, "upstream", exec.Command(self, cmdUpstream,
		"-deltas", strconv.Itoa(b.o.deltas), "-text-bytes", strconv.Itoa(b.o.textBytes)),
		filepath.Join(b.work, "upstream.log"), true)
	if err != nil {
		return err
	}
	b.procs = append(b.procs, up)
	if u, err := url.Parse(up.url); err == nil {
		b.upstreamPort, _ = strconv.Atoi(u.Port())
	}
	px, err := startProc(ctx, "proxy", exec.Command(self, cmdProxy, "-target", up.url), filepath.Join(b.work, "proxy.log"), true)
	if err != nil {
		return err
	}
	b.procs = append(b.procs, px)
	b.tr = benchTransport()
	b.client = &http.Client{Transport: b.tr}
	b.sys = []system{
		{name: "direct", target: target{name: "direct", url: up.url + "/v1/messages"}, procs: []*proc{up}},
		{name: "proxy", target: target{name: "proxy", url: px.url + "/v1/messages"}, procs: []*proc{px}},
	}

	var redisSrv *proc
	var redisURL string
	switch _, lookErr := exec.LookPath(b.o.redisBin); {
	case b.o.realRedis == "off":
	case lookErr != nil && b.o.realRedis == "auto":
		b.logf("relaybench: %s not found: measuring relay on its embedded Redis only", b.o.redisBin)
	case lookErr != nil:
		return fmt.Errorf("-real-redis on: %w", lookErr)
	default:
		if redisSrv, redisURL, err = startRedis(ctx, b.o.redisBin, b.work); err != nil {
			return err
		}
	}
	type variant struct {
		name, redisURL, natsURL string
		extra                   []*proc // other processes whose CPU it costs
	}
	variants := []variant{{name: "relay"}}
	if redisSrv != nil {
		b.procs = append(b.procs, redisSrv)
		variants = append(variants, variant{name: "relay-redis", redisURL: redisURL + "/0", extra: []*proc{redisSrv}})
	}
	if b.o.nosync {
		dir := filepath.Join(b.work, "nats-nosync")
		nats, err := startProc(ctx, "nats-nosync", exec.Command(self, cmdNATS, "-dir", dir), filepath.Join(b.work, "nats-nosync.log"), true)
		if err != nil {
			return err
		}
		b.procs = append(b.procs, nats)
		v := variant{name: "relay-nosync", natsURL: nats.url, extra: []*proc{nats}}
		if redisSrv != nil {
			v.redisURL, v.extra = redisURL+"/1", []*proc{nats, redisSrv}
		}
		variants = append(variants, v)
	}
	b.probes = map[string]*lagProbe{}
	for _, v := range variants {
		r, err := startRelay(ctx, bin, v.name, b.work, v.redisURL, v.natsURL, b.o.logLevel)
		if err != nil {
			return err
		}
		b.procs = append(b.procs, r.proc)
		b.relays = append(b.relays, r)
		if err := r.seed(ctx, up.url); err != nil {
			return err
		}
		p, err := newLagProbe(ctx, r.natsAddr, r.natsPassword, r.redisURL, b.o.lagEvery)
		if err != nil {
			return fmt.Errorf("%s: lag probe: %w", v.name, err)
		}
		b.probes[v.name] = p
		b.sys = append(b.sys, system{
			name: v.name, target: target{name: v.name, url: r.url + "/api/v1/messages", apiKey: r.key},
			procs: append([]*proc{r.proc}, v.extra...), relay: r,
		})
		b.logf("relaybench: %s at %s (NATS %s, Redis %s)", v.name, r.url, r.natsAddr, r.redisURL)
	}
	return nil
}

// warmUp runs every system briefly at the highest concurrency, so pools,
// connections and caches are warm before anything counts.
func (b *bench) warmUp(ctx context.Context) {
	top := slices.Max(b.o.concurrency)
	for _, s := range b.sys {
		for _, stream := range []bool{true, false} {
			r := runLoad(ctx, b.client, s.target, cell{stream: stream, concurrency: top, dur: 500 * time.Millisecond}, b.bodies, func(bool) {})
			if r.errors > 0 {
				b.logf("relaybench: warm-up %s: %d errors, e.g. %v", s.name, r.errors, r.errSamples)
			}
		}
	}
	b.tr.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
}

// measure runs one system in one cell and adds the result to the
// aggregate; with lag, it runs the system's lag probe and adds to lagAgg.
func (b *bench) measure(ctx context.Context, round int, s system, mode string, c cell, lag bool) error {
	var cpu0 map[*proc]time.Duration
	cpu := map[string]time.Duration{}
	// pub0 and pub are relay's usage publish histogram (sum, count) at the
	// window's ends: how long requests waited for their event's ack.
	var pub0, pub [2]float64
	readPub := func() [2]float64 {
		m, _ := s.relay.metrics(ctx, pubSum, pubCount)
		return [2]float64{m[pubSum], m[pubCount]}
	}
	stopLag := make(chan struct{})
	lagDone := make(chan lagResult, 1)
	var probe *lagProbe
	if lag {
		probe = b.probes[s.name]
	}
	mark := func(start bool) {
		snap := map[*proc]time.Duration{}
		for _, p := range b.procs {
			if t, err := procCPU(p.pid()); err == nil {
				snap[p] = t
			}
		}
		if s.relay != nil {
			if start {
				pub0 = readPub()
			} else {
				pub = readPub()
			}
		}
		if start {
			cpu0 = snap
			if probe != nil {
				go func() { lagDone <- probe.run(ctx, stopLag, 5*time.Second) }()
			}
			return
		}
		for p, t := range snap {
			cpu[p.name] = t - cpu0[p]
		}
		close(stopLag)
	}
	r := runLoad(ctx, b.client, s.target, c, b.bodies, mark)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, p := range b.procs {
		if p.exited() {
			return fmt.Errorf("%s exited during the load (%v):\n%s", p.name, p.waitErr, p.logTail())
		}
	}
	k := cellKey{mode: mode, conc: c.concurrency, system: s.name}
	a := b.agg[k]
	if lag {
		a = b.lagAgg[s.name]
	}
	if a == nil {
		a = &cellAgg{cpu: map[string]time.Duration{}}
		if lag {
			b.lagAgg[s.name] = a
		} else {
			b.agg[k] = a
		}
	}
	a.add(r, cpu)
	a.pubSeconds += pub[0] - pub0[0]
	a.pubCount += pub[1] - pub0[1]
	if probe != nil {
		a.addLag(<-lagDone)
	}
	rps := float64(r.ok) / r.window.Seconds()
	b.logf("round %d/%d %-6s c=%-3d %-11s %8.0f req/s  p50 %6.2fms  p99 %6.2fms  errors %d  cpu/req %.3fms",
		round+1, b.o.rounds, mode, c.concurrency, s.name, rps, ms(pct(r.lat, 0.5)), ms(pct(r.lat, 0.99)), r.errors,
		ms(perRequest(cpu[s.procs[0].name], r.ok)))
	return nil
}

// checkLeaks waits for the relays to settle after the load, then reads
// their in-flight gauge and goroutine count and the lease sets in their
// Redis. Goroutines may exceed the post-warm-up count by goroutineSlack,
// plus two per idle upstream connection more than then (the transport's
// read and write loops, which live until IdleConnTimeout) and one per
// embedded Redis connection more than then (miniredis serves each in a
// goroutine of relay's process; the client pool keeps idle ones).
func (b *bench) checkLeaks(ctx context.Context) []leakJSON {
	b.tr.CloseIdleConnections()
	var out []leakJSON
	for _, r := range b.relays {
		l := leakJSON{System: r.name, GoroutinesStart: b.goroutinesStart[r.name], UpstreamConnsStart: b.connsStart[r.name], RedisConnsStart: b.redisConnsStart[r.name]}
		var allowed float64
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, err := r.metrics(ctx, "relay_inflight_requests", "go_goroutines")
			if err != nil {
				l.Error = err.Error()
				break
			}
			l.InFlight, l.GoroutinesEnd = m["relay_inflight_requests"], m["go_goroutines"]
			l.UpstreamConnsEnd = connectionsTo(r.pid(), b.upstreamPort)
			l.RedisConnsEnd = r.embeddedRedisConns()
			allowed = l.GoroutinesStart + goroutineSlack + 2*float64(max(0, l.UpstreamConnsEnd-l.UpstreamConnsStart)) +
				float64(max(0, l.RedisConnsEnd-l.RedisConnsStart))
			if l.InFlight == 0 && l.GoroutinesEnd <= allowed || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if p := b.probes[r.name]; p != nil {
			n, err := leaseMembers(ctx, p.rdb)
			l.LeaseMembers = n
			if err != nil {
				l.Error = strings.TrimPrefix(l.Error+"; "+err.Error(), "; ")
			}
		}
		l.OK = l.Error == "" && l.InFlight == 0 && l.GoroutinesEnd <= allowed && l.LeaseMembers == 0
		out = append(out, l)
	}
	return out
}

// The usage publish histogram's series in relay's /metrics.
const (
	pubSum   = "relay_usage_publish_seconds_sum"
	pubCount = "relay_usage_publish_seconds_count"
)

// goroutineSlack is how far above its post-warm-up count relay's goroutines
// may stay after the load: timers and idle connections come and go.
const goroutineSlack = 10

// processes reads every process's CPU time and memory at the end.
func (b *bench) processes() []procJSON {
	var out []procJSON
	for _, p := range b.procs {
		j := procJSON{Name: p.name, PID: p.pid()}
		if t, err := procCPU(p.pid()); err == nil {
			j.CPUSeconds = t.Seconds()
		}
		if peak, now, err := procMem(p.pid()); err == nil {
			j.PeakRSSMB, j.RSSEndMB = mb(peak), mb(now)
		}
		out = append(out, j)
	}
	return out
}

// shutdown stops the relays (they drain), then the other processes.
func (b *bench) shutdown() error {
	for _, p := range b.probes {
		p.close()
	}
	b.probes = nil
	ordered := slices.Clone(b.procs)
	slices.SortStableFunc(ordered, func(x, y *proc) int { return relayFirst(x) - relayFirst(y) })
	err := stopAll(ordered...)
	b.procs = nil
	return err
}

func relayFirst(p *proc) int {
	if strings.HasPrefix(p.name, "relay") {
		return 0
	}
	return 1
}

// profile records relay's CPU with perf under streaming load at the
// highest concurrency, and keeps the top of the report.
func (b *bench) profile(ctx context.Context, res *results) error {
	perf, err := exec.LookPath("perf")
	if err != nil {
		return err
	}
	// relay-redis when there is one: no Redis in relay's profile.
	i := slices.IndexFunc(b.sys, func(s system) bool { return s.name == "relay-redis" })
	if i < 0 {
		i = slices.IndexFunc(b.sys, func(s system) bool { return s.name == "relay" })
	}
	s := b.sys[i]
	top := slices.Max(b.o.concurrency)
	dur := max(b.o.duration, 5*time.Second)
	rec := exec.CommandContext(ctx, perf, "record", "-F", "999", "-g", "-p", strconv.Itoa(s.procs[0].pid()),
		"-o", b.o.perf, "--", "sleep", strconv.FormatFloat(dur.Seconds(), 'f', 1, 64))
	out := &strings.Builder{}
	rec.Stdout, rec.Stderr = out, out
	if err := rec.Start(); err != nil {
		return err
	}
	runLoad(ctx, b.client, s.target, cell{stream: true, concurrency: top, warmup: 0, dur: dur + 500*time.Millisecond}, b.bodies, func(bool) {})
	if err := rec.Wait(); err != nil {
		return fmt.Errorf("perf record: %w\n%s", err, out)
	}
	rep, err := exec.CommandContext(ctx, perf, "report", "-i", b.o.perf, "--stdio", "--no-children",
		"--sort", "symbol", "--percent-limit", "1", "-g", "none").Output()
	if err != nil {
		return fmt.Errorf("perf report: %w", err)
	}
	var lines []string
	for l := range strings.Lines(string(rep)) {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	res.Perf = &perfJSON{System: s.name, File: b.o.perf, Concurrency: top, Seconds: dur.Seconds(), Top: lines[:min(len(lines), 40)]}
	return nil
}
