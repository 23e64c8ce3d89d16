package admin

import (
	"context"
	"time"

	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/projections"
	"relay/store"
)

// Key holders (DESIGN.md section 8): whoever holds an API key may see that
// key's own usage and limits, by presenting the key itself. Nothing else
// identifies them, so the key is authenticated exactly as the relay does
// it, and looking is rate limited apart from the key's relay traffic.

// Key-stats rate limits, per fixed minute: per client address (an IPv6
// address counts by its /64) and per key. They are counters of their own
// (store.Hit): looking never spends the key's relay limits, and a refused
// look never blocks its relay traffic.
const (
	KeyStatsPerAddress = 30
	KeyStatsPerKey     = 60
	KeyStatsWindow     = time.Minute
	// KeyStatsDays is how many local days the daily series holds, today
	// included.
	KeyStatsDays = 30
)

// ErrBadKey is the one answer for a key that is unknown, deleted, disabled,
// expired or malformed, whichever it is, so the answer tells an attacker
// nothing (the relay answers its requests alike).
var ErrBadKey = fault.New(fault.Unauthorized, "invalid API key")

// KeyHolderView is what a key's holder sees of it.
type KeyHolderView struct {
	// Key is the key as projected, its hash left out.
	Key projections.KeyView
	// ExpiresIn is the time left before the key expires (a fixed expiry,
	// or an activation-mode key's countdown once started); 0 without an
	// expiry.
	ExpiresIn time.Duration
	// Limits are the key's limits as the relay applies them
	// (projections.KeyLimits), days and weeks in LimitsZone.
	Limits     []projections.KeyLimit
	LimitsZone *time.Location
	// Readings are what the limits were computed from, read whether or
	// not a limit is set on them (the window's cost and requests when the
	// key has a rateLimitWindow; its requests are logged only under a
	// rateLimitRequests limit).
	Readings projections.KeyReadings
	// Today, Month and All are the key's usage in the local day, the local
	// calendar month and all time; ByModel is all time per model; Daily
	// has the last KeyStatsDays local days, oldest first. Days are those of
	// the usage projection's zone, UsageZone, as in the admin's statistics.
	Today, Month, All       projections.UsageCounters
	ByModel                 map[string]projections.UsageCounters
	Daily                   []store.DayCounters
	UsageZone               *time.Location
	FirstUsedAt, LastUsedAt time.Time
	At                      time.Time
}

// KeyHolderStats answers the holder of secret with its key's usage and
// limits. It counts the look against clientAddr's and the key's key-stats
// rate limits first (fault.RateLimited with RetryAfter when spent). It
// never activates an activation-mode key.
func (s *Service) KeyHolderStats(ctx context.Context, secret, clientAddr string) (KeyHolderView, error) {
	now := time.Now()
	counters := []store.HitCounter{{Scope: "keystats-addr", ID: ThrottleAddr(clientAddr), Limit: KeyStatsPerAddress}}
	wellFormed := secrets.IsAPIKey(secret)
	var hash string
	if wellFormed {
		hash = secrets.HashKey(secret)
		// A prefix of the hash names the key's counter: enough to tell keys
		// apart, and every malformed or unknown secret is counted by its
		// address anyway.
		counters = append(counters, store.HitCounter{Scope: "keystats-key", ID: hash[:16], Limit: KeyStatsPerKey})
	}
	ok, wait, err := s.store.Hit(ctx, counters, KeyStatsWindow, now)
	if err != nil {
		return KeyHolderView{}, err
	}
	if !ok {
		return KeyHolderView{}, &fault.Error{Kind: fault.RateLimited, Message: "too many key statistics requests; try again later",
			RetryAfter: int(wait / time.Second)}
	}
	if !wellFormed {
		return KeyHolderView{}, ErrBadKey
	}
	var k projections.KeyView
	s.catalog.Read(func(cat *projections.Catalog) { k = cat.Keys[cat.KeyByHash[hash]] })
	if !secrets.Equal(k.KeyHash, hash) || !k.Usable(now) {
		return KeyHolderView{}, ErrBadKey
	}
	k.KeyHash = ""
	return s.keyHolderView(ctx, k, now)
}

func (s *Service) keyHolderView(ctx context.Context, k projections.KeyView, now time.Time) (KeyHolderView, error) {
	readings, limits, limitsLoc, err := s.keyLimitsAt(ctx, k, now)
	if err != nil {
		return KeyHolderView{}, err
	}
	v := KeyHolderView{Key: k, LimitsZone: limitsLoc, At: now, Readings: readings, Limits: limits}
	if k.ExpiresAt != nil {
		v.ExpiresIn = max(k.ExpiresAt.Sub(now), 0)
	}

	// Usage, as the admin's statistics read it (store.KeyStats, in the
	// projection's zone).
	if v.UsageZone, err = s.store.UsageLocation(ctx); err != nil {
		return KeyHolderView{}, err
	}
	recent, err := s.store.KeyStats(ctx, k.ID, store.StatsRange{Days: KeyStatsDays, Now: now, Loc: v.UsageZone})
	if err != nil {
		return KeyHolderView{}, err
	}
	all, err := s.store.KeyStats(ctx, k.ID, store.StatsRange{Now: now, Loc: v.UsageZone})
	if err != nil {
		return KeyHolderView{}, err
	}
	month, err := s.store.UsageSeries(ctx, store.SeriesFilter{GroupBy: projections.GranMonth, From: now, To: now, Loc: v.UsageZone, KeyID: k.ID})
	if err != nil {
		return KeyHolderView{}, err
	}
	v.Daily = recent.Daily
	if n := len(recent.Daily); n > 0 {
		v.Today = recent.Daily[n-1].UsageCounters
	}
	v.Month, v.All, v.ByModel = month.Total, all.Total, all.ByModel
	v.FirstUsedAt, v.LastUsedAt = all.FirstUsedAt, all.LastUsedAt
	return v, nil
}

// keyLimitsAt reads what key k has used at now and applies the limit rule
// (projections.KeyLimits) to it; days and weeks are in the edge's zone.
func (s *Service) keyLimitsAt(ctx context.Context, k projections.KeyView, now time.Time) (projections.KeyReadings, []projections.KeyLimit, *time.Location, error) {
	limitsLoc := s.cfg.Location
	if limitsLoc == nil {
		limitsLoc = time.UTC
	}
	// The spend and the admission state are read as the relay reads them
	// (checkCostLimits, store.Admit); the window's cost is read whenever
	// the key has a window, for the holder to see, limited or not.
	costWindow := 0
	if k.RateLimitWindow > 0 && k.RateLimitWindow <= store.MaxDayWindowMinutes {
		costWindow = k.RateLimitWindow
	}
	spend, err := s.store.KeySpend(ctx, k.ID, now, limitsLoc, costWindow)
	if err != nil {
		return projections.KeyReadings{}, nil, nil, err
	}
	use, err := s.store.KeyUse(ctx, k.ID, time.Duration(max(k.RateLimitWindow, 0))*time.Minute, now)
	if err != nil {
		return projections.KeyReadings{}, nil, nil, err
	}
	r := projections.KeyReadings{
		WindowCostNanos: spend.WindowNanos, DailyCostNanos: spend.DailyNanos,
		WeeklyOpusCostNanos: spend.WeeklyOpusNanos, TotalCostNanos: spend.TotalNanos,
		WindowRequests: use.WindowRequests, OldestInWindow: use.OldestInWindow, InFlight: use.InFlight,
	}
	return r, projections.KeyLimits(k, r, now, limitsLoc), limitsLoc, nil
}
