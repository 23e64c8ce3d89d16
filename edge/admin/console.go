package admin

import (
	"context"
	"time"

	"relay/projections"
)

// Actions the web console needs besides those the REST API shares with it.

// EndSession records that the console session id is over (signed out),
// for every edge, until until (when it would expire anyway).
func (s *Service) EndSession(ctx context.Context, id string, until time.Time) error {
	return s.store.EndConsoleSession(ctx, id, until)
}

// SessionEnded reports whether the console session id was signed out.
func (s *Service) SessionEnded(ctx context.Context, id string) (bool, error) {
	return s.store.ConsoleSessionEnded(ctx, id)
}

// ListAvailability returns a page of the live accounts of platform ("" for
// every platform the admin manages, in AccountPlatforms' order) with their
// availability now (the scheduler's rule, as AccountAvailability applies
// it to one), and how many match.
func (s *Service) ListAvailability(ctx context.Context, platform string, q ListQuery) ([]Availability, int, error) {
	platforms := AccountPlatforms
	if platform != "" {
		if err := CheckPlatform(platform); err != nil {
			return nil, 0, err
		}
		platforms = []string{platform}
	}
	var items []AccountItem
	total, offset := 0, q.Offset
	for _, p := range platforms {
		page := q
		page.Offset, page.Limit = max(offset, 0), q.Limit-len(items)
		if page.Limit < 1 {
			page.Limit = 1 // still count the platform's matches
		}
		got, n, err := s.ListAccounts(ctx, p, page)
		if err != nil {
			return nil, 0, err
		}
		if len(items) < q.Limit {
			items = append(items, got[:min(len(got), q.Limit-len(items))]...)
		}
		total += n
		offset -= n
	}
	now := time.Now()
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	inFlight, err := s.store.AccountInFlight(ctx, now, ids...)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Availability, len(items))
	for i, it := range items {
		load := projections.AccountLoad{QuotaDay: it.QuotaDay, SpentNanos: it.SpentNanos, InFlight: inFlight[it.ID]}
		out[i] = Availability{Account: it, Load: load, Reasons: projections.Unavailability(it.AccountView, it.State, "", &load, now)}
	}
	return out, total, nil
}
