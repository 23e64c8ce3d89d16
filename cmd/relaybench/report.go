package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// cellKey names one cell of the table.
type cellKey struct {
	mode   string
	conc   int
	system string
}

// cellAgg is one cell over all rounds.
type cellAgg struct {
	ok, errors    int
	window        time.Duration
	lat, ttfb     []time.Duration
	roundRPS      []float64
	cpu           map[string]time.Duration // process name -> CPU time in the windows
	lag           []time.Duration
	lagUnresolved int
	lagErrors     int
	errSamples    []string
	// pubSeconds and pubCount are relay's usage publish waits in the
	// windows (relay_usage_publish_seconds).
	pubSeconds, pubCount float64
}

func (a *cellAgg) add(r loadResult, cpu map[string]time.Duration) {
	a.ok += r.ok
	a.errors += r.errors
	a.window += r.window
	a.lat = append(a.lat, r.lat...)
	a.ttfb = append(a.ttfb, r.ttfb...)
	a.roundRPS = append(a.roundRPS, float64(r.ok)/r.window.Seconds())
	for name, t := range cpu {
		a.cpu[name] += t
	}
	for _, e := range r.errSamples {
		if len(a.errSamples) < maxErrSamples {
			a.errSamples = append(a.errSamples, e)
		}
	}
}

func (a *cellAgg) addLag(l lagResult) {
	a.lag = append(a.lag, l.lags...)
	a.lagUnresolved += l.unresolved
	a.lagErrors += l.errors
}

// pct returns the p-quantile (nearest rank) of ds; ds is sorted in place.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	if !slices.IsSorted(ds) {
		slices.Sort(ds)
	}
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

func perRequest(t time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	return t / time.Duration(n)
}

// results is what a run found: the JSON file, and what print shows.
type results struct {
	Started         time.Time  `json:"started"`
	Commit          string     `json:"commit"`
	Dirty           bool       `json:"dirty"`
	GoVersion       string     `json:"goVersion"`
	CPUs            int        `json:"cpus"`
	LoadAvgStart    string     `json:"loadAvgStart"`
	LoadAvgEnd      string     `json:"loadAvgEnd"`
	Config          configJSON `json:"config"`
	MeasuredSeconds float64    `json:"measuredSeconds"`
	Cells           []cellJSON `json:"cells"`
	Processes       []procJSON `json:"processes"`
	Lag             []lagJSON  `json:"projectionLag"`
	Leaks           []leakJSON `json:"leaks"`
	Goals           []goalJSON `json:"goals"`
	Perf            *perfJSON  `json:"perf,omitempty"`
}

type configJSON struct {
	Rounds        int      `json:"rounds"`
	DurationSec   float64  `json:"durationSeconds"`
	WarmupSec     float64  `json:"warmupSeconds"`
	Concurrency   []int    `json:"concurrency"`
	Modes         []string `json:"modes"`
	Deltas        int      `json:"deltas"`
	TextBytes     int      `json:"textBytes"`
	BodyBytes     int      `json:"bodyBytes"`
	LagEveryMs    float64  `json:"lagEveryMs"`
	RelayLogLevel string   `json:"relayLogLevel"`
}

type pctJSON struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

func pcts(ds []time.Duration) pctJSON {
	return pctJSON{P50: ms(pct(ds, 0.5)), P90: ms(pct(ds, 0.9)), P99: ms(pct(ds, 0.99))}
}

type cellJSON struct {
	Mode        string    `json:"mode"`
	Concurrency int       `json:"concurrency"`
	System      string    `json:"system"`
	Requests    int       `json:"requests"`
	Errors      int       `json:"errors"`
	Seconds     float64   `json:"seconds"`
	RPS         float64   `json:"rps"`
	RoundsRPS   []float64 `json:"roundsRps"`
	LatencyMs   pctJSON   `json:"latencyMs"`
	TTFBMs      pctJSON   `json:"ttfbMs"`
	// VsProxy is this system's throughput over the bare proxy's.
	VsProxy float64 `json:"vsProxy,omitempty"`
	// AddedP50Ms and AddedP99Ms are its latency minus direct's.
	AddedP50Ms float64 `json:"addedP50Ms,omitempty"`
	AddedP99Ms float64 `json:"addedP99Ms,omitempty"`
	// CPUPerRequestMs is the CPU time of the system's own process in the
	// measured windows divided by its requests; ByProcess is the same for
	// each process the system costs (relay-redis: relay and redis-server).
	CPUPerRequestMs          float64            `json:"cpuPerRequestMs"`
	CPUPerRequestByProcessMs map[string]float64 `json:"cpuPerRequestByProcessMs"`
	// UsagePublishMs is relay's mean wait for a usage event's ack (its
	// relay_usage_publish_seconds), part of every request's latency: the
	// terminal event waits for it.
	UsagePublishMs float64  `json:"usagePublishMs,omitempty"`
	ErrorSamples   []string `json:"errorSamples,omitempty"`
}

