package admin

import (
	"context"
	"errors"
	"time"

	"relay/edge/fault"
	"relay/events"
	"relay/projections"
	"relay/store"
)

// Statistics (DESIGN.md section 4). Every figure comes from the usage
// projection's counters in Redis; nothing reads the stream at request time.
// Days are local days of the time zone the projection buckets in (the
// workers' TZ), which every answer carries as Location.

// Statistics limits and defaults.
const (
	overviewTop   = 10
	defaultDays   = 7  // usage by day without From
	defaultHours  = 24 // usage by hour without From
	defaultMonths = 12 // usage by month without From
	maxStatsModel = 256
)

// The ranges of KeyStats and AccountStats.
const (
	RangeAll   = "all"
	RangeToday = "today"
	Range7d    = "7d"
	Range30d   = "30d"
)

// EntityStats are one key's or account's statistics over a range.
type EntityStats struct {
	// ID names the key or account; Platform is the account's (empty for a
	// key).
	ID, Platform string
	// Range is the range read (RangeAll when none was asked).
	Range string
	// Location is the zone the days are local to.
	Location *time.Location
	store.Stats
}

// KeyStats returns the statistics of key keyID over rng (RangeToday,
// Range7d, Range30d or RangeAll, the default when empty). A deleted key
// keeps its history; a key that never existed is not found.
func (s *Service) KeyStats(ctx context.Context, keyID, rng string) (EntityStats, error) {
	k, err := s.loadKey(ctx, keyID)
	if err != nil {
		return EntityStats{}, err
	}
	return s.entityStats(ctx, k.ID, "", rng, func(r store.StatsRange) (store.Stats, error) { return s.store.KeyStats(ctx, k.ID, r) })
}

// AccountStats returns the statistics of account accountID of platform
// over rng, as KeyStats.
func (s *Service) AccountStats(ctx context.Context, platform, accountID, rng string) (EntityStats, error) {
	a, err := s.loadAccount(ctx, platform, accountID)
	if err != nil {
		return EntityStats{}, err
	}
	return s.entityStats(ctx, a.ID, a.Platform, rng, func(r store.StatsRange) (store.Stats, error) { return s.store.AccountStats(ctx, a.ID, r) })
}

func (s *Service) entityStats(ctx context.Context, id, platform, rng string, read func(store.StatsRange) (store.Stats, error)) (EntityStats, error) {
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return EntityStats{}, err
	}
	r := store.StatsRange{Now: time.Now(), Loc: loc}
	switch rng {
	case "", RangeAll:
		rng = RangeAll
	case RangeToday:
		r.Days = 1
	case Range7d:
		r.Days = 7
	case Range30d:
		r.Days = 30
	default:
		return EntityStats{}, fault.InvalidField("range", "range must be today, 7d, 30d or all")
	}
	st, err := read(r)
	if err != nil {
		return EntityStats{}, err
	}
	return EntityStats{ID: id, Platform: platform, Range: rng, Location: loc, Stats: st}, nil
}

// RankedKey is a key in a top list, with its name.
type RankedKey struct {
	ID, Name string
	projections.UsageCounters
}

// AccountsOverview counts the live accounts.
type AccountsOverview struct {
	Total, Inactive, Unschedulable int
	ByPlatform                     map[string]int
	// ByState counts them by the health state in force ("active" when
	// none).
	ByState map[string]int
}

// KeysOverview counts the live keys, and those usable now.
type KeysOverview struct {
	Total, Active int
}

// Overview is relay-wide statistics now.
type Overview struct {
	Location *time.Location
	// Date is today's label in Location (YYYY-MM-DD).
	Date string
	// Usage holds the counters and top lists; its TopKeys* are repeated,
	// with names, in TopKeysToday and TopKeysAllTime.
	Usage                        store.Overview
	TopKeysToday, TopKeysAllTime []RankedKey
	Accounts                     AccountsOverview
	Keys                         KeysOverview
}

