package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"relay/edge/admin"
	"relay/edge/adminapi"
	"relay/edge/catalog"
	"relay/edge/console"
	"relay/edge/consoleadmin"
	"relay/edge/httpx"
	"relay/edge/relay"
	"relay/edge/secrets"
	"relay/events/usagelog"
	"relay/projections/pricing"
	"relay/store"
)

// Config is the edge's configuration.
type Config struct {
	// Addr is the listen address, host:port.
	Addr string
	// JWTSecret signs admin tokens (HS256).
	JWTSecret []byte
	// EncryptionKey (32 bytes) seals upstream credentials (AES-256-GCM).
	EncryptionKey []byte
	// TokenTTL is how long an admin token lives.
	TokenTTL time.Duration
	// BcryptCost is the cost of password hashes.
	BcryptCost int
	// BodyLimit caps request bodies in bytes.
	BodyLimit int64
	// BodyTimeout and BodyMinRate bound the time a client may take to send
	// its request body: BodyTimeout from the start of the handler, plus one
	// second for every BodyMinRate bytes received (Apache mod_reqtimeout's
	// body=30,MinRate rule), so a large body on a good link is never cut
	// and a body trickled byte by byte is. 0 BodyMinRate: BodyTimeout alone.
	BodyTimeout time.Duration
	BodyMinRate int64
	// WriteWait bounds how long an admin write waits for its projection.
	WriteWait time.Duration
	// ShutdownGrace bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownGrace time.Duration
	// LoginFailures failed logins from one address within LoginWindow make
	// further attempts wait for the window to pass.
	LoginFailures int
	LoginWindow   time.Duration
	// LoginUserFailures against one username from any address do too; a
	// browser or script holding a device cookie that username's login
	// issued is spared both, until its own LoginDeviceFailures
	// (adminauth.go).
	LoginUserFailures   int
	LoginDeviceFailures int
	// DeviceCookieTTL is how long a device cookie keeps its right to try.
	DeviceCookieTTL time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address (clientip.go); empty = the connection's address, always.
	TrustedProxies []netip.Prefix

	// MaxRetries caps upstream attempts per request, across accounts.
	MaxRetries int
	// StickyTTL is how long an idle session stays bound to its account.
	StickyTTL time.Duration
	// LeaseTTL is the life of a concurrency lease without renewal: how long
	// a crashed edge's slots stay taken.
	LeaseTTL time.Duration
	// FirstByteTimeout bounds the wait for a streaming upstream's response
	// headers; NonStreamTimeout the wait for a whole non-streaming answer
	// (its headers come only when it is done).
	FirstByteTimeout time.Duration
	NonStreamTimeout time.Duration
	// StreamIdleTimeout ends a stream that sends nothing for this long.
	StreamIdleTimeout time.Duration
	// PublishTimeout bounds the wait for JetStream's acknowledgement of a
	// usage event before it is spooled instead.
	PublishTimeout time.Duration
	// SpoolDir keeps usage events NATS could not take ("" = no spool).
	SpoolDir string
	// Location is the time zone of daily and weekly cost limits (TZ).
	Location *time.Location
	// QuotaCacheFor is how long an account's spend reading is reused
	// between requests: quotas are soft limits on projected spend, and
	// reading Redis for every quota'd account on every request would cost
	// more than the precision buys.
	QuotaCacheFor time.Duration
	// RefusalFlushEvery is how often the counts of refused requests of
	// closed minutes are published (one event per key, reason and minute).
	RefusalFlushEvery time.Duration
	// MetricsToken, when set, opens /metrics on the main listener to a
	// scraper presenting it as a Bearer token; unset, /metrics there
	// answers 404 and metrics are served by MetricsHandler only.
	MetricsToken string
	// NotifyAllowPrivate accepts notification channel URLs naming
	// loopback, link-local or private addresses (NOTIFY_ALLOW_PRIVATE; the
	// notifier checks every delivery's address again).
	NotifyAllowPrivate bool
	// LiveHeartbeat is how long a usage live feed stays quiet before an
	// SSE comment keeps proxies from closing it (0: 15 s).
	LiveHeartbeat time.Duration
	// LiveBuffer is how many events a usage live feed's reader may fall
	// behind before it is dropped (0: 256).
	LiveBuffer int
	// Version is the running relay's version, shown in the console;
	// empty: the module version the binary was built as.
	Version string
}

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		Addr:          "0.0.0.0:3000",
		TokenTTL:      24 * time.Hour,
		BcryptCost:    bcrypt.DefaultCost,
		BodyLimit:     32 << 20,
		BodyTimeout:   30 * time.Second,
		BodyMinRate:   64 << 10,
		WriteWait:     5 * time.Second,
		ShutdownGrace: 30 * time.Second,
		LoginFailures: 5,
		LoginWindow:   15 * time.Minute,

		LoginUserFailures:   10,
		LoginDeviceFailures: 5,
		DeviceCookieTTL:     365 * 24 * time.Hour,

		MaxRetries:        5,
		StickyTTL:         15 * 24 * time.Hour,
		LeaseTTL:          30 * time.Second,
		FirstByteTimeout:  2 * time.Minute,
		NonStreamTimeout:  10 * time.Minute,
		StreamIdleTimeout: 2 * time.Minute,
		PublishTimeout:    2 * time.Second,
		Location:          time.UTC,
		QuotaCacheFor:     time.Second,
		RefusalFlushEvery: 10 * time.Second,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: %w", c.Addr, err))
	}
	if len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("JWT_SECRET must be at least 32 bytes"))
	}
	if len(c.EncryptionKey) != 32 {
		errs = append(errs, errors.New("ENCRYPTION_KEY must be 32 bytes (64 hex characters or base64)"))
	}
	if c.TokenTTL <= 0 {
		errs = append(errs, errors.New("token lifetime must be positive"))
	}
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		errs = append(errs, fmt.Errorf("bcrypt cost %d out of range", c.BcryptCost))
	}
	if c.BodyLimit <= 0 {
		errs = append(errs, errors.New("body limit must be positive"))
	}
	if c.BodyTimeout <= 0 || c.BodyMinRate < 0 {
		errs = append(errs, errors.New("body timeout must be positive and body minimum rate not negative"))
	}
	if c.Location == nil {
		errs = append(errs, errors.New("time zone must be set"))
	}
	if c.LoginFailures < 1 || c.LoginUserFailures < 1 || c.LoginDeviceFailures < 1 || c.LoginWindow <= 0 || c.DeviceCookieTTL <= 0 {
		errs = append(errs, errors.New("login limits and their window must be positive"))
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			errs = append(errs, errors.New("TRUSTED_PROXIES holds an invalid prefix"))
		}
	}
	if c.MaxRetries < 1 {
		errs = append(errs, errors.New("MAX_RETRIES must be at least 1"))
	}
	for name, d := range map[string]time.Duration{
		"sticky TTL": c.StickyTTL, "lease TTL": c.LeaseTTL, "first-byte timeout": c.FirstByteTimeout,
		"non-stream timeout": c.NonStreamTimeout, "stream idle timeout": c.StreamIdleTimeout, "publish timeout": c.PublishTimeout,
		"refusal flush interval": c.RefusalFlushEvery,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	return errors.Join(errs...)
}

