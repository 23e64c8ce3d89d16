package adminapi

import (
	"context"
	"net/netip"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"relay/edge/admin"
)

// Config is what the admin API needs to know; the edge's configuration
// fills it (edge.Config documents each setting). The rules' settings are
// admin.Config's: this holds the REST transport's own (its token and the
// device cookie).
type Config struct {
	JWTSecret       []byte
	TokenTTL        time.Duration
	DeviceCookieTTL time.Duration
	TrustedProxies  []netip.Prefix
	// Location is the time zone of the usage export's dates (TZ).
	Location *time.Location
	// LiveBuffer and LiveHeartbeat are the usage live feed's
	// usagelog.LiveOptions Buffer and HeartbeatEvery (0: their defaults).
	LiveBuffer    int
	LiveHeartbeat time.Duration
}

// Deps are what the admin API is composed from.
type Deps struct {
	// Actions are the admin actions the handlers call.
	Actions  *admin.Service
	Registry prometheus.Registerer
	// Usage reads USAGE for the usage export and live feed: the analyst's
	// read-only connection. nil: both are off (503).
	Usage jetstream.JetStream
}

// API answers the admin REST routes of DESIGN.md section 4.
type API struct {
	act *admin.Service
	cfg Config
	// devices signs and checks device cookies.
	devices admin.Devices
	// loginFailures counts failed sign-ins.
	loginFailures prometheus.Counter
	usage         jetstream.JetStream
	// halt ends when the edge shuts down: the live feeds end with it.
	halt     context.Context
	stopHalt context.CancelFunc
}

// New builds the admin API.
func New(cfg Config, d Deps) (*API, error) {
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "relay_admin_login_failures_total", Help: "Failed admin logins.",
	})
	d.Registry.MustRegister(failures)
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	halt, stop := context.WithCancel(context.Background())
	return &API{act: d.Actions, cfg: cfg, devices: admin.NewDevices(cfg.JWTSecret), loginFailures: failures, usage: d.Usage, halt: halt, stopHalt: stop}, nil
}