// Overview returns relay-wide statistics: today's and all-time counters,
// the last minute's rates, top keys, models and platforms, and counts of
// accounts and keys.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return Overview{}, err
	}
	now := time.Now()
	o, err := s.store.Overview(ctx, now, loc, overviewTop)
	if err != nil {
		return Overview{}, err
	}
	out := Overview{
		Location: loc, Date: projections.BucketLabel(projections.GranDay, now, loc), Usage: o,
		Accounts: AccountsOverview{ByPlatform: map[string]int{}, ByState: map[string]int{}},
	}
	names := map[string]string{}
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, a := range cat.Accounts {
			if !a.Exists() {
				continue
			}
			out.Accounts.Total++
			out.Accounts.ByPlatform[a.Platform]++
			if !a.IsActive {
				out.Accounts.Inactive++
			}
			if !a.Schedulable {
				out.Accounts.Unschedulable++
			}
			state := cat.States[a.ID].ActiveAt(now)
			if state == "" {
				state = "active"
			}
			out.Accounts.ByState[state]++
		}
		for _, k := range cat.Keys {
			if !k.Exists() || k.IsDeleted {
				continue
			}
			out.Keys.Total++
			if k.Usable(now) {
				out.Keys.Active++
			}
		}
		for _, list := range [][]store.Ranked{o.TopKeysToday, o.TopKeysAllTime} {
			for _, r := range list {
				names[r.ID] = cat.Keys[r.ID].Name
			}
		}
	})
	rank := func(list []store.Ranked) []RankedKey {
		out := make([]RankedKey, 0, len(list))
		for _, r := range list {
			out = append(out, RankedKey{ID: r.ID, Name: names[r.ID], UsageCounters: r.UsageCounters})
		}
		return out
	}
	out.TopKeysToday, out.TopKeysAllTime = rank(o.TopKeysToday), rank(o.TopKeysAllTime)
	return out, nil
}

// The groupings of UsageSeries.
const (
	GroupByDay     = "day"
	GroupByHour    = "hour"
	GroupByMonth   = "month"
	GroupByKey     = "key"
	GroupByAccount = "account"
	GroupByModel   = "model"
)

// StatsTime bounds a usage series: an instant, or a calendar date meaning
// the start of that date in the statistics' zone (which the caller does
// not need to know).
type StatsTime struct {
	Time time.Time
	// Date says only Time's year, month and day count.
	Date bool
}

// IsZero reports whether t is unset.
func (t StatsTime) IsZero() bool { return t.Time.IsZero() }

