package admin

import (
	"context"
	"time"

	"relay/edge/fault"
	"relay/projections"
	"relay/store"
)

// Key statuses ListKeysByStatus filters by.
const (
	KeyStatusAll     = ""
	KeyStatusActive  = "active"  // usable now (projections.KeyView.Usable)
	KeyStatusDeleted = "deleted" // soft-deleted
	KeyStatusExpired = "expired" // live, past its expiry
)

// ListKeysByStatus returns a page of keys (deleted ones too) of status, in
// the store's order (newest first), and how many match. Without a status
// it is ListKeys with deleted keys; with one, the matching keys are picked
// while paging through the store, so a filtered page costs a pass over
// the keys matching q.Search.
func (s *Service) ListKeysByStatus(ctx context.Context, status string, q ListQuery) ([]KeyItem, int, error) {
	q.IncludeDeleted = true
	var keep func(v projections.KeyView, now time.Time) bool
	switch status {
	case KeyStatusAll:
		return s.ListKeys(ctx, q)
	case KeyStatusActive:
		keep = func(v projections.KeyView, now time.Time) bool { return v.Usable(now) }
	case KeyStatusDeleted:
		keep = func(v projections.KeyView, _ time.Time) bool { return v.IsDeleted }
	case KeyStatusExpired:
		keep = func(v projections.KeyView, now time.Time) bool { return !v.IsDeleted && v.Expired(now) }
	default:
		return nil, 0, fault.InvalidField("status", "status must be active, deleted or expired")
	}
	const scan = 1000
	now := time.Now()
	var page []projections.KeyView
	total := 0
	for offset := 0; ; offset += scan {
		views, n, err := s.store.ListKeys(ctx, store.ListQuery{Offset: offset, Limit: scan, Search: q.Search, IncludeDeleted: true})
		if err != nil {
			return nil, 0, err
		}
		for _, v := range views {
			if !keep(v, now) {
				continue
			}
			if total >= q.Offset && len(page) < q.Limit {
				page = append(page, v)
			}
			total++
		}
		if offset+scan >= n || len(views) == 0 {
			break
		}
	}
	items, err := s.keyItems(ctx, page...)
	return items, total, err
}
