package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"relay/projections"
)

// Usage statistics: the usage projection's counters (projections.Delta) are
// kept in one hash per bucket, plus small sets indexing which keys, accounts
// and models have counters. Readers only read these; nothing scans the
// stream at request time.

// UsageOps turns the deltas of one usage event into Redis writes for Apply
// (ProjectionUsage): one HINCRBYM per bucket, HMAX/HMIN for first and last
// use, PEXPIREAT at each bucket's fixed expiry, the index sets, and the time
// zone the calendar buckets are in.
//
// Minute buckets are stored 60 to a hash (one UTC hour) and second buckets
// 60 to a hash (one minute); such a hash expires at the latest expiry of
// its buckets, the deltas' ExpireAt rounded up to the end of the hash.
func (s *Store) UsageOps(deltas []projections.Delta, loc *time.Location) []Op {
	if loc == nil {
		loc = time.UTC
	}
	type hash struct {
		key      string
		sums     []any // field, amount, ...: a bucket has few fields, found by scanning
		maxes    []Op
		expireAt int64
	}
	var order []*hash
	byKey := map[string]*hash{}
	get := func(key string) *hash {
		h, ok := byKey[key]
		if !ok {
			h = &hash{key: key}
			byKey[key] = h
			order = append(order, h)
		}
		return h
	}
	// A stats bucket's deltas come one field after another: its hash is
	// looked up once per bucket, not once per field.
	type bucket struct {
		dim   projections.Dimension
		id    string
		gran  projections.Granularity
		label string
	}
	buckets := map[bucket]*hash{}
	var index []Op
	type member struct{ set, member string }
	indexed := map[member]bool{}
	addIndex := func(set, m string, exp time.Time) {
		if indexed[member{set, m}] {
			return
		}
		indexed[member{set, m}] = true
		index = append(index, Op{Cmd: "SADD", Args: []any{set, m}})
		if !exp.IsZero() {
			index = append(index, Op{Cmd: "PEXPIREAT", Args: []any{set, exp.UnixMilli()}})
		}
	}

	for _, d := range deltas {
		var h *hash
		var field string
		if d.Gran == projections.GranMinute || d.Gran == projections.GranSecond {
			var key string
			key, field = s.deltaTarget(d)
			h = get(key)
		} else {
			b := bucket{d.Dim, d.ID, d.Gran, d.Label}
			if h = buckets[b]; h == nil {
				h = get(s.statsBucket(string(d.Dim), string(d.Gran), d.Label, d.ID))
				buckets[b] = h
				switch {
				case (d.Gran == projections.GranDay || d.Gran == projections.GranAll) && indexedDim(d.Dim):
					addIndex(s.statsIDs(string(d.Dim), string(d.Gran), d.Label), d.ID, d.ExpireAt)
				case d.Gran == projections.GranAll && d.Dim == projections.DimKeyModel:
					id, model := projections.SplitPairID(d.ID)
					addIndex(s.statsModels(string(projections.DimKey), id), model, time.Time{})
				case d.Gran == projections.GranAll && d.Dim == projections.DimAccountModel:
					id, model := projections.SplitPairID(d.ID)
					addIndex(s.statsModels(string(projections.DimAccount), id), model, time.Time{})
				}
			}
			field = d.Field
		}
		switch d.Agg {
		case projections.AggMax:
			h.maxes = append(h.maxes, Op{Cmd: "HMAX", Args: []any{h.key, field, d.Amount}})
		case projections.AggMin:
			h.maxes = append(h.maxes, Op{Cmd: "HMIN", Args: []any{h.key, field, d.Amount}})
		default:
			add := func(field string) {
				for i := 0; i < len(h.sums); i += 2 {
					if h.sums[i] == field {
						h.sums[i+1] = h.sums[i+1].(int64) + d.Amount
						return
					}
				}
				h.sums = append(h.sums, field, d.Amount)
			}
			add(field)
			if d.Gran == projections.GranMinute {
				add(spendHourField) // the hour's total, for windows that span it
			}
		}
		if !d.ExpireAt.IsZero() {
			h.expireAt = max(h.expireAt, groupExpiry(d).UnixMilli())
		}
	}

	ops := make([]Op, 0, 3*len(order)+len(index)+1)
	for _, h := range order {
		if len(h.sums) > 0 {
			ops = append(ops, Op{Cmd: "HINCRBYM", Args: append([]any{h.key}, h.sums...)})
		}
		ops = append(ops, h.maxes...)
		if h.expireAt != 0 {
			ops = append(ops, Op{Cmd: "PEXPIREAT", Args: []any{h.key, h.expireAt}})
		}
	}
	ops = append(ops, index...)
	if len(deltas) > 0 {
		ops = append(ops, Op{Cmd: "HSET", Args: []any{s.usageMeta(), "tz", loc.String()}})
	}
	return ops
}