func (t StatsTime) in(loc *time.Location) time.Time {
	if t.Date {
		y, m, d := t.Time.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	return t.Time
}

// UsageQuery selects a usage series.
type UsageQuery struct {
	// GroupBy is GroupByDay (the default when empty), GroupByHour or
	// GroupByMonth for a series of that bucket, or GroupByKey,
	// GroupByAccount or GroupByModel for days summed per key, account or
	// model too.
	GroupBy string
	// From and To bound the series (the buckets holding them and every one
	// between). To defaults to now; From to 7 days, 24 hours or 12 months
	// before To.
	From, To StatsTime
	// KeyID or AccountID (not both) and Model filter; empty means all.
	// Ids must name a key or account that exists or existed.
	KeyID, AccountID, Model string
}

// UsageReport is a usage series and what it was read with.
type UsageReport struct {
	// GroupBy is the query's, GroupByDay when it was empty.
	GroupBy  string
	Location *time.Location
	// Granularity is the series' bucket (hour, day or month) and By the
	// dimension of Series.ByID (none, key, account or model).
	Granularity projections.Granularity
	By          projections.Dimension
	// From is the start of the first bucket and To the end of the last.
	From, To time.Time
	// The filters as applied (Model as the statistics name it).
	KeyID, AccountID, Model string
	Series                  store.Series
}

// UsageSeries reads a usage series. Every fault of the query is an error
// naming its field: an unknown groupBy, From after To, a range of more than
// 1000 buckets, unknown or combined ids, a grouping that cannot go with a
// filter, a model name too long.
func (s *Service) UsageSeries(ctx context.Context, q UsageQuery) (UsageReport, error) {
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return UsageReport{}, err
	}
	f := store.SeriesFilter{Loc: loc, To: time.Now(), GroupBy: projections.GranDay}
	groupBy := q.GroupBy
	switch groupBy {
	case "", GroupByDay:
		groupBy = GroupByDay
	case GroupByHour:
		f.GroupBy = projections.GranHour
	case GroupByMonth:
		f.GroupBy = projections.GranMonth
	case GroupByKey:
		f.By = projections.DimKey
	case GroupByAccount:
		f.By = projections.DimAccount
	case GroupByModel:
		f.By = projections.DimModel
	default:
		return UsageReport{}, fault.InvalidField("groupBy", "groupBy must be day, hour, month, key, account or model")
	}
	if !q.To.IsZero() {
		f.To = q.To.in(loc)
	}
	switch {
	case !q.From.IsZero():
		f.From = q.From.in(loc)
	case f.GroupBy == projections.GranDay:
		to := projections.BucketStart(projections.GranDay, f.To, loc)
		f.From = time.Date(to.Year(), to.Month(), to.Day()-(defaultDays-1), 0, 0, 0, 0, loc)
	case f.GroupBy == projections.GranMonth:
		to := projections.BucketStart(projections.GranMonth, f.To, loc)
		f.From = time.Date(to.Year(), to.Month()-(defaultMonths-1), 1, 0, 0, 0, 0, loc)
	default:
		f.From = f.To.Add(-(defaultHours - 1) * time.Hour)
	}
	if f.From.After(f.To) {
		return UsageReport{}, fault.InvalidField("from", "from must not be after to")
	}
	if err := s.usageFilters(q, &f); err != nil {
		return UsageReport{}, err
	}
	if (f.By == projections.DimKey && f.AccountID != "") || (f.By == projections.DimAccount && f.KeyID != "") {
		return UsageReport{}, fault.InvalidField("groupBy", "keys cannot be grouped under an accountId filter, nor accounts under a keyId filter")
	}
	series, err := s.store.UsageSeries(ctx, f)
	if errors.Is(err, store.ErrRangeTooLarge) {
		return UsageReport{}, fault.InvalidField("from", "the range from..to holds too many buckets (at most 1000)")
	}
	if err != nil {
		return UsageReport{}, err
	}
	return UsageReport{
		GroupBy: groupBy, Location: loc, Granularity: f.GroupBy, By: f.By,
		From:  projections.BucketStart(f.GroupBy, f.From, loc),
		To:    projections.NextBucket(f.GroupBy, projections.BucketStart(f.GroupBy, f.To, loc), loc),
		KeyID: f.KeyID, AccountID: f.AccountID, Model: f.Model,
		Series: series,
	}, nil
}

// usageFilters checks q's keyId, accountId and model into f. Ids must name
// a key or an account that exists (deleted ones too: their history stays).
func (s *Service) usageFilters(q UsageQuery, f *store.SeriesFilter) error {
	f.KeyID, f.AccountID = q.KeyID, q.AccountID
	if f.KeyID != "" && f.AccountID != "" {
		return fault.InvalidField("accountId", "keyId and accountId cannot be combined")
	}
	var keyOK, accountOK bool
	s.catalog.Read(func(cat *projections.Catalog) {
		keyOK = cat.Keys[f.KeyID].Exists()
		accountOK = cat.Accounts[f.AccountID].CreatedSeq != 0
	})
	if f.KeyID != "" && (!events.ValidToken(f.KeyID) || !keyOK) {
		return fault.InvalidField("keyId", "keyId names no API key")
	}
	if f.AccountID != "" && (!events.ValidToken(f.AccountID) || !accountOK) {
		return fault.InvalidField("accountId", "accountId names no account")
	}
	if m := q.Model; m != "" {
		if len(m) > maxStatsModel {
			return fault.InvalidField("model", "model must be at most 256 bytes")
		}
		f.Model = projections.StatsModel(m)
	}
	return nil
}
