package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"relay/edge"
	"relay/edge/secrets"
	"relay/events/streams"
	"relay/projections/pricing"
	"relay/store"
	"relay/workers"
)

// runServer runs `serve` (edge and workers), `edge` or `worker` until ctx
// ends, then shuts down in reverse order: HTTP drain, workers, NATS drain,
// embedded servers.
func runServer(ctx context.Context, role string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return usageError{err}
	}
	serve := role == "serve"
	withEdge, withWorkers := role != "worker", role != "edge"
	if !serve {
		var missing []error
		if cfg.NATSURL == "" {
			missing = append(missing, errors.New("NATS_URL is required"))
		}
		if cfg.RedisURL == "" {
			missing = append(missing, errors.New("REDIS_URL (or REDIS_HOST) is required"))
		}
		if withEdge && cfg.JWTSecret == "" {
			missing = append(missing, errors.New("JWT_SECRET is required"))
		}
		if withEdge && cfg.EncryptionKey == "" {
			missing = append(missing, errors.New("ENCRYPTION_KEY is required"))
		}
		if err := errors.Join(missing...); err != nil {
			return usageError{err}
		}
	}
	log := newLogger(cfg, stderr).With().Str("role", role).Str("instance", instanceID()).Logger()

	// NATS: the event backbone.
	var emb *embeddedNATS
	natsOpts := []nats.Option{
		nats.Name("relay-" + role),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info().Msg("NATS reconnected") }),
	}
	var nc *nats.Conn
	if cfg.NATSURL == "" {
		// Every connection authenticates, relay's own included: the
		// passwords are generated at the first start under DATA_DIR/secrets.
		users, relayPass, uerr := embeddedNATSUsers(cfg.DataDir)
		if uerr != nil {
			return fmt.Errorf("embedded NATS credentials: %w", uerr)
		}
		if emb, err = startEmbeddedNATS(cfg.DataDir, cfg.NATSListen, cfg.NATSSync, users); err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		defer emb.stop()
		natsOpts = append(natsOpts, nats.UserInfo(natsRelayUser, relayPass))
		if u := emb.loopbackURL(); u != "" {
			nc, err = nats.Connect(u, natsOpts...)
		} else {
			nc, err = nats.Connect("", append(natsOpts, nats.InProcessServer(emb))...)
		}
	} else {
		auth, aerr := natsAuthFromEnv(getenv)
		if aerr != nil {
			return usageError{aerr}
		}
		nc, err = nats.Connect(cfg.NATSURL, append(natsOpts, auth...)...)
	}
	if err != nil {
		return fmt.Errorf("connect NATS: %w", err)
	}
	defer nc.Close()
	if !nc.AuthRequired() {
		log.Warn().Msg("NATS does not require authentication: any client that reaches it can write relay's events (configure users as nats.conf does; README, Security)")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// The usage export and live feed read USAGE as the analyst, so they can
	// never write (analyst.go).
	var analyst jetstream.JetStream
	if withEdge {
		anc, ajs, err := connectAnalyst(cfg, emb, nats.Name("relay-"+role+"-analyst"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			return err
		}
		if anc == nil {
			log.Info().Msg("usage export and live feed off: set NATS_ANALYST_USER/NATS_ANALYST_PASSWORD or NATS_ANALYST_CREDS (nats.conf's analyst role)")
		} else {
			defer anc.Close()
			analyst = ajs
		}
	}

	// Redis: the read models.
	var rdb *redis.Client
	if cfg.RedisURL == "" {
		// Its password is kept with the other generated secrets, so the
		// machine's owner (redis-cli, make bench's lag probe) can reach it
		// and nobody else.
		password, err := secretFromDataDir(cfg.DataDir, "redis_password")
		if err != nil {
			return err
		}
		mr, err := store.StartEmbedded(password)
		if err != nil {
			return fmt.Errorf("embedded Redis: %w", err)
		}
		defer mr.Close()
		rdb = mr.Client()
		log.Info().Str("addr", mr.Addr()).Msg("embedded Redis (password in DATA_DIR/secrets/redis_password)")
	} else {
		ropts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return usageError{fmt.Errorf("REDIS_URL: %w", err)}
		}
		rdb = store.Client(ropts)
	}
	defer rdb.Close()
	st := store.New(rdb, "")
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("connect Redis: %w", err)
	}

	sopts := streams.Defaults()
	sopts.Replicas, sopts.UsageMaxAge = cfg.NATSReplicas, cfg.UsageMaxAge
	sopts.UsageMaxBytes, sopts.StateMaxBytes, sopts.ConfigMaxBytes = cfg.UsageMaxBytes, cfg.StateMaxBytes, cfg.ConfigMaxBytes
	marker := filepath.Join(cfg.DataDir, provisionedMarker)
	// Short attempts, retried for a minute: a NATS cluster that is still
	// electing its leader refuses, and one that sees several processes
	// create the same stream at once (compose starts them together)
	// leaves all but the first request unanswered; a retry succeeds. The
	// random pause keeps the processes from racing again on the next stream.
	var placed streams.Placement
	for attempt, start := 1, time.Now(); ; attempt++ {
		// NATS_REPLICAS unset on a cluster: a new stream waits 20 s for the
		// cluster to place 3 replicas before it settles for fewer.
		sopts.StepDown = time.Since(start) > 20*time.Second
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		// Never create a stream afresh over read models (or, for the
		// embedded server, a DATA_DIR) that show it had events.
		err = checkStreamsNotLost(pctx, js, st, marker, emb != nil)
		if err == nil {
			placed, err = streams.ProvisionPlaced(pctx, js, sopts)
		}
		cancel()
		var lost lostStreamError
		if err == nil || errors.As(err, &lost) || ctx.Err() != nil || time.Since(start) > time.Minute {
			break
		}
		log.Warn().Err(err).Int("attempt", attempt).Msg("streams not provisioned yet; retrying")
		time.Sleep(time.Duration(100+mrand.IntN(900)) * time.Millisecond)
	}
	if err != nil {
		return err
	}
	if emb != nil {
		if err := writeMarker(marker); err != nil {
			return err
		}
	}
	for name, got := range placed.Got {
		if got < placed.Want {
			log.Warn().Str("stream", name).Int("replicas", got).Int("cluster_could", placed.Want).Msg("stream has fewer replicas than the cluster can give; it is scaled up at the next start with every node up (or set NATS_REPLICAS)")
		}
	}
	// A `relay rebuild` announces its switch of read-model generation.
	if err := workers.WatchGeneration(ctx, nc, st); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var wg sync.WaitGroup
	ready := streamsReadyChecks(js, placed)
	if withWorkers {
		loc, err := time.LoadLocation(cfg.TZ) // validated by loadConfig
		if err != nil {
			return usageError{err}
		}
		group := workers.NewGroupWith(js, st, log, reg, workers.Options{Location: loc})
		ready = append(ready, edge.ReadyCheck{Name: "projections", Check: func(context.Context) error {
			if !group.CaughtUp() {
				return errors.New("rebuilding read models from the streams")
			}
			return nil
		}})
		errc := make(chan error, 1)
		wg.Go(func() { errc <- group.Run(wctx) })
		defer func() {
			stopWorkers()
			wg.Wait()
			if err := <-errc; err != nil {
				log.Error().Err(err).Msg("workers stopped with an error")
			}
		}()
		if err := startNotifier(wctx, &wg, cfg, serve, js, st, log, reg, loc); err != nil {
			return err
		}
	}

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if !withEdge {
		metricsAddr, err := startMetrics(ctx, cfg.MetricsListen, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), log)
		if err != nil {
			return err
		}
		log.Info().Str("addr", ln.Addr().String()).Str("metrics", metricsAddr).Msg("worker started") // the real port when PORT=0
		err = serveWorkerOps(ctx, ln, nc, st, reg, ready, cfg.MetricsToken)
		return shutdownNATS(nc, err)
	}

	ecfg := edge.Defaults()
	ecfg.Addr, ecfg.BodyLimit, ecfg.ShutdownGrace = addr, cfg.BodyLimit, cfg.ShutdownGrace
	ecfg.MaxRetries, ecfg.StickyTTL = cfg.MaxRetries, cfg.StickyTTL
	ecfg.TrustedProxies = cfg.TrustedProxies
	ecfg.MetricsToken = cfg.MetricsToken
	ecfg.NotifyAllowPrivate = cfg.NotifyAllowPrivate
	if ecfg.Location, err = time.LoadLocation(cfg.TZ); err != nil {
		return usageError{err}
	}
	ecfg.SpoolDir = filepath.Join(cfg.DataDir, "spool")
	wcfg := pricing.DefaultWatchConfig()
	wcfg.Path = cfg.PricingFile
	wcfg.OnError = func(err error) {
		log.Error().Err(err).Msg("PRICING_FILE not reloaded; the previous table stays in force")
	}
	prices, err := pricing.NewWatcher(wcfg)
	if err != nil {
		return usageError{fmt.Errorf("PRICING_FILE: %w", err)}
	}
	go prices.Run(ctx)
	jwtSecret := cfg.JWTSecret
	if jwtSecret == "" {
		if jwtSecret, err = secretFromDataDir(cfg.DataDir, "jwt_secret"); err != nil {
			return err
		}
	}
	ecfg.JWTSecret = []byte(jwtSecret)
	encKey := cfg.EncryptionKey
	if encKey == "" {
		if encKey, err = secretFromDataDir(cfg.DataDir, "encryption_key"); err != nil {
			return err
		}
	}
	if ecfg.EncryptionKey, err = secrets.ParseKey(encKey); err != nil {
		return usageError{fmt.Errorf("ENCRYPTION_KEY: %w", err)}
	}
	srv, err := edge.New(ecfg, edge.Deps{NC: nc, JS: js, Store: st, Log: log, Registry: reg, Ready: ready, Prices: prices, Analyst: analyst})
	if err != nil {
		return usageError{err}
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	created, generated, err := ensureAdmin(ctx, srv, cfg, log)
	if err != nil {
		return err
	}
	metricsAddr, err := startMetrics(ctx, cfg.MetricsListen, srv.MetricsHandler(), log)
	if err != nil {
		return err
	}
	printWelcome(stdout, ln.Addr().String(), metricsAddr, cfg, emb, created, generated)
	log.Info().Str("addr", ln.Addr().String()).Msg("edge listening")
	err = srv.Serve(ctx, ln)
	log.Info().Msg("HTTP drained")
	return shutdownNATS(nc, err)
}

