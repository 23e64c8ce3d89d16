package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/edge/catalog"
	"relay/edge/secrets"
	"relay/edge/upstreams"
	"relay/events/streams"
	"relay/projections/pricing"
	"relay/store"
)

// Config is what the relay needs to know; the edge's configuration fills
// it (edge.Config documents each setting).
type Config struct {
	MaxRetries        int
	StickyTTL         time.Duration
	LeaseTTL          time.Duration
	FirstByteTimeout  time.Duration
	NonStreamTimeout  time.Duration
	StreamIdleTimeout time.Duration
	PublishTimeout    time.Duration
	// WriteWait bounds the wait for this edge's catalog to show a key's
	// activation.
	WriteWait         time.Duration
	SpoolDir          string
	Location          *time.Location
	QuotaCacheFor     time.Duration
	RefusalFlushEvery time.Duration
}

// Prices gives the price table in force.
type Prices interface{ Current() *pricing.Table }

// Deps are what the relay is composed from.
type Deps struct {
	JS       jetstream.JetStream
	Store    *store.Store
	Catalog  *catalog.Catalog
	Log      zerolog.Logger
	Registry prometheus.Registerer
	Prices   Prices
	// Box opens the accounts' sealed credentials.
	Box *secrets.Box
	// Published counts the events this edge published, by type.
	Published func(eventType string)
}

// Relay is the hot path: it authenticates a key, admits the request, picks
// an account, calls the upstream (failing over before the first byte),
// streams the answer back and records one usage event.
type Relay struct {
	cfg       Config
	js        jetstream.JetStream
	store     *store.Store
	catalog   *catalog.Catalog
	log       zerolog.Logger
	metrics   *metrics
	published func(eventType string)
	box       *secrets.Box
	upstreams *upstreams.Pool
	prices    Prices
	spool     *spool
	// usagePub stores usage events of concurrent requests together.
	usagePub *streams.GroupPublisher
	// halted ends when the shutdown grace is nearly over: upstream calls
	// still running are cancelled so their streams end cleanly.
	halted context.Context
	halt   context.CancelFunc
	// spendLag tracks this edge's usage events not yet counted.
	spendLag lagTracker
	quotas   quotaCache
	// refusals counts refused requests until they are published.
	refusals *refusalTallies
}

// New builds the relay.
func New(cfg Config, d Deps) (*Relay, error) {
	pool, err := upstreams.NewPool(upstreams.Defaults())
	if err != nil {
		return nil, err
	}
	sp, err := newSpool(cfg.SpoolDir, d.JS, d.Log)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", cfg.SpoolDir, err)
	}
	published := d.Published
	if published == nil {
		published = func(string) {}
	}
	r := &Relay{
		cfg: cfg, js: d.JS, store: d.Store, catalog: d.Catalog, log: d.Log,
		metrics:   newMetrics(d.Registry, sp.Depth),
		published: published,
		box:       d.Box,
		upstreams: pool,
		prices:    d.Prices,
		spool:     sp,
		usagePub:  streams.NewGroupPublisher(d.JS, cfg.PublishTimeout),
		refusals:  newRefusalTallies(time.Now()),
	}
	r.halted, r.halt = context.WithCancel(context.Background())
	return r, nil
}

// Run publishes what waits in the spool and the counts of refused requests
// until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	go r.spool.run(ctx)
	go r.runRefusalFlusher(ctx)
}

// Halt ends the streams still running, each with an error event and its
// usage recorded: shortly before the shutdown grace ends, rather than
// having their connections cut.
func (r *Relay) Halt() { r.halt() }

// Close runs after the HTTP server stopped: it closes the upstream
// connections, publishes the refusal counts not yet published (the current
// minute's included, spooled if NATS cannot take them), then publishes
// whatever was spooled and can go now; each within a few seconds.
func (r *Relay) Close() {
	r.upstreams.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	r.FlushRefusals(rctx)
	rcancel()
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	r.spool.flush(fctx)
	fcancel()
}
