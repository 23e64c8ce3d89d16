package edge

import (
	"context"
	"slices"
	"time"

	"relay/events"
	"relay/projections"
	"relay/store"
)

// Exclusion reasons recorded in usage events and availability answers.
const (
	reasonInactive      = "inactive"
	reasonUnschedulable = "unschedulable"
	reasonDeleted       = "deleted"
	reasonModel         = "model_not_supported"
	reasonTried         = "already_tried"
	reasonBusy          = "max_concurrency"
	reasonDedicated     = "dedicated_to_other_keys"
)

// candidates returns the accounts that may serve a request for model now,
// and why the others of the platform may not. A key bound to a dedicated
// account is served by that account only: an admin who binds a key means
// it, and silently spending a shared pool's quota would surprise them.
func (s *Server) candidates(ctx context.Context, rt relayRoute, k projections.KeyView, model string, tried map[string]bool, now time.Time) ([]store.Candidate, []events.Exclusion) {
	var out []store.Candidate
	var excluded []events.Exclusion
	var quotaed []string
	dedicated := rt.dedicatedAccount(k.Key)
	s.catalog.Read(func(cat *projections.Catalog) {
		consider := func(a projections.AccountView) {
			if reason := unavailable(a, cat.States[a.ID], model, now); reason != "" {
				excluded = append(excluded, events.Exclusion{AccountID: a.ID, Reason: reason})
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
				excluded = append(excluded, events.Exclusion{AccountID: dedicated, Reason: reasonDeleted})
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

// unavailable names why account a cannot take a request for model at now,
// or returns "".
func unavailable(a projections.AccountView, st projections.AccountStateView, model string, now time.Time) string {
	switch {
	case a.CreatedSeq == 0 || a.IsDeleted:
		return reasonDeleted
	case !a.IsActive:
		return reasonInactive
	case !a.Schedulable:
		return reasonUnschedulable
	}
	if state := st.ActiveAt(now); state != "" {
		return state
	}
	if _, ok := a.UpstreamModel(model); !ok {
		return reasonModel
	}
	return ""
}
