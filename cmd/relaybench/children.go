package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"relay/edge/upstreamtest"
)

// The fake upstream and the bare proxy run as child processes of the
// harness (relaybench re-executed with a hidden command), so each one's CPU
// time and memory are its own, like relay's.

const (
	cmdUpstream = "_upstream"
	cmdProxy    = "_proxy"
	cmdNATS     = "_nats"
)

// benchModel is the model every request asks for and every answer names.
const benchModel = "claude-sonnet-4-5-20250929"

// benchUsage is what a Claude Code turn typically reports: a cached system
// prompt and history, a little new input, a few hundred tokens out.
var benchUsage = upstreamtest.Usage{InputTokens: 1800, OutputTokens: 420, CacheCreation5m: 1500, CacheRead: 12000}

// runUpstream is the fake upstream: upstreamtest's fast mode, serving one
// precomputed Anthropic answer (SSE or JSON, per the request's "stream").
func runUpstream(args []string) error {
	fs := flag.NewFlagSet(cmdUpstream, flag.ContinueOnError)
	deltas := fs.Int("deltas", 24, "text deltas per streamed answer")
	textBytes := fs.Int("text-bytes", 1200, "length of the answer text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tb := &cleanupTB{}
	defer tb.cleanup()
	up := upstreamtest.NewFast(tb, upstreamtest.Reply{
		Text: answerText(*textBytes), Deltas: *deltas, Model: benchModel, Usage: benchUsage,
	})
	fmt.Printf("relaybench upstream listening on %s\n", up.URL)
	waitForExit()
	return nil
}

// answerText is n bytes of plausible prose.
func answerText(n int) string {
	const s = "The function reads the configuration once, validates every field and reports all problems together. "
	return strings.Repeat(s, n/len(s)+1)[:n]
}

// cleanupTB is the testing.TB upstreamtest.NewFast takes for its cleanup,
// outside a test. NewFast calls only Helper and Cleanup; any other method
// would panic on the nil embedded interface, a harness bug worth seeing.
type cleanupTB struct {
	testing.TB
	fns []func()
}

func (*cleanupTB) Helper()             {}
func (t *cleanupTB) Cleanup(fn func()) { t.fns = append(t.fns, fn) }

func (t *cleanupTB) cleanup() {
	for i := len(t.fns) - 1; i >= 0; i-- {
		t.fns[i]()
	}
}

// runProxy is the floor relay is measured against: httputil.ReverseProxy
// to the upstream with no auth, no limits and no events. Like relay
// (DESIGN.md, "the relay path"), it reads the request body before sending
// it on, so both pass the same bytes the same way.
func runProxy(args []string) error {
	fs := flag.NewFlagSet(cmdProxy, flag.ContinueOnError)
	target := fs.String("target", "", "upstream base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-target %q: want an http://host:port URL", *target)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		Transport: benchTransport(),
		ErrorLog:  log.New(os.Stderr, "proxy: ", log.LstdFlags),
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "could not read the request body", http.StatusBadRequest)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("relaybench proxy listening on http://%s\n", ln.Addr())
	waitForExit()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// runNATS is a JetStream server with nats-server's default sync policy
// (fsync every two minutes), unlike relay's embedded one (SyncAlways): the
// NATS of the -nosync variant, which shows what the per-event fsync costs.
func runNATS(args []string) error {
	fs := flag.NewFlagSet(cmdNATS, flag.ContinueOnError)
	dir := fs.String("dir", "", "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: *dir, NoSigs: true, NoLog: true,
		JetStreamMaxMemory: 64 << 20,
	})
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return fmt.Errorf("nats-server not ready")
	}
	fmt.Printf("relaybench nats listening on %s\n", s.ClientURL())
	waitForExit()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// benchTransport is the client transport of the load generator and the
// proxy: enough idle connections for the highest concurrency, no
// compression (relay asks its upstream for none either).
func benchTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// waitForExit blocks until SIGINT or SIGTERM, or until the harness closes
// our stdin (it went away).
func waitForExit() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
}