type procJSON struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMB  float64 `json:"peakRssMB"`
	RSSEndMB   float64 `json:"rssEndMB"`
}

// lagJSON is the projection lag of one relay, measured in its lag cells:
// streaming at Concurrency, at RPS.
type lagJSON struct {
	System      string  `json:"system"`
	Concurrency int     `json:"concurrency"`
	RPS         float64 `json:"rps"`
	Errors      int     `json:"errors"`
	Samples     int     `json:"samples"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	Unresolved  int     `json:"unresolved"`
	ProbeErrors int     `json:"probeErrors"`
}

type leakJSON struct {
	System          string  `json:"system"`
	InFlight        float64 `json:"inflight"`
	GoroutinesStart float64 `json:"goroutinesStart"`
	GoroutinesEnd   float64 `json:"goroutinesEnd"`
	// UpstreamConnsStart and End are relay's connections to the upstream.
	UpstreamConnsStart int `json:"upstreamConnsStart"`
	UpstreamConnsEnd   int `json:"upstreamConnsEnd"`
	// RedisConnsStart and End are relay's connections to its embedded
	// Redis (0 on a real redis-server).
	RedisConnsStart int    `json:"redisConnsStart"`
	RedisConnsEnd   int    `json:"redisConnsEnd"`
	LeaseMembers    int64  `json:"leaseMembers"`
	OK              bool   `json:"ok"`
	Error           string `json:"error,omitempty"`
}

type goalJSON struct {
	Goal   string  `json:"goal"`
	Target float64 `json:"target"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	// Rel is ">=" or "<=": how Value must compare with Target.
	Rel  string `json:"relation"`
	Met  bool   `json:"met"`
	Note string `json:"note"`
}

type perfJSON struct {
	System      string   `json:"system"`
	File        string   `json:"file"`
	Concurrency int      `json:"concurrency"`
	Seconds     float64  `json:"seconds"`
	Top         []string `json:"top"`
}

func newResults(o options) *results {
	r := &results{
		Started: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), LoadAvgStart: loadAverage(),
		Config: configJSON{
			Rounds: o.rounds, DurationSec: o.duration.Seconds(), WarmupSec: o.warmup.Seconds(), Concurrency: o.concurrency,
			Modes: o.modes, Deltas: o.deltas, TextBytes: o.textBytes, BodyBytes: o.bodyBytes,
			LagEveryMs: ms(o.lagEvery), RelayLogLevel: o.logLevel,
		},
	}
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		r.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	return r
}

// finish turns the aggregates into cells, lag figures and goals.
func (r *results) finish(b *bench) {
	r.LoadAvgEnd = loadAverage()
	for _, mode := range b.o.modes {
		for _, conc := range b.o.concurrency {
			for _, s := range b.sys {
				a := b.agg[cellKey{mode, conc, s.name}]
				if a == nil {
					continue
				}
				c := cellJSON{
					Mode: mode, Concurrency: conc, System: s.name, Requests: a.ok, Errors: a.errors,
					Seconds: a.window.Seconds(), RPS: float64(a.ok) / a.window.Seconds(), RoundsRPS: a.roundRPS,
					LatencyMs: pcts(a.lat), TTFBMs: pcts(a.ttfb), ErrorSamples: a.errSamples,
					CPUPerRequestMs: ms(perRequest(a.cpu[s.procs[0].name], a.ok)), CPUPerRequestByProcessMs: map[string]float64{},
				}
				for _, p := range s.procs {
					c.CPUPerRequestByProcessMs[p.name] = ms(perRequest(a.cpu[p.name], a.ok))
				}
				if s.relay != nil && a.pubCount > 0 {
					c.UsagePublishMs = a.pubSeconds / a.pubCount * 1000
				}
				if s.name != "direct" && s.name != "proxy" {
					if px := b.agg[cellKey{mode, conc, "proxy"}]; px != nil && px.ok > 0 {
						c.VsProxy = c.RPS / (float64(px.ok) / px.window.Seconds())
					}
					if d := b.agg[cellKey{mode, conc, "direct"}]; d != nil {
						c.AddedP50Ms = ms(pct(a.lat, 0.5) - pct(d.lat, 0.5))
						c.AddedP99Ms = ms(pct(a.lat, 0.99) - pct(d.lat, 0.99))
					}
				}
				r.Cells = append(r.Cells, c)
			}
		}
	}
	for _, s := range b.sys {
		a := b.lagAgg[s.name]
		if a == nil {
			continue
		}
		r.Lag = append(r.Lag, lagJSON{
			System: s.name, Concurrency: slices.Max(b.o.concurrency), RPS: float64(a.ok) / a.window.Seconds(), Errors: a.errors,
			Samples: len(a.lag), P50Ms: ms(pct(a.lag, 0.5)), P99Ms: ms(pct(a.lag, 0.99)), MaxMs: ms(pct(a.lag, 1)),
			Unresolved: a.lagUnresolved, ProbeErrors: a.lagErrors,
		})
	}
	r.Goals = r.goals(b)
}

