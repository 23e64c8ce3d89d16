package admin

import (
	"context"
	"time"

	"relay/projections"
	"relay/store"
)

// The keys list's usage against each limit, for the console: the limit
// rule every reader shares (projections.KeyLimits, over what the relay
// reads: keyLimitsAt), and today's usage.

// ConsoleKeyUse is a key's usage today and against each of its limits.
type ConsoleKeyUse struct {
	Today  projections.UsageCounters
	Limits []projections.KeyLimit
}

// ConsoleKeyLimits reads the usage of each key of ids (missing keys are
// left out).
func (s *Service) ConsoleKeyLimits(ctx context.Context, ids []string) (map[string]ConsoleKeyUse, error) {
	out := make(map[string]ConsoleKeyUse, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	keys := map[string]projections.KeyView{}
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, id := range ids {
			if k, ok := cat.Keys[id]; ok {
				keys[id] = k
			}
		}
	})
	for _, id := range ids {
		k, ok := keys[id]
		if !ok {
			continue
		}
		st, err := s.store.KeyStats(ctx, id, store.StatsRange{Days: 1, Now: now, Loc: loc})
		if err != nil {
			return nil, err
		}
		use := ConsoleKeyUse{Today: st.Total}
		if _, use.Limits, _, err = s.keyLimitsAt(ctx, k, now); err != nil {
			return nil, err
		}
		out[id] = use
	}
	return out, nil
}