// ApplyUsage applies the deltas of the usage event at seq, once; it reports
// whether this call applied it (false: applied before).
func (s *Store) ApplyUsage(ctx context.Context, seq uint64, deltas []projections.Delta, loc *time.Location) (bool, error) {
	return s.Apply(ctx, ProjectionUsage, seq, s.UsageOps(deltas, loc))
}

// ApplyUsageBatch applies the deltas of several usage events (at seqs) in one
// script call: UsageOps merges them per hash and field, so a batch of similar
// events costs about as much as one. All or none, like ApplyBatch.
func (s *Store) ApplyUsageBatch(ctx context.Context, seqs []uint64, deltas []projections.Delta, loc *time.Location) (bool, error) {
	return s.ApplyBatch(ctx, ProjectionUsage, seqs, s.UsageOps(deltas, loc))
}

func indexedDim(d projections.Dimension) bool {
	switch d {
	case projections.DimKey, projections.DimAccount, projections.DimModel, projections.DimPlatform:
		return true
	}
	return false
}

// deltaTarget is the hash and field a delta changes.
func (s *Store) deltaTarget(d projections.Delta) (key, field string) {
	switch d.Gran {
	case projections.GranMinute:
		m, _ := strconv.ParseInt(d.Label, 10, 64)
		h, f := divFloor(m, 60)
		return s.spendMinutes(string(d.Dim), d.ID, strconv.FormatInt(h, 10)), strconv.FormatInt(f, 10)
	case projections.GranSecond:
		sec, _ := strconv.ParseInt(d.Label, 10, 64)
		m, f := divFloor(sec, 60)
		return s.rateSeconds(strconv.FormatInt(m, 10)), d.Field + ":" + strconv.FormatInt(f, 10)
	}
	return s.statsBucket(string(d.Dim), string(d.Gran), d.Label, d.ID), d.Field
}

// groupExpiry rounds a grouped bucket's expiry up to the end of its group,
// so every bucket of one hash gives the hash the same expiry.
func groupExpiry(d projections.Delta) time.Time {
	var unit int64
	switch d.Gran {
	case projections.GranMinute:
		unit = 3600
	case projections.GranSecond:
		unit = 60
	default:
		return d.ExpireAt
	}
	sec := d.ExpireAt.Unix()
	if d.ExpireAt.Nanosecond() > 0 {
		sec++
	}
	q, r := divFloor(sec, unit)
	if r > 0 {
		q++
	}
	return time.Unix(q*unit, 0)
}

// divFloor divides rounding toward minus infinity and returns the
// remainder in [0, d).
func divFloor(n, d int64) (q, r int64) {
	q, r = n/d, n%d
	if r < 0 {
		q, r = q-1, r+d
	}
	return q, r
}

// UsageLocation returns the time zone the usage projection buckets days,
// weeks and months in (the workers' TZ), so readers label buckets the way
// they were written; UTC before the first usage event.
func (s *Store) UsageLocation(ctx context.Context) (*time.Location, error) {
	name, err := s.rdb.HGet(ctx, s.usageMeta(), "tz").Result()
	if errors.Is(err, redis.Nil) {
		return time.UTC, nil
	}
	if err != nil {
		return nil, err
	}
	return time.LoadLocation(name)
}