func (r *results) cell(mode string, conc int, system string) *cellJSON {
	for i := range r.Cells {
		if c := &r.Cells[i]; c.Mode == mode && c.Concurrency == conc && c.System == system {
			return c
		}
	}
	return nil
}

// goals checks the figures of issue 7.
func (r *results) goals(b *bench) []goalJSON {
	var gs []goalJSON
	atLeast := func(goal string, target, value float64, unit, note string) {
		gs = append(gs, goalJSON{Goal: goal, Target: target, Value: value, Unit: unit, Rel: ">=", Met: value >= target, Note: note})
	}
	atMost := func(goal string, target, value float64, unit, note string) {
		gs = append(gs, goalJSON{Goal: goal, Target: target, Value: value, Unit: unit, Rel: "<=", Met: value <= target, Note: note})
	}
	for _, s := range b.sys {
		if s.relay == nil {
			continue
		}
		for _, conc := range []int{16, 64} {
			if c := r.cell("stream", conc, s.name); c != nil {
				atLeast(fmt.Sprintf("%s stream c=%d throughput / proxy", s.name, conc), 0.5, c.VsProxy, "x", "")
			}
		}
		for _, mode := range b.o.modes {
			if c := r.cell(mode, 1, s.name); c != nil {
				atMost(fmt.Sprintf("%s %s c=1 added p50 over direct", s.name, mode), 1, c.AddedP50Ms, "ms", "")
			}
		}
		for _, mode := range b.o.modes {
			if c := r.cell(mode, 16, s.name); c != nil {
				atMost(fmt.Sprintf("%s %s c=16 added p99 over direct", s.name, mode), 5, c.AddedP99Ms, "ms", "")
			}
		}
		var cpu time.Duration
		var n, worstAt int
		var worst float64
		for k, a := range b.agg {
			if k.system == s.name {
				cpu += a.cpu[s.name]
				n += a.ok
				if v := ms(perRequest(a.cpu[s.name], a.ok)); v > worst {
					worst, worstAt = v, k.conc
				}
			}
		}
		atMost(s.name+" CPU per request (all cells)", 0.25, ms(perRequest(cpu, n)), "ms",
			fmt.Sprintf("worst cell %.3f ms (c=%d)", worst, worstAt))
		for _, p := range r.Processes {
			if p.Name == s.name {
				note := "no Redis in the process"
				if s.relay.embeddedRedis {
					note = "includes the embedded Redis and its data"
				}
				atMost(s.name+" peak RSS", 60, p.PeakRSSMB, "MB", fmt.Sprintf("%s; RSS at end %.1f MB", note, p.RSSEndMB))
			}
		}
		for _, l := range r.Lag {
			if l.System == s.name {
				atMost(s.name+" projection lag p99", 50, l.P99Ms, "ms",
					fmt.Sprintf("p50 %.1f ms at %.0f req/s (stream c=%d), %d samples, %d unresolved, resolution %v",
						l.P50Ms, l.RPS, l.Concurrency, l.Samples, l.Unresolved, b.o.lagEvery))
			}
		}
		for _, l := range r.Leaks {
			if l.System == s.name {
				v := 0.0
				if !l.OK {
					v = 1
				}
				atMost(s.name+" no leaks after the run", 0, v, "",
					strings.TrimSpace(fmt.Sprintf("inflight %.0f, goroutines %.0f -> %.0f (upstream conns %d -> %d), lease members %d %s",
						l.InFlight, l.GoroutinesStart, l.GoroutinesEnd, l.UpstreamConnsStart, l.UpstreamConnsEnd, l.LeaseMembers, l.Error)))
			}
		}
	}
	errs := 0
	for _, c := range r.Cells {
		errs += c.Errors
	}
	for _, l := range r.Lag {
		errs += l.Errors
	}
	atMost("errors (every system, every cell)", 0, float64(errs), "", "")
	return gs
}

