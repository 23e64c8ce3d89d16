package edgetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"relay/edge"
	"relay/events/natstest"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// AdminPassword is the first admin's password in every Env.
const AdminPassword = "test-admin-password"

// Options shape an Env.
type Options struct {
	// NATS is a server to use instead of a fresh one (restart tests).
	NATS *natstest.Server
	// Edge adjusts the edge configuration before it starts.
	Edge func(*edge.Config)
	// NoWorkers leaves the projectors out (an edge-only process).
	NoWorkers bool
	// Log receives the logs; nil discards them.
	Log io.Writer
	// NoAnalyst starts the edge without the analyst's connection (the
	// usage export and live feed off); by default it gets a connection of
	// its own to the same server (natstest has no roles: cmd/relay tests
	// that the real one cannot write).
	NoAnalyst bool
}

// Env is a running relay.
type Env struct {
	NATS    *natstest.Server
	NC      *nats.Conn
	JS      jetstream.JetStream
	Redis   redistest.Backend
	Store   *store.Store
	Edge    *edge.Server
	Workers *workers.Group
	HTTP    *httptest.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs relay on backend b until t ends.
func Start(t testing.TB, b redistest.Backend, o Options) *Env {
	t.Helper()
	if o.NATS == nil {
		o.NATS = natstest.Start(t)
	}
	nc, js := o.NATS.Connect(t)
	var w io.Writer = io.Discard
	if o.Log != nil {
		w = o.Log
	} else if os.Getenv("RELAY_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := zerolog.New(w).With().Timestamp().Logger()
	env := &Env{NATS: o.NATS, NC: nc, JS: js, Redis: b, Store: store.New(b.Client, "")}
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel = cancel
	reg := prometheus.NewRegistry()
	var ready []edge.ReadyCheck
	if !o.NoWorkers {
		env.Workers = workers.NewGroup(js, env.Store, log, reg)
		env.wg.Go(func() { _ = env.Workers.Run(ctx) })
	}
	cfg := edge.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = []byte("edgetest-jwt-secret-0123456789abcdef")
	cfg.EncryptionKey = []byte(EncryptionKey)
	cfg.SpoolDir = t.TempDir()
	cfg.BcryptCost = bcrypt.MinCost
	if o.Edge != nil {
		o.Edge(&cfg)
	}
	var analyst jetstream.JetStream
	if !o.NoAnalyst {
		_, analyst = o.NATS.Connect(t)
	}
	srv, err := edge.New(cfg, edge.Deps{NC: nc, JS: js, Store: env.Store, Log: log, Registry: reg, Ready: ready, Analyst: analyst})
	if err != nil {
		t.Fatalf("edgetest: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("edgetest: start: %v", err)
	}
	if !o.NoWorkers {
		if _, _, err := srv.EnsureAdmin(sctx, "admin", AdminPassword); err != nil {
			t.Fatalf("edgetest: admin: %v", err)
		}
	}
	env.Edge = srv
	env.HTTP = httptest.NewServer(srv.Handler())
	t.Cleanup(env.Close)
	return env
}

// Close stops the HTTP server, the edge and the workers.
func (e *Env) Close() {
	e.HTTP.Close()
	e.cancel()
	e.wg.Wait()
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v or fails t.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("edgetest: body %q: %v", r.Body, err)
	}
}

// Do sends a request; body is sent as is when it is []byte or string, else
// as JSON. token, when set, is sent as a Bearer token.
func (e *Env) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("edgetest: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.HTTP.URL+path, rd)
	if err != nil {
		t.Fatalf("edgetest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("edgetest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("edgetest: read %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// AdminToken logs the first admin in and returns the token.
func (e *Env) AdminToken(t testing.TB) string {
	t.Helper()
	r := e.Do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": AdminPassword})
	if r.Status != http.StatusOK {
		t.Fatalf("edgetest: login: %d %s", r.Status, r.Body)
	}
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	r.JSON(t, &out)
	return out.Data.Token
}

// WaitFor polls cond every few milliseconds until it holds or total passes.
func WaitFor(t testing.TB, total time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(total)
	for delay := time.Millisecond; !cond(); delay = min(delay*2, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("edgetest: condition not met within %v", total)
		}
		time.Sleep(delay)
	}
}