// ErrRangeTooLarge reports a stats query over more buckets than
// MaxSeriesPoints.
var ErrRangeTooLarge = errors.New("store: stats range too large")

// ErrBadFilter reports a stats filter combination without counters.
var ErrBadFilter = errors.New("store: unsupported stats filter")

// MaxSeriesPoints bounds the buckets one stats query reads per id.
const MaxSeriesPoints = 1000

// StatsRange selects the buckets a stats reader sums: the Days local
// calendar days ending with the day of Now in Loc, or all time when Days
// is 0.
type StatsRange struct {
	Days int
	Now  time.Time
	Loc  *time.Location
}

// DayCounters are the counters of one local day.
type DayCounters struct {
	Date string // "2006-01-02"
	projections.UsageCounters
}

// Stats are the statistics of one key or account over a StatsRange.
type Stats struct {
	// Total sums the range: the all-time counters for all time, else the
	// days of Daily.
	Total projections.UsageCounters
	// Daily has one entry per day of the range, oldest first, zero days
	// included. For all time it starts at the day of the first use (at
	// most DailyDays back, the daily retention).
	Daily []DayCounters
	// ByModel sums the range per model used.
	ByModel map[string]projections.UsageCounters
	// FirstUsedAt and LastUsedAt are the oldest and newest usage events of
	// the id, ever; zero when none.
	FirstUsedAt, LastUsedAt time.Time
}

// KeyStats returns the statistics of API key keyID over r.
func (s *Store) KeyStats(ctx context.Context, keyID string, r StatsRange) (Stats, error) {
	return s.entityStats(ctx, projections.DimKey, projections.DimKeyModel, keyID, r)
}

// AccountStats returns the statistics of upstream account accountID over r.
func (s *Store) AccountStats(ctx context.Context, accountID string, r StatsRange) (Stats, error) {
	return s.entityStats(ctx, projections.DimAccount, projections.DimAccountModel, accountID, r)
}

func (s *Store) entityStats(ctx context.Context, dim, pairDim projections.Dimension, id string, r StatsRange) (Stats, error) {
	if r.Days < 0 {
		return Stats{}, fmt.Errorf("store: stats range of %d days", r.Days)
	}
	loc := r.Loc
	if loc == nil {
		loc = time.UTC
	}
	all := string(projections.GranAll)
	pipe := s.rdb.Pipeline()
	allCmd := pipe.HGetAll(ctx, s.statsBucket(string(dim), all, "", id))
	modelsCmd := pipe.SMembers(ctx, s.statsModels(string(dim), id))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Stats{}, err
	}
	allTime, extra := parseCounters(allCmd.Val())
	st := Stats{
		FirstUsedAt: msTime(extra[projections.FieldFirstUsedAt]),
		LastUsedAt:  msTime(extra[projections.FieldLastUsedAt]),
		ByModel:     map[string]projections.UsageCounters{},
	}
	models := modelsCmd.Val()
	slices.Sort(models)

	today := projections.BucketStart(projections.GranDay, r.Now, loc)
	first := today
	if r.Days > 0 {
		first = time.Date(today.Year(), today.Month(), today.Day()-(r.Days-1), 0, 0, 0, 0, loc)
	} else if !st.FirstUsedAt.IsZero() {
		first = projections.BucketStart(projections.GranDay, st.FirstUsedAt, loc)
		oldest := time.Date(today.Year(), today.Month(), today.Day()-(projections.DailyDays-1), 0, 0, 0, 0, loc)
		if first.Before(oldest) {
			first = oldest
		}
	}
	days := bucketLabels(projections.GranDay, first, today, loc)
	if len(days) > MaxSeriesPoints {
		return Stats{}, ErrRangeTooLarge
	}
	if r.Days == 0 && st.FirstUsedAt.IsZero() {
		days = nil // never used: no days to show
	}

	day := string(projections.GranDay)
	pipe = s.rdb.Pipeline()
	dayCmds := make([]*redis.MapStringStringCmd, len(days))
	for i, d := range days {
		dayCmds[i] = pipe.HGetAll(ctx, s.statsBucket(string(dim), day, d.label, id))
	}
	modelCmds := make([][]*redis.MapStringStringCmd, len(models))
	for i, m := range models {
		pair := projections.PairID(id, m)
		if r.Days == 0 {
			modelCmds[i] = []*redis.MapStringStringCmd{pipe.HGetAll(ctx, s.statsBucket(string(pairDim), all, "", pair))}
			continue
		}
		for _, d := range days {
			modelCmds[i] = append(modelCmds[i], pipe.HGetAll(ctx, s.statsBucket(string(pairDim), day, d.label, pair)))
		}
	}
	if len(dayCmds)+len(models) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return Stats{}, err
		}
	}
	for i, d := range days {
		c, _ := parseCounters(dayCmds[i].Val())
		st.Daily = append(st.Daily, DayCounters{Date: d.label, UsageCounters: c})
		st.Total = st.Total.Plus(c)
	}
	if r.Days == 0 {
		st.Total = allTime
	}
	for i, m := range models {
		var sum projections.UsageCounters
		for _, cmd := range modelCmds[i] {
			c, _ := parseCounters(cmd.Val())
			sum = sum.Plus(c)
		}
		if !sum.IsZero() {
			st.ByModel[m] = sum
		}
	}
	return st, nil
}

