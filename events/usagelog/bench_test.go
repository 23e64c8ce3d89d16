package usagelog_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/streams"
	"relay/events/usagelog"
)

// The benchmark stream is published once per test binary: 1,000,000 usage
// events by default (250,000 under the race detector; LEDGER_BENCH_EVENTS
// overrides), about 680 bytes each as the edge writes them.
//
// The server runs in a child process (this test binary re-executed), as
// `relay serve` does for `relay replay`: in-process, its own heap (the
// stream's index, a million message ids in the duplicate window) would be
// scanned by every garbage collection the replay triggers and the figure
// would measure that instead. It is natstest's configuration without
// SyncAlways, since an fsync per message would make publishing a million
// take minutes, and replay only reads.
var bench struct {
	once sync.Once
	js   jetstream.JetStream
	n    int
	err  error
	stop func()
	pid  int // the server's
}

// benchServerEnv names the store directory of the child server process.
const benchServerEnv = "LEDGER_BENCH_SERVER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchServerEnv); dir != "" {
		os.Exit(serveBenchStream(dir))
	}
	code := m.Run()
	if bench.stop != nil {
		bench.stop()
	}
	os.Exit(code)
}

// serveBenchStream is the child: a JetStream server whose URL goes to
// stdout, running until stdin closes (the parent ended or died).
func serveBenchStream(dir string) int {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "bench server not ready")
		return 1
	}
	fmt.Println(srv.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Shutdown()
	srv.WaitForShutdown()
	return 0
}

func benchStream(b testing.TB) (jetstream.JetStream, int) {
	bench.once.Do(func() { bench.js, bench.n, bench.err = startBenchStream() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.js, bench.n
}

func startBenchStream() (jetstream.JetStream, int, error) {
	n := 1_000_000
	if raceBuild {
		n = 250_000 // 3 minutes to publish instead of 13
	}
	if v := os.Getenv("LEDGER_BENCH_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dir, err := os.MkdirTemp("", "ledger-bench-")
	if err != nil {
		return nil, 0, err
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), benchServerEnv+"="+dir)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return nil, 0, err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := child.Start(); err != nil {
		return nil, 0, err
	}
	bench.pid = child.Process.Pid
	bench.stop = func() { stdin.Close(); _ = child.Wait(); os.RemoveAll(dir) }
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, 0, fmt.Errorf("bench server: %w", err)
	}
	nc, err := nats.Connect(strings.TrimSpace(url))
	if err != nil {
		return nil, 0, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		return nil, 0, err
	}
	ctx := context.Background()
	if err := streams.Provision(ctx, js, streams.Defaults()); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	base := fixture(1000, 99)
	for i := range n {
		u := base[i%len(base)]
		u.ID = fmt.Sprintf("bench-%09d", i)
		env, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "key:"+u.KeyID, u.ID, u)
		if err != nil {
			return nil, 0, err
		}
		m, err := streams.Msg(events.UsageSubject(u.Platform, u.KeyID), env)
		if err != nil {
			return nil, 0, err
		}
		for {
			if _, err = js.PublishMsgAsync(m, jetstream.WithMsgID(env.ID)); err == nil {
				break
			}
			<-js.PublishAsyncComplete() // too many in flight: let the acks catch up
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return nil, 0, fmt.Errorf("publishing did not complete")
	}
	fmt.Fprintf(os.Stderr, "bench: published %d usage events in %s\n", n, time.Since(start).Round(time.Millisecond))
	return js, n, nil
}

func benchReplay(b *testing.B, q usagelog.Query, sink func() usagelog.Sink) {
	js, n := benchStream(b)
	ctx := context.Background()
	// As `relay replay` runs it: it collects garbage less often than the
	// default (cmd/relay/replay.go). The server keeps its own setting.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var read uint64
	cpu0, srv0 := cpuTime(), processCPU(bench.pid)
	for b.Loop() {
		s := sink()
		st, err := usagelog.Replay(ctx, js, q, s.Add)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if st.Read != uint64(n) {
			b.Fatalf("read %d of %d", st.Read, n)
		}
		read += st.Read
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
	// CPU per event of the replaying process and of the server process:
	// on a machine other work competes for, these say what the wall clock
	// cannot. With a core each, a replay runs at about 1e9 / the larger.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "client-cpu-ns/event")
	}
	if cpu := processCPU(bench.pid) - srv0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "server-cpu-ns/event")
	}
}

// BenchmarkReplayNDJSON is `relay replay > file`: every event, raw.
func BenchmarkReplayNDJSON(b *testing.B) {
	benchReplay(b, usagelog.Query{}, func() usagelog.Sink { return usagelog.NewEventSink(io.Discard, usagelog.NDJSON) })
}

// BenchmarkReplayBatch compares pull batch sizes.
func BenchmarkReplayBatch(b *testing.B) {
	for _, n := range []int{1024, 4096, 16384} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			benchReplay(b, usagelog.Query{Batch: n}, func() usagelog.Sink { return usagelog.NewEventSink(io.Discard, usagelog.NDJSON) })
		})
	}
}

// BenchmarkReplayModelFilter reads every payload's fields to filter.
func BenchmarkReplayModelFilter(b *testing.B) {
	benchReplay(b, usagelog.Query{Filter: usagelog.Filter{Models: []string{"claude-opus-4-6"}}},
		func() usagelog.Sink { return usagelog.NewEventSink(io.Discard, usagelog.NDJSON) })
}

// BenchmarkReplayGroupByDayKey aggregates every event.
func BenchmarkReplayGroupByDayKey(b *testing.B) {
	benchReplay(b, usagelog.Query{}, func() usagelog.Sink {
		return usagelog.NewAggregateSink(io.Discard, usagelog.NDJSON, []usagelog.Dim{usagelog.DimDay, usagelog.DimKey}, time.UTC)
	})
}

// BenchmarkReplayCSV decodes and writes every event as a CSV row.
func BenchmarkReplayCSV(b *testing.B) {
	benchReplay(b, usagelog.Query{}, func() usagelog.Sink { return usagelog.NewEventSink(io.Discard, usagelog.CSV) })
}

// benchExport is Export of the whole stream to f, as GET
// /api/v2/usage/export streams it (the HTTP response is io.Discard here).
func benchExport(b *testing.B, f usagelog.Format) {
	js, n := benchStream(b)
	ctx := context.Background()
	var read uint64
	cpu0, srv0 := cpuTime(), processCPU(bench.pid)
	for b.Loop() {
		st, err := usagelog.Export(ctx, js, usagelog.ExportRequest{Format: f}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if st.Read != uint64(n) {
			b.Fatalf("read %d of %d", st.Read, n)
		}
		read += st.Read
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "client-cpu-ns/event")
	}
	if cpu := processCPU(bench.pid) - srv0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(read), "server-cpu-ns/event")
	}
}

// BenchmarkExportCSV is the usage export in CSV, every event of the stream.
func BenchmarkExportCSV(b *testing.B) { benchExport(b, usagelog.CSV) }

// BenchmarkExportNDJSON is the usage export in NDJSON.
func BenchmarkExportNDJSON(b *testing.B) { benchExport(b, usagelog.NDJSON) }
