package adminapi

import (
	"net/netip"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"relay/edge/admin"
	"relay/edge/catalog"
	"relay/edge/secrets"
	"relay/store"
)

// Config is what the admin API needs to know; the edge's configuration
// fills it (edge.Config documents each setting).
type Config struct {
	JWTSecret           []byte
	TokenTTL            time.Duration
	BcryptCost          int
	WriteWait           time.Duration
	Location            *time.Location
	LoginFailures       int
	LoginWindow         time.Duration
	LoginUserFailures   int
	LoginDeviceFailures int
	DeviceCookieTTL     time.Duration
	TrustedProxies      []netip.Prefix
}

// Deps are what the admin API is composed from.
type Deps struct {
	// Actions are the admin actions the handlers call.
	Actions  *admin.Service
	JS       jetstream.JetStream
	Store    *store.Store
	Catalog  *catalog.Catalog
	Box      *secrets.Box
	Log      zerolog.Logger
	Registry prometheus.Registerer
	// Published counts the events this edge published, by type.
	Published func(eventType string)
}

// API answers the admin REST routes of DESIGN.md section 4.
type API struct {
	act       *admin.Service
	cfg       Config
	js        jetstream.JetStream
	store     *store.Store
	catalog   *catalog.Catalog
	box       *secrets.Box
	log       zerolog.Logger
	published func(eventType string)
	// loginFailures counts failed sign-ins.
	loginFailures prometheus.Counter
	// dummyHash keeps a login for an unknown user as slow as one for a
	// known user.
	dummyHash []byte
}

// New builds the admin API.
func New(cfg Config, d Deps) (*API, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("relay-dummy-password"), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	published := d.Published
	if published == nil {
		published = func(string) {}
	}
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "relay_admin_login_failures_total", Help: "Failed admin logins.",
	})
	d.Registry.MustRegister(failures)
	return &API{
		act: d.Actions, cfg: cfg, js: d.JS, store: d.Store, catalog: d.Catalog, box: d.Box, log: d.Log,
		published: published, loginFailures: failures, dummyHash: dummy,
	}, nil
}
