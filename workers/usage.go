package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// UsageInFlight is how many usage events may be applied at once: usage
// counters commute, so order does not matter.
const UsageInFlight = 256

// UsageProjector folds USAGE into the statistics and spend counters
// (projections.UsageDeltas applied by store.ApplyUsage).
type UsageProjector struct {
	store *store.Store
	opts  projections.UsageOptions
	m     *usageMetrics
}

var _ Projector = (*UsageProjector)(nil)

// NewUsageProjector returns the usage projector. opts.Loc nil means UTC and
// opts.IsOpus nil the built-in price table's test. Its metrics are
// registered on reg (nil: not registered).
func NewUsageProjector(st *store.Store, opts projections.UsageOptions, reg prometheus.Registerer) *UsageProjector {
	if opts.Loc == nil {
		opts.Loc = time.UTC
	}
	if opts.IsOpus == nil {
		opts.IsOpus = pricing.Builtin().IsOpus
	}
	return &UsageProjector{store: st, opts: opts, m: newUsageMetrics(reg)}
}

// Name implements Projector.
func (*UsageProjector) Name() string { return store.ProjectionUsage }

// Stream implements Projector.
func (*UsageProjector) Stream() string { return events.StreamUsage }

// InFlight implements Projector: counters commute.
func (*UsageProjector) InFlight() int { return UsageInFlight }

// Location is the time zone of the calendar buckets.
func (p *UsageProjector) Location() *time.Location { return p.opts.Loc }

// Apply implements Projector. The metrics count an event only when this
// call applied it, so redeliveries do not inflate them.
func (p *UsageProjector) Apply(ctx context.Context, env events.Envelope) error {
	v, err := events.Decode(env)
	if err != nil {
		return Permanent(err)
	}
	switch e := v.(type) {
	case *events.Usage:
		if e.Time.IsZero() {
			e.Time = env.Time
		}
		applied, err := p.store.ApplyUsage(ctx, env.Seq, projections.UsageDeltas(*e, p.opts), p.opts.Loc)
		if err != nil {
			return err
		}
		if applied {
			p.m.observe(*e)
		}
	case *events.RefusalsCounted:
		if e.Time.IsZero() {
			e.Time = env.Time
		}
		applied, err := p.store.ApplyUsage(ctx, env.Seq, projections.RefusalDeltas(*e, p.opts), p.opts.Loc)
		if err != nil {
			return err
		}
		if applied {
			p.m.observeRefusals(*e)
		}
	default:
		return Permanent(fmt.Errorf("workers: %s is not a usage event", env.Type))
	}
	return nil
}

// usageMetrics are counted from applied usage events.
// ApplyBatch implements Batcher: the events' deltas are merged
// (projections.UsageBatchDeltas, plus projections.RefusalDeltas of the
// counts of refusals) and applied in one script call. It reports false,
// having applied nothing, when an event does not decode or was applied
// before; the runner then applies the events one by one.
func (p *UsageProjector) ApplyBatch(ctx context.Context, envs []events.Envelope) (bool, error) {
	us := make([]events.Usage, 0, len(envs))
	var counts []events.RefusalsCounted
	seqs := make([]uint64, 0, len(envs))
	for _, env := range envs {
		v, err := events.Decode(env)
		if err != nil {
			return false, nil
		}
		switch e := v.(type) {
		case *events.Usage:
			if e.Time.IsZero() {
				e.Time = env.Time
			}
			us = append(us, *e)
		case *events.RefusalsCounted:
			if e.Time.IsZero() {
				e.Time = env.Time
			}
			counts = append(counts, *e)
		default:
			return false, nil
		}
		seqs = append(seqs, env.Seq)
	}
	deltas := projections.UsageBatchDeltas(us, p.opts)
	for _, c := range counts {
		deltas = append(deltas, projections.RefusalDeltas(c, p.opts)...)
	}
	applied, err := p.store.ApplyUsageBatch(ctx, seqs, deltas, p.opts.Loc)
	if err != nil || !applied {
		return false, err
	}
	for _, u := range us {
		p.m.observe(u)
	}
	for _, c := range counts {
		p.m.observeRefusals(c)
	}
	return true, nil
}

type usageMetrics struct {
	requests *prometheus.CounterVec // platform, outcome
	tokens   *prometheus.CounterVec // platform, model, kind
	cost     *prometheus.CounterVec // platform, model
	refusals *prometheus.CounterVec // reason
	unpriced *prometheus.CounterVec // platform
}

func newUsageMetrics(reg prometheus.Registerer) *usageMetrics {
	m := &usageMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_usage_requests_total", Help: "Usage events counted, by platform and outcome.",
		}, []string{"platform", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_usage_tokens_total", Help: "Tokens counted, by platform, model (\"unpriced\" for models without a price) and kind.",
		}, []string{"platform", "model", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_usage_cost_usd_total", Help: "Cost counted in USD, by platform and model.",
		}, []string{"platform", "model"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_usage_refusals_total", Help: "Requests refused after authentication, by reason.",
		}, []string{"reason"}),
		unpriced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_usage_unpriced_total", Help: "Requests whose model has no price (unknown model), by platform.",
		}, []string{"platform"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.tokens, m.cost, m.refusals, m.unpriced)
	}
	return m
}

// usageMaxLabelLen bounds label values taken from events.
const usageMaxLabelLen = 64

func usageLabel(s, empty string) string {
	if s == "" {
		return empty
	}
	if len(s) > usageMaxLabelLen {
		return s[:usageMaxLabelLen]
	}
	return s
}

// observeRefusals counts a count of refusals as that many refused
// requests.
func (m *usageMetrics) observeRefusals(c events.RefusalsCounted) {
	if c.Count <= 0 {
		return
	}
	m.requests.WithLabelValues(usageLabel(c.Platform, "unknown"), events.OutcomeRefused).Add(float64(c.Count))
	m.refusals.WithLabelValues(events.RefusalReason(c.Reason)).Add(float64(c.Count))
}

func (m *usageMetrics) observe(u events.Usage) {
	platform := usageLabel(u.Platform, "unknown")
	m.requests.WithLabelValues(platform, usageLabel(u.Outcome, "unknown")).Inc()
	if u.Outcome == events.OutcomeRefused {
		m.refusals.WithLabelValues(usageLabel(u.Reason, "unknown")).Inc()
		return
	}
	// Only priced models name a label: a model the price table knows is
	// one of a bounded set, while a client can ask for any name.
	model := "unpriced"
	if u.Priced {
		model = usageLabel(u.Model, "unknown")
	} else {
		m.unpriced.WithLabelValues(platform).Inc()
	}
	for _, k := range []struct {
		kind string
		n    int64
	}{
		{"input", u.InputTokens}, {"output", u.OutputTokens}, {"cache_create", u.CacheCreateTokens},
		{"cache_create_1h", u.CacheCreate1hTokens}, {"cache_read", u.CacheReadTokens}, {"reasoning", u.ReasoningTokens},
	} {
		if k.n > 0 {
			m.tokens.WithLabelValues(platform, model, k.kind).Add(float64(k.n))
		}
	}
	if n := u.Nanos(); n > 0 {
		m.cost.WithLabelValues(platform, model).Add(pricing.NanosToUSD(n))
	}
}

// Options configure the projectors of a Group. The zero value is valid.
type Options struct {
	// Location is the time zone of the usage statistics' days, weeks and
	// months (TZ); nil means UTC.
	Location *time.Location
	// IsOpus tells which models count toward weekly Opus limits; nil uses
	// the built-in price table (pricing.Table.IsOpus).
	IsOpus func(model string) bool
}
