package relay

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"relay/events"
	"relay/projections/pricing"
)

// publishUsage completes the usage event and stores it: acknowledged by
// JetStream, or spooled to disk when NATS cannot take it, to be published
// later with the same id. It runs once per request. A request refused
// before any upstream was tried is counted instead (countRefusal): refused
// by the key's checks and limits, or answered 503 because no account could
// take it (DESIGN.md section 5: such requests never grow storage one by one).
func (x *exchange) publishUsage() {
	if x.published {
		return
	}
	x.published = true
	if x.u.Outcome == events.OutcomeNoAccount && x.u.Attempts == 0 {
		x.u.Reason = events.RefusalNoAccount
		x.countRefusal()
		return
	}
	if x.u.Outcome == events.OutcomeRefused {
		x.countRefusal()
		return
	}
	s := x.s
	now := time.Now()
	u := &x.u
	u.Time = x.start.UTC()
	u.DurationMs = now.Sub(x.start).Milliseconds()
	if !x.firstByte.IsZero() {
		u.TTFTMs = x.firstByte.Sub(x.start).Milliseconds()
	}
	if u.Status == 0 {
		u.Status = 200
	}
	u.CostNanos, u.Priced = s.prices.Current().RequestCost(u.Outcome, u.Model, u.UpstreamModel, u.Tokens)
	u.Cost = pricing.NanosToUSD(u.CostNanos)
	if !u.Priced {
		s.unpricedOnce(pricing.ChargedModel(u.Model, u.UpstreamModel))
	}
	env, err := events.NewWithID(x.id, events.UsageRecorded, x.start, "key:"+x.key.ID, x.id, u)
	if err != nil {
		s.log.Error().Err(err).Str("requestId", x.id).Msg("usage event not built")
		return
	}
	seq, published := s.storeUsage(context.Background(), events.UsageSubject(x.rt.platform, x.key.ID), env, s.log.With().Str("requestId", x.id).Logger())
	if published && u.CostNanos > 0 {
		s.spendLag.add(seq, now)
	}
	s.metrics.usagePublishSeconds.Observe(time.Since(now).Seconds())
}

// storeUsage stores one event of the USAGE stream: acknowledged by
// JetStream within PublishTimeout, else spooled to disk to be published
// later under the same id. It reports the stream sequence and whether
// JetStream acknowledged it (false: spooled, or lost and logged).
func (s *Relay) storeUsage(ctx context.Context, subject string, env events.Envelope, log zerolog.Logger) (uint64, bool) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	seq, err := s.usagePub.Publish(pctx, subject, env)
	if err == nil {
		s.published(env.Type)
		return seq, true
	}
	if serr := s.spool.put(subject, env); serr != nil {
		log.Error().Err(err).AnErr("spoolError", serr).Str("type", env.Type).Msg("usage event lost: neither published nor spooled")
		return 0, false
	}
	log.Warn().Err(err).Str("type", env.Type).Msg("usage event spooled: NATS did not acknowledge it")
	return 0, false
}

// unpricedOnce counts a model without a price, and logs each of the first
// maxModelLabels such models once per process.
func (s *Relay) unpricedOnce(model string) {
	label, first := s.metrics.unpricedModels.admit(model)
	s.metrics.unpriced.WithLabelValues(label).Inc()
	if first {
		s.log.Warn().Str("model", label).Msg("model has no price: usage recorded with priced=false and cost 0; add it to PRICING_FILE")
	}
}