// print writes the tables.
func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "\nrelaybench  %s  commit %.12s dirty=%t  %s  %d CPUs  load %s -> %s\n",
		r.Started.Format(time.RFC3339), r.Commit, r.Dirty, r.GoVersion, r.CPUs, r.LoadAvgStart, r.LoadAvgEnd)
	fmt.Fprintf(w, "%d rounds x %.1fs per cell (+%.2fs warm-up), request ~%d B, answer %d deltas; latencies in ms\n\n",
		r.Config.Rounds, r.Config.DurationSec, r.Config.WarmupSec, r.Config.BodyBytes, r.Config.Deltas)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tc\tsystem\treq/s\t/proxy\tp50\tp90\tp99\tttfb50\tttfb90\tttfb99\t+p50\t+p99\terrors\tcpu/req\t+redis\tpub\t")
	for _, c := range r.Cells {
		vs, add50, add99, redisCPU, pub := "", "", "", "", ""
		if c.System != "direct" && c.System != "proxy" {
			vs, add50, add99 = fmt.Sprintf("%.2fx", c.VsProxy), fmt.Sprintf("%.2f", c.AddedP50Ms), fmt.Sprintf("%.2f", c.AddedP99Ms)
		}
		if v, ok := c.CPUPerRequestByProcessMs["redis-server"]; ok {
			redisCPU = fmt.Sprintf("%.3f", v)
		}
		if c.UsagePublishMs > 0 {
			pub = fmt.Sprintf("%.2f", c.UsagePublishMs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%d\t%.3f\t%s\t%s\t\n",
			c.Mode, c.Concurrency, c.System, c.RPS, vs, c.LatencyMs.P50, c.LatencyMs.P90, c.LatencyMs.P99,
			c.TTFBMs.P50, c.TTFBMs.P90, c.TTFBMs.P99, add50, add99, c.Errors, c.CPUPerRequestMs, redisCPU, pub)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n/proxy: throughput over the bare proxy's; +p50/+p99: latency minus direct's; cpu/req: the system's own process")
	fmt.Fprintln(w, "(+redis: redis-server's); ttfb: first body byte; pub: relay's mean wait for the usage event's ack")

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tpid\tcpu s\tpeak RSS MB\tRSS end MB\t")
	for _, p := range r.Processes {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t\n", p.Name, p.PID, p.CPUSeconds, p.PeakRSSMB, p.RSSEndMB)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nprojection lag: usage event in the USAGE stream -> counted by the usage projection in Redis,\n")
	fmt.Fprintf(w, "sampled every %gms in lag cells of their own (the probe's polling costs relay CPU)\n", r.Config.LagEveryMs)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "projection lag\tunder stream c\treq/s\tsamples\tp50 ms\tp99 ms\tmax ms\tunresolved\t")
	for _, l := range r.Lag {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%d\t\n", l.System, l.Concurrency, l.RPS, l.Samples, l.P50Ms, l.P99Ms, l.MaxMs, l.Unresolved)
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "after the run\tinflight\tgoroutines start\tend\tupstream conns start\tend\tembedded Redis conns start\tend\tlease members\tok\t")
	for _, l := range r.Leaks {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%t\t\n", l.System, l.InFlight, l.GoroutinesStart, l.GoroutinesEnd,
			l.UpstreamConnsStart, l.UpstreamConnsEnd, l.RedisConnsStart, l.RedisConnsEnd, l.LeaseMembers, l.OK)
	}
	tw.Flush()

	fmt.Fprintln(w, "\ngoals (issue 7)")
	for _, g := range r.Goals {
		verdict := "MET "
		if !g.Met {
			verdict = "MISS"
		}
		line := fmt.Sprintf("  %s  %-46s %8.3f %-2s (goal %s %g)", verdict, g.Goal, g.Value, g.Unit, g.Rel, g.Target)
		if !g.Met && g.Target != 0 {
			line += fmt.Sprintf(" off by %.0f%%", math.Abs(g.Value-g.Target)/g.Target*100)
		}
		if g.Note != "" {
			line += "  " + g.Note
		}
		fmt.Fprintln(w, line)
	}
	for _, c := range r.Cells {
		for _, e := range c.ErrorSamples {
			fmt.Fprintf(w, "  error %s c=%d %s: %s\n", c.Mode, c.Concurrency, c.System, e)
		}
	}
	if r.Perf != nil {
		fmt.Fprintf(w, "\nperf: %s, stream c=%d for %.0fs (%s); top functions by self time:\n", r.Perf.System, r.Perf.Concurrency, r.Perf.Seconds, r.Perf.File)
		for _, l := range r.Perf.Top {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

func (r *results) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