// shutdownNATS drains the connection so every pending publish and ack is
// flushed before the process exits.
func shutdownNATS(nc *nats.Conn, err error) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if derr := nc.Drain(); derr == nil {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func printWelcome(w io.Writer, addr, metricsAddr string, cfg config, emb *embeddedNATS, created bool, generated string) {
	host, port, _ := net.SplitHostPort(addr)
	local := host
	all := host == "0.0.0.0" || host == "::" || host == ""
	if all {
		local = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(local, port)
	if all {
		// HOST=0.0.0.0 (the default): reachable from other machines too.
		fmt.Fprintf(w, "relay is listening on %s (all interfaces); on this machine: %s\n", addr, base)
	} else {
		fmt.Fprintf(w, "relay is listening on %s\n", base)
	}
	fmt.Fprintf(w, "  health:  %s/health   ready: %s/ready\n", base, base)
	fmt.Fprintf(w, "  console: %s/console/\n", base)
	switch {
	case metricsAddr != "off":
		fmt.Fprintf(w, "  metrics: http://%s/metrics (METRICS_LISTEN)\n", metricsAddr)
	case cfg.MetricsToken != "":
		fmt.Fprintf(w, "  metrics: %s/metrics with METRICS_TOKEN as Bearer token\n", base)
	default:
		fmt.Fprintln(w, "  metrics: off (METRICS_LISTEN=off and no METRICS_TOKEN)")
	}
	if emb != nil && cfg.NATSListen != "off" {
		fmt.Fprintf(w, "  embedded NATS (JetStream under %s/nats) on nats://%s, password required (%s/secrets)\n", cfg.DataDir, cfg.NATSListen, cfg.DataDir)
	}
	switch {
	case generated != "":
		fmt.Fprintf(w, "  admin created: username %q, generated password %s (shown once; change it with POST /api/v2/auth/change-password)\n", cfg.AdminUsername, generated)
	case created:
		fmt.Fprintf(w, "  admin created: username %q with the password from ADMIN_PASSWORD\n", cfg.AdminUsername)
	default:
		fmt.Fprintln(w, "  admin: log in with the existing admin's username and password")
	}
	fmt.Fprintf(w, "  log in:  curl -s %s/api/v2/auth/admin/login -H 'content-type: application/json' -d '{\"username\":\"%s\",\"password\":\"...\"}'\n", base, cfg.AdminUsername)
}

func newLogger(cfg config, w io.Writer) zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(cfg.LogLevel)
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// instanceID names this process in logs: host and pid.
func instanceID() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}

// startMetrics serves h, the /metrics handler, on METRICS_LISTEN until ctx
// ends, and returns the address it listens on ("off" for none). The metrics
// tell cost and tokens by model: the address is meant to be loopback or
// private.
func startMetrics(ctx context.Context, listen string, h http.Handler, log zerolog.Logger) (string, error) {
	if listen == "off" {
		return "off", nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("listen on METRICS_LISTEN=%s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	go func() {
		if err := serveHTTP(ctx, ln, mux); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	return ln.Addr().String(), nil
}

// withMetricsToken answers h only to a request carrying token as a Bearer
// token, and 404 to every other (always, when token is unset).
func withMetricsToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if token == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveWorkerOps answers /health, /ready and (with METRICS_TOKEN) /metrics
// for a worker process.
func serveWorkerOps(ctx context.Context, ln net.Listener, nc *nats.Conn, st *store.Store, reg *prometheus.Registry, ready []edge.ReadyCheck, metricsToken string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		problems := map[string]string{}
		if nc.Status() != nats.CONNECTED {
			problems["nats"] = nc.Status().String()
		}
		if err := st.Ping(r.Context()); err != nil {
			problems["redis"] = err.Error()
		}
		warnings := map[string]string{}
		for _, c := range ready {
			if err := c.Check(r.Context()); err != nil && c.Advisory {
				warnings[c.Name] = err.Error()
			} else if err != nil {
				problems[c.Name] = err.Error()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		body := map[string]any{"status": "ready"}
		if len(warnings) > 0 {
			body["warnings"] = warnings
		}
		if len(problems) > 0 {
			body["status"], body["problems"] = "not ready", problems
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", withMetricsToken(metricsToken, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	return serveHTTP(ctx, ln, mux)
}

// serveHTTP serves h on ln until ctx ends, then shuts the server down,
// giving requests in flight 5 seconds. It returns http.ErrServerClosed
// after a shutdown.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return srv.Serve(ln)
}