// Deps are what the edge is composed from.
type Deps struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Store    *store.Store
	Log      zerolog.Logger
	Registry *prometheus.Registry
	// Ready are extra readiness checks (the workers' catch-up in `serve`).
	Ready []ReadyCheck
	// Prices prices usage at the time of each request.
	Prices Prices
	// Analyst reads USAGE for the usage export and live feed: a connection
	// with the analyst's read-only rights. nil: both answer 503.
	Analyst jetstream.JetStream
}

// Prices gives the price table in force.
type Prices = relay.Prices

// ReadyCheck reports why this process is not ready, or nil.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
	// Advisory checks are reported ("warning: ...") without making the
	// process not ready: it serves, but an operator should look.
	Advisory bool
}

// Server is the edge: the Echo server that routes to the relay and the
// admin API, with the operational endpoints and a graceful shutdown.
type Server struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	store   *store.Store
	log     zerolog.Logger
	reg     *prometheus.Registry
	ready   []ReadyCheck
	metrics *metrics
	catalog *catalog.Catalog
	relay   *relay.Relay
	admin   *adminapi.API
	console *console.Handler
	echo    *echo.Echo
	// routePaths are the route patterns of echo: the route label's values.
	routePaths map[string]bool
	// adminRoutes are the /api/v2 routes, for 405 answers.
	adminRoutes []adminRoute
	// stats is the key holder's page, /stats.
	stats *console.Handler
}

