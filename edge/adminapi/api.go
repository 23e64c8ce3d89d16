package adminapi

import (
	"net/netip"
	"time"

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
}

// Deps are what the admin API is composed from.
type Deps struct {
	// Actions are the admin actions the handlers call.
	Actions  *admin.Service
	Registry prometheus.Registerer
}

// API answers the admin REST routes of DESIGN.md section 4.
type API struct {
	act *admin.Service
	cfg Config
	// devices signs and checks device cookies.
	devices admin.Devices
	// loginFailures counts failed sign-ins.
	loginFailures prometheus.Counter
}

// New builds the admin API.
func New(cfg Config, d Deps) (*API, error) {
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "relay_admin_login_failures_total", Help: "Failed admin logins.",
	})
	d.Registry.MustRegister(failures)
	return &API{act: d.Actions, cfg: cfg, devices: admin.NewDevices(cfg.JWTSecret), loginFailures: failures}, nil
}