// Ranked is the counters of one id, in a top list.
type Ranked struct {
	ID string
	projections.UsageCounters
}

// Overview is relay-wide statistics at one moment.
type Overview struct {
	// Today is the local day of Now; AllTime everything ever counted.
	Today, AllTime projections.UsageCounters
	// RequestsLastMinute and TokensLastMinute count the 60 seconds ending
	// with Now's second (TotalTokens per request).
	RequestsLastMinute, TokensLastMinute int64
	// Top lists, by cost, then requests, then tokens, then id.
	TopKeysToday, TopKeysAllTime     []Ranked
	TopModelsToday, TopModelsAllTime []Ranked
	// Every platform with usage, in the same order.
	PlatformsToday, PlatformsAllTime []Ranked
	// Freshness of the usage projection.
	Freshness
}

// Overview returns relay-wide statistics at now, days in loc, with top
// lists of at most top entries.
func (s *Store) Overview(ctx context.Context, now time.Time, loc *time.Location, top int) (Overview, error) {
	if loc == nil {
		loc = time.UTC
	}
	dim := func(d projections.Dimension) string { return string(d) }
	day, all := string(projections.GranDay), string(projections.GranAll)
	today := projections.BucketLabel(projections.GranDay, now, loc)
	nowMin, nowSec := divFloor(now.Unix(), 60)

	pipe := s.rdb.Pipeline()
	todayCmd := pipe.HGetAll(ctx, s.statsBucket(dim(projections.DimAll), day, today, ""))
	allCmd := pipe.HGetAll(ctx, s.statsBucket(dim(projections.DimAll), all, "", ""))
	rateCmds := []*redis.MapStringStringCmd{
		pipe.HGetAll(ctx, s.rateSeconds(strconv.FormatInt(nowMin-1, 10))),
		pipe.HGetAll(ctx, s.rateSeconds(strconv.FormatInt(nowMin, 10))),
	}
	keysToday := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimKey), day, today))
	keysAll := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimKey), all, ""))
	modelsToday := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimModel), day, today))
	modelsAll := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimModel), all, ""))
	platformsToday := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimPlatform), day, today))
	platformsAll := pipe.SMembers(ctx, s.statsIDs(dim(projections.DimPlatform), all, ""))
	cpCmd := pipe.Get(ctx, s.checkpoint(ProjectionUsage))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Overview{}, err
	}
	var o Overview
	var extra map[string]int64
	o.Today, _ = parseCounters(todayCmd.Val())
	o.AllTime, extra = parseCounters(allCmd.Val())
	o.LastEventAt = msTime(extra[projections.FieldLastUsedAt])
	o.Checkpoint, _ = strconv.ParseUint(cpCmd.Val(), 10, 64)
	// Seconds (nowMin-1, nowSec+1 .. 59) and (nowMin, 0 .. nowSec).
	for i, cmd := range rateCmds {
		for f, v := range cmd.Val() {
			name, secText, _ := cutLast(f, ':')
			sec, err := strconv.ParseInt(secText, 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err != nil || err2 != nil || (i == 0 && sec <= nowSec) || (i == 1 && sec > nowSec) {
				continue
			}
			switch name {
			case projections.FieldRequests:
				o.RequestsLastMinute += n
			case projections.FieldTokens:
				o.TokensLastMinute += n
			}
		}
	}

	rank := func(d projections.Dimension, gran, label string, ids []string, top int) ([]Ranked, error) {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGetAll(ctx, s.statsBucket(string(d), gran, label, id))
		}
		if len(ids) > 0 {
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
		}
		out := make([]Ranked, 0, len(ids))
		for i, id := range ids {
			c, _ := parseCounters(cmds[i].Val())
			if !c.IsZero() {
				out = append(out, Ranked{ID: id, UsageCounters: c})
			}
		}
		slices.SortFunc(out, func(a, b Ranked) int {
			return cmp.Or(
				cmp.Compare(b.CostNanos, a.CostNanos),
				cmp.Compare(b.Requests, a.Requests),
				cmp.Compare(b.Tokens(), a.Tokens()),
				cmp.Compare(a.ID, b.ID))
		})
		if top >= 0 && len(out) > top {
			out = out[:top]
		}
		return out, nil
	}
	for _, l := range []struct {
		into  *[]Ranked
		dim   projections.Dimension
		gran  string
		label string
		ids   []string
		top   int
	}{
		{&o.TopKeysToday, projections.DimKey, day, today, keysToday.Val(), top},
		{&o.TopKeysAllTime, projections.DimKey, all, "", keysAll.Val(), top},
		{&o.TopModelsToday, projections.DimModel, day, today, modelsToday.Val(), top},
		{&o.TopModelsAllTime, projections.DimModel, all, "", modelsAll.Val(), top},
		{&o.PlatformsToday, projections.DimPlatform, day, today, platformsToday.Val(), -1},
		{&o.PlatformsAllTime, projections.DimPlatform, all, "", platformsAll.Val(), -1},
	} {
		var err error
		if *l.into, err = rank(l.dim, l.gran, l.label, l.ids, l.top); err != nil {
			return Overview{}, err
		}
	}
	return o, nil
}