// New builds the edge.
func New(cfg Config, d Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	box, err := secrets.NewBox(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	prices := d.Prices
	if prices == nil {
		prices = builtinPrices{pricing.Builtin()}
	}
	s := &Server{
		cfg: cfg, nc: d.NC, js: d.JS, store: d.Store, log: d.Log, reg: d.Registry, ready: d.Ready,
		metrics: newMetrics(d.Registry),
		catalog: catalog.New(d.Log),
	}
	s.relay, err = relay.New(relay.Config{
		MaxRetries: cfg.MaxRetries, StickyTTL: cfg.StickyTTL, LeaseTTL: cfg.LeaseTTL,
		FirstByteTimeout: cfg.FirstByteTimeout, NonStreamTimeout: cfg.NonStreamTimeout,
		StreamIdleTimeout: cfg.StreamIdleTimeout, PublishTimeout: cfg.PublishTimeout, WriteWait: cfg.WriteWait,
		SpoolDir: cfg.SpoolDir, Location: cfg.Location, QuotaCacheFor: cfg.QuotaCacheFor,
		RefusalFlushEvery: cfg.RefusalFlushEvery,
	}, relay.Deps{
		JS: d.JS, Store: d.Store, Catalog: s.catalog, Log: d.Log, Registry: d.Registry,
		Prices: prices, Box: box, Published: s.metrics.published,
	})
	if err != nil {
		return nil, err
	}
	actions := admin.New(admin.Config{WriteWait: cfg.WriteWait, BcryptCost: cfg.BcryptCost, Location: cfg.Location,
		LoginFailures: cfg.LoginFailures, LoginUserFailures: cfg.LoginUserFailures, LoginDeviceFailures: cfg.LoginDeviceFailures,
		LoginWindow: cfg.LoginWindow, LoginKey: adminapi.LoginKey(cfg.JWTSecret),
		NotifyAllowPrivate: cfg.NotifyAllowPrivate,
	}, admin.Deps{
		JS: d.JS, Store: d.Store, Catalog: s.catalog, Box: box, Log: d.Log, Published: s.metrics.published,
	})
	s.admin, err = adminapi.New(adminapi.Config{
		JWTSecret: cfg.JWTSecret, TokenTTL: cfg.TokenTTL,
		DeviceCookieTTL: cfg.DeviceCookieTTL, TrustedProxies: cfg.TrustedProxies,
		Location: cfg.Location, LiveHeartbeat: cfg.LiveHeartbeat, LiveBuffer: cfg.LiveBuffer,
	}, adminapi.Deps{Actions: actions, Registry: d.Registry, Usage: d.Analyst})
	if err != nil {
		return nil, err
	}
	if s.stats, err = newStatsPage(cfg, d.Log, actions); err != nil {
		return nil, err
	}
	version := cfg.Version
	if bi, ok := debug.ReadBuildInfo(); ok && version == "" {
		version = bi.Main.Version
	}
	// The web console: the same actions, its session key derived from
	// JWT_SECRET, device cookies shared with the REST login.
	s.console, err = console.New(console.Config{
		Secret: consoleadmin.SessionSecret(cfg.JWTSecret), Version: version, Logger: d.Log,
		Secure:   func(r *http.Request) bool { return httpx.OverTLS(r, cfg.TrustedProxies) },
		Channels: actions, UsageReports: usagelog.Reports{JS: d.Analyst, Loc: cfg.Location},
	}, consoleadmin.New(actions, admin.NewDevices(cfg.JWTSecret), cfg.DeviceCookieTTL))
	if err != nil {
		return nil, err
	}
	s.echo = s.routes()
	return s, nil
}

// Handler returns the edge's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Catalog returns the in-memory catalog.
func (s *Server) Catalog() *catalog.Catalog { return s.catalog }

// Routes returns every route registered on the edge's router.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// EnsureAdmin creates the first admin when none exists (adminapi.API.EnsureAdmin).
func (s *Server) EnsureAdmin(ctx context.Context, username, password string) (created bool, generated string, err error) {
	return s.admin.EnsureAdmin(ctx, username, password)
}

// FlushRefusals publishes the counts of refused requests now, the current
// minute's included.
func (s *Server) FlushRefusals(ctx context.Context) { s.relay.FlushRefusals(ctx) }

// Start follows the configuration streams and waits until the catalog holds
// them, so the first request is served from complete configuration.
func (s *Server) Start(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.catalog.Run(ctx, s.js) }()
	s.relay.Run(ctx)
	select {
	case <-s.catalog.Ready():
		return nil
	case err := <-errc:
		if err == nil {
			err = ctx.Err()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve answers HTTP on ln until ctx ends, then stops accepting and lets
// in-flight requests finish within the shutdown grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The usage live feeds never end by themselves: end them now, so
	// they hold no connection through the grace (their clients reconnect,
	// to another edge).
	s.admin.HaltStreams()
	// Open console live feeds would hold the drain until the grace ends.
	s.console.Close()
	// Streams still running shortly before the grace ends are ended by
	// relay, with an error event and their usage recorded, rather than cut
	// by closing their connections.
	halt := time.AfterFunc(s.cfg.ShutdownGrace*9/10, func() {
		s.log.Warn().Msg("shutdown grace nearly over: ending the streams still running")
		s.relay.Halt()
	})
	defer halt.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn().Msg("shutdown grace passed: closing remaining connections")
		err = srv.Close()
	}
	<-errc
	s.relay.Close()
	return err
}

type builtinPrices struct{ t *pricing.Table }

func (b builtinPrices) Current() *pricing.Table { return b.t }
