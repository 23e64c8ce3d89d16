package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"relay/projections"
)

// ErrWindowTooLong reports a spend window longer than its buckets are kept
// (MaxDayWindowMinutes for keys, projections.AccountMinuteRetention for
// accounts).
var ErrWindowTooLong = errors.New("store: spend window longer than its buckets are kept")

// MaxWindowMinutes is the longest rolling window KeySpend sums to the
// minute (projections.MaxSpendWindow). Longer windows, up to
// MaxDayWindowMinutes, are summed in whole local days.
const MaxWindowMinutes = int(projections.MaxSpendWindow / time.Minute)

// MaxDayWindowMinutes is the longest rolling window KeySpend sums at all:
// as long as daily buckets are kept.
const MaxDayWindowMinutes = projections.DailyDays * 24 * 60

// Freshness tells how current the usage projection is, for callers that
// must not trust stale totals (admission fails closed when the projection
// lags).
type Freshness struct {
	// Checkpoint is the usage projection's watermark: every USAGE event at
	// or below it is counted. Compare it with the sequence of the last
	// usage event this process published.
	Checkpoint uint64
	// LastEventAt is the time of the newest usage event counted (of any
	// key); zero before the first.
	LastEventAt time.Time
}

// Spend is what one API key has spent, in nano-dollars, as the usage
// projection counts it.
type Spend struct {
	// WindowNanos is the cost of the key's requests in the rolling window
	// asked for: every event from the start of the minute N minutes before
	// now's minute up to now. It covers the exact window [now-N min, now]
	// and at most the one minute before it, never less. Windows longer than
	// MaxWindowMinutes count every local day the window touches: at most a
	// day more than the window, never less.
	WindowNanos int64
	// DailyNanos is the cost of the local calendar day of now.
	DailyNanos int64
	// WeeklyOpusNanos is the cost of Opus models in the week of now,
	// which starts Monday 00:00 local time.
	WeeklyOpusNanos int64
	// TotalNanos is the cost of every request of the key, ever.
	TotalNanos int64
	Freshness
}

// KeySpend returns the spend of keyID at now: days and weeks in loc, the
// rolling window over windowMinutes minutes (0: none). It reads everything
// in one transaction, so all figures and the freshness agree, in one round
// trip.
func (s *Store) KeySpend(ctx context.Context, keyID string, now time.Time, loc *time.Location, windowMinutes int) (Spend, error) {
	if loc == nil {
		loc = time.UTC
	}
	if windowMinutes < 0 || windowMinutes > MaxDayWindowMinutes {
		return Spend{}, fmt.Errorf("%w: %d minutes", ErrWindowTooLong, windowMinutes)
	}
	key := string(projections.DimKey)
	var win *windowRead
	var winDays []*redis.StringCmd
	var daily, weekly, total, last *redis.StringCmd
	var cp *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		switch {
		case windowMinutes > MaxWindowMinutes:
			start := now.Add(-time.Duration(windowMinutes) * time.Minute)
			today := projections.BucketStart(projections.GranDay, now, loc)
			for d := projections.BucketStart(projections.GranDay, start, loc); !d.After(today); d = projections.NextBucket(projections.GranDay, d, loc) {
				winDays = append(winDays, p.HGet(ctx, s.statsBucket(key, string(projections.GranDay), projections.BucketLabel(projections.GranDay, d, loc), keyID), projections.FieldCostNanos))
			}
		case windowMinutes > 0:
			win = s.readWindow(ctx, p, key, keyID, now, windowMinutes)
		}
		daily = p.HGet(ctx, s.statsBucket(key, string(projections.GranDay), projections.BucketLabel(projections.GranDay, now, loc), keyID), projections.FieldCostNanos)
		weekly = p.HGet(ctx, s.statsBucket(key, string(projections.GranWeek), projections.BucketLabel(projections.GranWeek, now, loc), keyID), projections.FieldOpusCostNanos)
		total = p.HGet(ctx, s.statsBucket(key, string(projections.GranAll), "", keyID), projections.FieldCostNanos)
		s.readFreshness(ctx, p, &cp, &last)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Spend{}, err
	}
	sp := Spend{
		DailyNanos:      intOrZero(daily),
		WeeklyOpusNanos: intOrZero(weekly),
		TotalNanos:      intOrZero(total),
		Freshness:       freshness(cp, last),
	}
	if win != nil {
		sp.WindowNanos = win.sum()
	}
	for _, d := range winDays {
		sp.WindowNanos += intOrZero(d)
	}
	return sp, nil
}