// SeriesFilter selects a usage time series.
type SeriesFilter struct {
	// GroupBy is projections.GranHour, GranDay or GranMonth.
	GroupBy projections.Granularity
	// From and To select the buckets holding From, To and every bucket
	// between them.
	From, To time.Time
	Loc      *time.Location
	// KeyID, AccountID and Model filter; empty means all. KeyID and
	// AccountID cannot be combined (ErrBadFilter).
	KeyID, AccountID, Model string
	// By, when projections.DimKey, DimAccount or DimModel, also sums the
	// series per key, account or model (Series.ByID). Keys cannot be
	// broken down under an account filter, nor accounts under a key filter.
	By projections.Dimension
}

// SeriesPoint is one bucket of a series.
type SeriesPoint struct {
	Label string // the bucket label (projections.BucketLabel)
	Start time.Time
	projections.UsageCounters
}

// Series is a usage time series.
type Series struct {
	Points []SeriesPoint
	Total  projections.UsageCounters
	// ByModel sums the series per model; nil when the filter names a model.
	ByModel map[string]projections.UsageCounters
	// ByID sums the series per id of SeriesFilter.By; nil without By.
	ByID map[string]projections.UsageCounters
}

// UsageSeries returns the counters of every bucket selected by f, zero
// buckets included. Hourly buckets older than HourlyRetention and daily ones
// older than DailyDays read as zero.
func (s *Store) UsageSeries(ctx context.Context, f SeriesFilter) (Series, error) {
	if f.GroupBy != projections.GranHour && f.GroupBy != projections.GranDay && f.GroupBy != projections.GranMonth {
		return Series{}, fmt.Errorf("%w: group by %q", ErrBadFilter, f.GroupBy)
	}
	if f.KeyID != "" && f.AccountID != "" {
		return Series{}, fmt.Errorf("%w: keyId and accountId together", ErrBadFilter)
	}
	switch {
	case f.By == "", f.By == projections.DimModel:
	case f.By == projections.DimKey && f.AccountID != "", f.By == projections.DimAccount && f.KeyID != "":
		return Series{}, fmt.Errorf("%w: %s breakdown under a key or account filter", ErrBadFilter, f.By)
	case f.By != projections.DimKey && f.By != projections.DimAccount:
		return Series{}, fmt.Errorf("%w: breakdown by %q", ErrBadFilter, f.By)
	}
	loc := f.Loc
	if loc == nil {
		loc = time.UTC
	}
	if f.To.Before(f.From) {
		return Series{}, fmt.Errorf("%w: from after to", ErrBadFilter)
	}
	// The dimension with exactly the filter's counters; pairDim/modelsOf
	// give the per-model counters when no model is named.
	var dim, pairDim projections.Dimension
	var id, modelsSet string
	switch {
	case f.KeyID != "" && f.Model != "":
		dim, id = projections.DimKeyModel, projections.PairID(f.KeyID, f.Model)
	case f.AccountID != "" && f.Model != "":
		dim, id = projections.DimAccountModel, projections.PairID(f.AccountID, f.Model)
	case f.KeyID != "":
		dim, id, pairDim = projections.DimKey, f.KeyID, projections.DimKeyModel
		modelsSet = s.statsModels(string(projections.DimKey), f.KeyID)
	case f.AccountID != "":
		dim, id, pairDim = projections.DimAccount, f.AccountID, projections.DimAccountModel
		modelsSet = s.statsModels(string(projections.DimAccount), f.AccountID)
	case f.Model != "":
		dim, id = projections.DimModel, f.Model
	default:
		dim, pairDim = projections.DimAll, projections.DimModel
		modelsSet = s.statsIDs(string(projections.DimModel), string(projections.GranAll), "")
	}
	buckets := bucketLabels(f.GroupBy, projections.BucketStart(f.GroupBy, f.From, loc), projections.BucketStart(f.GroupBy, f.To, loc), loc)
	if len(buckets) > MaxSeriesPoints {
		return Series{}, ErrRangeTooLarge
	}
	var models []string
	if modelsSet != "" {
		var err error
		if models, err = s.rdb.SMembers(ctx, modelsSet).Result(); err != nil {
			return Series{}, err
		}
		slices.Sort(models)
	}
	gran := string(f.GroupBy)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(buckets))
	for i, b := range buckets {
		cmds[i] = pipe.HGetAll(ctx, s.statsBucket(string(dim), gran, b.label, id))
	}
	modelCmds := make([][]*redis.MapStringStringCmd, len(models))
	for i, m := range models {
		mid := m
		if pairDim != projections.DimModel {
			mid = projections.PairID(id, m)
		}
		for _, b := range buckets {
			modelCmds[i] = append(modelCmds[i], pipe.HGetAll(ctx, s.statsBucket(string(pairDim), gran, b.label, mid)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Series{}, err
	}
	var out Series
	var err error
	for i, b := range buckets {
		c, _ := parseCounters(cmds[i].Val())
		out.Points = append(out.Points, SeriesPoint{Label: b.label, Start: b.start, UsageCounters: c})
		out.Total = out.Total.Plus(c)
	}
	if f.By == projections.DimKey || f.By == projections.DimAccount {
		if out.ByID, err = s.seriesByID(ctx, f, buckets); err != nil {
			return Series{}, err
		}
	}
	if f.By == projections.DimModel && f.Model != "" {
		out.ByModel = map[string]projections.UsageCounters{}
		if !out.Total.IsZero() {
			out.ByModel[f.Model] = out.Total
		}
	}
	if f.Model == "" {
		out.ByModel = map[string]projections.UsageCounters{}
		for i, m := range models {
			var sum projections.UsageCounters
			for _, cmd := range modelCmds[i] {
				c, _ := parseCounters(cmd.Val())
				sum = sum.Plus(c)
			}
			if !sum.IsZero() {
				out.ByModel[m] = sum
			}
		}
	}
	return out, nil
}

// seriesByID sums the buckets per key or account (f.By), under f's key or
// model filter.
func (s *Store) seriesByID(ctx context.Context, f SeriesFilter, buckets []bucket) (map[string]projections.UsageCounters, error) {
	ids := []string{f.KeyID}
	if f.KeyID == "" {
		var err error
		if ids, err = s.rdb.SMembers(ctx, s.statsIDs(string(f.By), string(projections.GranAll), "")).Result(); err != nil {
			return nil, err
		}
		slices.Sort(ids)
	}
	if f.By == projections.DimAccount && f.AccountID != "" {
		ids = []string{f.AccountID}
	}
	dim, pair := f.By, projections.DimKeyModel
	if f.By == projections.DimAccount {
		pair = projections.DimAccountModel
	}
	pipe := s.rdb.Pipeline()
	cmds := make([][]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		d, bid := dim, id
		if f.Model != "" {
			d, bid = pair, projections.PairID(id, f.Model)
		}
		for _, b := range buckets {
			cmds[i] = append(cmds[i], pipe.HGetAll(ctx, s.statsBucket(string(d), string(f.GroupBy), b.label, bid)))
		}
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}
	out := map[string]projections.UsageCounters{}
	for i, id := range ids {
		var sum projections.UsageCounters
		for _, cmd := range cmds[i] {
			c, _ := parseCounters(cmd.Val())
			sum = sum.Plus(c)
		}
		if !sum.IsZero() {
			out[id] = sum
		}
	}
	return out, nil
}

// LastUsed returns the time of the newest usage event of each id of dim
// (projections.DimKey or DimAccount) that has one.
func (s *Store) LastUsed(ctx context.Context, dim projections.Dimension, ids []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.statsBucket(string(dim), string(projections.GranAll), "", id), projections.FieldLastUsedAt)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	for i, id := range ids {
		if ms, err := cmds[i].Int64(); err == nil {
			out[id] = msTime(ms)
		}
	}
	return out, nil
}

type bucket struct {
	label string
	start time.Time
}

// bucketLabels lists the buckets of g from the one starting at first to the
// one starting at last, at most MaxSeriesPoints+1 of them.
func bucketLabels(g projections.Granularity, first, last time.Time, loc *time.Location) []bucket {
	var out []bucket
	for b := first; !b.After(last) && len(out) <= MaxSeriesPoints; b = projections.NextBucket(g, b, loc) {
		out = append(out, bucket{label: projections.BucketLabel(g, b, loc), start: b})
	}
	return out
}

// parseCounters reads a stats hash: the counters, and every other integer
// field (first and last use) in extra.
func parseCounters(m map[string]string) (projections.UsageCounters, map[string]int64) {
	var c projections.UsageCounters
	var extra map[string]int64
	for f, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if !c.Add(f, n) {
			if extra == nil {
				extra = map[string]int64{}
			}
			extra[f] = n
		}
	}
	return c, extra
}

// msTime is Unix milliseconds as a time; 0 is the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
