package relay

import (
	"context"
	"sync"
	"time"

	"relay/events"
	"relay/projections"
)

// quotaCache remembers recent account spend readings.
type quotaCache struct {
	mu    sync.Mutex // mu protects spent
	spent map[string]spendReading
}

type spendReading struct {
	nanos int64
	at    time.Time
}

// overQuota reports whether account a has spent its daily quota in the
// current quota day: from quotaResetTime (HH:mm, local) or midnight.
func (s *Relay) overQuota(ctx context.Context, a projections.AccountView, now time.Time) bool {
	if a.DailyQuotaMicros <= 0 {
		return false
	}
	s.quotas.mu.Lock()
	r, ok := s.quotas.spent[a.ID]
	s.quotas.mu.Unlock()
	if !ok || now.Sub(r.at) >= s.cfg.QuotaCacheFor {
		nanos, err := s.store.AccountSpendSince(ctx, a.ID, projections.QuotaDayStart(a.QuotaResetTime, now.In(s.cfg.Location)), now)
		if err != nil {
			s.log.Warn().Err(err).Str("accountId", a.ID).Msg("account spend unreadable; quota not enforced for this request")
			return false
		}
		r = spendReading{nanos: nanos, at: now}
		s.quotas.mu.Lock()
		if s.quotas.spent == nil {
			s.quotas.spent = map[string]spendReading{}
		}
		s.quotas.spent[a.ID] = r
		s.quotas.mu.Unlock()
	}
	return projections.OverQuota(a, r.nanos)
}

// dropOverQuota removes candidates whose account spent its daily quota.
func (s *Relay) dropOverQuota(ctx context.Context, ids []string, now time.Time) (over []events.Exclusion) {
	for _, id := range ids {
		var a projections.AccountView
		s.catalog.Read(func(cat *projections.Catalog) { a = cat.Accounts[id] })
		if s.overQuota(ctx, a, now) {
			over = append(over, events.Exclusion{AccountID: id, Reason: projections.ReasonQuota})
		}
	}
	return over
}
