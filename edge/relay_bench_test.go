package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store/redistest"
)

// The whole relay in one process, for profiles of the hot path:
//
//	go test -run '^$' -bench 'RelayStream/real' -cpuprofile cpu.out ./edge/
//	go tool pprof -top edge.test cpu.out
//
// Each op is one Claude Code request through edgetest's relay (embedded
// JetStream, projectors, edge behind httptest) to a fast fake upstream:
// key check, admission and account choice in Redis, the upstream call, the
// SSE passthrough with the usage reader, the usage event's publish, and in
// the background its projection. serial is one client (latency per
// request); parallel is 8 clients per CPU (throughput). Allocations count
// the whole process: client, relay, NATS and, on the embedded backend,
// Redis.

func BenchmarkRelayStream(b *testing.B) { benchmarkRelay(b, true, nil) }

func BenchmarkRelayJSON(b *testing.B) { benchmarkRelay(b, false, nil) }

// BenchmarkRelayStreamNoFsync is BenchmarkRelayStream on a JetStream
// server that does not fsync every message (nats-server's default sync
// interval instead of SyncAlways, which `relay serve` and natstest use):
// the difference is what the per-event fsync costs the hot path.
func BenchmarkRelayStreamNoFsync(b *testing.B) {
	benchmarkRelay(b, true, func(tb testing.TB) *natstest.Server { return startNATSNoFsync(tb) })
}

func benchmarkRelay(b *testing.B, stream bool, nats func(testing.TB) *natstest.Server) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			var o edgetest.Options
			if nats != nil {
				o.NATS = nats(b)
			}
			env := edgetest.Start(b, be, o)
			up := upstreamtest.NewFast(b, upstreamtest.Reply{
				Text: strings.Repeat("The function reads the configuration once. ", 28), Deltas: 24,
				Model: "claude-sonnet-4-5-20250929",
				Usage: upstreamtest.Usage{InputTokens: 1800, OutputTokens: 420, CacheCreation5m: 1500, CacheRead: 12000},
			})
			env.CreateAccount(b, events.Account{Name: "bench", APIURL: up.URL, IsActive: true, Schedulable: true}, "sk-ant-bench-0001")
			key := env.CreateKey(b, events.Key{Name: "bench", IsActive: true})
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}}
			b.Cleanup(client.CloseIdleConnections)
			url := env.HTTP.URL + "/api/v1/messages"

			b.Run("serial", func(b *testing.B) {
				body := benchClaudeBody(0, stream)
				b.ReportAllocs()
				for b.Loop() {
					if err := relayOnce(client, url, key, body, stream); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.SetParallelism(8)
				b.ReportAllocs()
				var workers atomic.Int32
				b.RunParallel(func(pb *testing.PB) {
					body := benchClaudeBody(int(workers.Add(1)), stream)
					for pb.Next() {
						if err := relayOnce(client, url, key, body, stream); err != nil {
							b.Error(err) // not Fatal: this is not the benchmark's goroutine
							return
						}
					}
				})
			})
			env.WaitUsageProjected(b)
		})
	}
}

// relayOnce sends one request and reads the answer to its end.
func relayOnce(client *http.Client, url, key string, body []byte, stream bool) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	req.Header.Set("User-Agent", "claude-cli/2.0.14 (external, cli)")
	req.Header.Set("X-Api-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	case stream && !bytes.HasSuffix(bytes.TrimSpace(b), []byte(`{"type":"message_stop"}`)):
		return fmt.Errorf("stream without message_stop: %.300q", b[max(0, len(b)-300):])
	}
	return nil
}

// benchClaudeBody is a Claude Code turn of about 4 KB with a session of its
// own per worker.
func benchClaudeBody(worker int, stream bool) []byte {
	system := strings.Repeat("You are an interactive CLI tool that helps users with software engineering tasks. ", 32)
	prompt := strings.Repeat("Please explain the failing test in store/admission_test.go. ", 20)
	return fmt.Appendf(nil, `{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":%t,`+
		`"metadata":{"user_id":"user_%064x_account__session_4f1c2a9e-0b6d-4c1e-9a55-%012d"},`+
		`"system":[{"type":"text","text":%q,"cache_control":{"type":"ephemeral"}}],`+
		`"messages":[{"role":"user","content":[{"type":"text","text":%q}]}]}`,
		stream, worker+1, worker, system, prompt)
}

// startNATSNoFsync is natstest.Start without SyncAlways.
func startNATSNoFsync(tb testing.TB) *natstest.Server {
	tb.Helper()
	dir := tb.TempDir()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	srv := &natstest.Server{Server: s, StoreDir: dir, Port: s.Addr().(*net.TCPAddr).Port}
	tb.Cleanup(srv.Stop)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Defaults()); err != nil {
		tb.Fatal(err)
	}
	return srv
}
