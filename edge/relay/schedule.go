package relay

import (
	"context"
	"slices"
	"time"

	"relay/events"
	"relay/projections"
	"relay/store"
)

// reasonTried excludes an account this request already tried (the other
// reasons are the availability rule's: projections.Unavailability).
const reasonTried = "already_tried"

// candidates returns the accounts that may serve a request for model now,
// and why the others of the platform may not. A key bound to a dedicated
// account is served by that account only: an admin who binds a key means
// it, and silently spending a shared pool's quota would surprise them.
func (s *Relay) candidates(ctx context.Context, rt Route, k projections.KeyView, model string, tried map[string]bool, now time.Time) ([]store.Candidate, []events.Exclusion) {
	var out []store.Candidate
	var excluded []events.Exclusion
	var quotaed []string
	dedicated := rt.dedicatedAccount(k.Key)
	s.catalog.Read(func(cat *projections.Catalog) {
		consider := func(a projections.AccountView) {
			if why := projections.Unavailability(a, cat.States[a.ID], model, nil, now); len(why) > 0 {
				excluded = append(excluded, events.Exclusion{AccountID: a.ID, Reason: why[0].Reason})
				return
			}
			if tried[a.ID] {
				excluded = append(excluded, events.Exclusion{AccountID: a.ID, Reason: reasonTried})
				return
			}
			if a.DailyQuotaMicros > 0 {
				quotaed = append(quotaed, a.ID)
			}
			out = append(out, store.Candidate{ID: a.ID, Priority: a.Priority, MaxConcurrency: a.MaxConcurrency})
		}
		if dedicated != "" {
			if a, ok := cat.Accounts[dedicated]; ok && a.Platform == rt.accountPlatform {
				consider(a)
			} else {
				excluded = append(excluded, events.Exclusion{AccountID: dedicated, Reason: projections.ReasonDeleted})
			}
			return
		}
		for _, a := range cat.Accounts {
			if a.Platform != rt.accountPlatform {
				continue
			}
			if a.AccountType == "dedicated" {
				continue // serves only the keys bound to it
			}
			consider(a)
		}
	})
	if len(quotaed) == 0 {
		return out, excluded
	}
	// Spend is read outside the catalog lock.
	over := s.dropOverQuota(ctx, quotaed, now)
	excluded = append(excluded, over...)
	out = slices.DeleteFunc(out, func(c store.Candidate) bool {
		return slices.ContainsFunc(over, func(e events.Exclusion) bool { return e.AccountID == c.ID })
	})
	return out, excluded
}