// AccountDailySpend returns the cost of account accountID's requests in the
// local calendar day of now, in nano-dollars.
func (s *Store) AccountDailySpend(ctx context.Context, accountID string, now time.Time, loc *time.Location) (int64, error) {
	if loc == nil {
		loc = time.UTC
	}
	acct := string(projections.DimAccount)
	n, err := s.rdb.HGet(ctx, s.statsBucket(acct, string(projections.GranDay), projections.BucketLabel(projections.GranDay, now, loc), accountID), projections.FieldCostNanos).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// AccountSpendSince returns the cost of account accountID's requests from
// the start of since's minute up to now, for daily quotas that reset at a
// time of day (quotaResetTime). since may be at most 25 hours before now
// (projections.AccountMinuteRetention: a local day across a DST change).
func (s *Store) AccountSpendSince(ctx context.Context, accountID string, since, now time.Time) (int64, error) {
	if now.Sub(since) > projections.AccountMinuteRetention {
		return 0, fmt.Errorf("%w: since %v", ErrWindowTooLong, since)
	}
	if since.After(now) {
		return 0, nil
	}
	// The window starts at since's minute: count the minutes between the
	// two minute indexes, not the duration.
	sinceMin, _ := divFloor(since.Unix(), 60)
	nowMin, _ := divFloor(now.Unix(), 60)
	minutes := int(nowMin - sinceMin)
	var win *windowRead
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		win = s.readWindow(ctx, p, string(projections.DimAccount), accountID, now, minutes)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	return win.sum(), nil
}

// UsageFreshness returns how current the usage projection is.
func (s *Store) UsageFreshness(ctx context.Context) (Freshness, error) {
	var cp, last *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		s.readFreshness(ctx, p, &cp, &last)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Freshness{}, err
	}
	return freshness(cp, last), nil
}

func (s *Store) readFreshness(ctx context.Context, p redis.Pipeliner, cp, last **redis.StringCmd) {
	*cp = p.Get(ctx, s.checkpoint(ProjectionUsage))
	*last = p.HGet(ctx, s.statsBucket(string(projections.DimAll), string(projections.GranAll), "", ""), projections.FieldLastUsedAt)
}

func freshness(cp, last *redis.StringCmd) Freshness {
	f := Freshness{LastEventAt: msTime(intOrZero(last))}
	if v, err := cp.Uint64(); err == nil {
		f.Checkpoint = v
	}
	return f
}

// spendHourField is the field of a minute-bucket hash holding the sum of
// its minutes, so a window reads one field of every hour it spans whole.
const spendHourField = "h"

// windowRead is the minute buckets of one id read for a rolling window:
// the minutes lo..hi (Unix minutes), both included.
type windowRead struct {
	lo, hi int64
	hours  []int64
	cmds   []*redis.MapStringStringCmd // the first and last hour's minutes
	whole  []*redis.StringCmd          // the total of every hour between
}

// readWindow queues the reads of the minute buckets from N minutes before
// now's minute to now's minute: every minute of the first and the last
// hour, the total of each hour between them.
func (s *Store) readWindow(ctx context.Context, p redis.Pipeliner, dim, id string, now time.Time, minutes int) *windowRead {
	hi, _ := divFloor(now.Unix(), 60)
	w := &windowRead{lo: hi - int64(minutes), hi: hi}
	firstHour, _ := divFloor(w.lo, 60)
	lastHour, _ := divFloor(w.hi, 60)
	for h := firstHour; h <= lastHour; h++ {
		key := s.spendMinutes(dim, id, strconv.FormatInt(h, 10))
		if h != firstHour && h != lastHour {
			w.whole = append(w.whole, p.HGet(ctx, key, spendHourField))
			continue
		}
		w.hours = append(w.hours, h)
		w.cmds = append(w.cmds, p.HGetAll(ctx, key))
	}
	return w
}

func (w *windowRead) sum() int64 {
	var total int64
	for _, cmd := range w.whole {
		total += intOrZero(cmd)
	}
	for i, cmd := range w.cmds {
		for f, v := range cmd.Val() {
			m, err := strconv.ParseInt(f, 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err != nil || err2 != nil {
				continue
			}
			if minute := w.hours[i]*60 + m; minute >= w.lo && minute <= w.hi {
				total += n
			}
		}
	}
	return total
}

func intOrZero(cmd *redis.StringCmd) int64 {
	if cmd == nil {
		return 0
	}
	n, err := cmd.Int64()
	if err != nil {
		return 0
	}
	return n
}
