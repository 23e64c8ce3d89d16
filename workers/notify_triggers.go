package workers

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// onState turns a STATE event into account.unavailable (a state marked)
// or account.recovered (an admin ended the states: reset-rate-limit).
func (n *Notifier) onState(ctx context.Context, env events.Envelope) error {
	v, err := events.Decode(env)
	if err != nil {
		return Permanent(err)
	}
	_, id := events.EntityOf(env.Subject)
	switch d := v.(type) {
	case *events.AccountStateMarkedData:
		if !d.Until.After(n.cfg.Now()) {
			return nil // over already (a late redelivery): nothing to tell
		}
		a := n.account(ctx, d.AccountID)
		if err := n.queue(ctx, fact{source: env.ID, typ: events.NotifyAccountUnavailable, subject: d.AccountID, time: env.Time,
			data: events.AccountUnavailableData{AccountID: d.AccountID, AccountName: a.Name, Platform: a.Platform, State: d.State, Reason: d.Reason, Status: d.Status, Until: d.Until.UTC()}}); err != nil {
			return err
		}
		// The state ends by itself at Until: runRecoveries tells of it.
		return n.st.WatchRecovery(ctx, d.AccountID, d.Until)
	case *events.AccountStateClearedData:
		if d.AccountID != "" {
			id = d.AccountID
		}
		a := n.account(ctx, id)
		if err := n.queue(ctx, fact{source: env.ID, typ: events.NotifyAccountRecovered, subject: id, time: env.Time,
			data: events.AccountRecoveredData{AccountID: id, AccountName: a.Name, Platform: a.Platform}}); err != nil {
			return err
		}
		return n.st.UnwatchRecovery(ctx, id)
	}
	return nil
}

// account returns the projected account id, or a zero view.
func (n *Notifier) account(ctx context.Context, id string) projections.AccountView {
	a, err := n.st.Account(ctx, id)
	if err != nil {
		return projections.AccountView{}
	}
	return a
}

// waitUsage waits until the usage projection has counted the event at seq,
// so the spend read next includes it.
func (n *Notifier) waitUsage(ctx context.Context, seq uint64) error {
	if n.usageSeen.Load() >= seq {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, n.cfg.UsageWait)
	defer cancel()
	if err := n.st.WaitCheckpoint(wctx, store.ProjectionUsage, seq); err != nil {
		return fmt.Errorf("usage projection has not counted event %d yet: %w", seq, err)
	}
	for {
		cur := n.usageSeen.Load()
		if cur >= seq || n.usageSeen.CompareAndSwap(cur, seq) {
			return nil
		}
	}
}

// onUsage checks, after a usage event is counted, the key's limits
// (key.limit_reached at 80 and 100 percent) and the account's daily quota
// (account.quota_reached). Each threshold of each limit fires once per
// period (day, week, rate window, ever) and limit value: a claim names it,
// held by the event that fired it, so whichever event finds the use past a
// threshold first tells of it, and a retry of that event tells again with
// the same delivery id.
func (n *Notifier) onUsage(ctx context.Context, env events.Envelope) error {
	v, err := events.Decode(env)
	if err != nil {
		return Permanent(err)
	}
	u, ok := v.(*events.Usage)
	if !ok || u.KeyID == "" || u.Outcome == events.OutcomeRefused {
		return nil
	}
	limitSubs, err := n.subscribers(ctx, events.NotifyKeyLimit)
	if err != nil {
		return err
	}
	quotaSubs, err := n.subscribers(ctx, events.NotifyAccountQuota)
	if err != nil {
		return err
	}
	wantQuota := len(quotaSubs) > 0 && u.AccountID != "" && u.Nanos() > 0
	if len(limitSubs) == 0 && !wantQuota {
		return nil
	}
	at := u.Time
	if at.IsZero() {
		at = env.Time
	}
	if len(limitSubs) > 0 {
		k, err := n.st.Key(ctx, u.KeyID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !k.IsDeleted && hasLimits(k) {
			if err := n.waitUsage(ctx, env.Seq); err != nil {
				return err
			}
			if err := n.checkKeyLimits(ctx, env.ID, k, at); err != nil {
				return err
			}
		}
	}
	if wantQuota {
		a, err := n.st.Account(ctx, u.AccountID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.DailyQuotaMicros > 0 {
			if err := n.waitUsage(ctx, env.Seq); err != nil {
				return err
			}
			return n.checkQuota(ctx, env.ID, a, at)
		}
	}
	return nil
}

func hasLimits(k projections.KeyView) bool {
	return k.DailyCostLimitMicros > 0 || k.TotalCostLimitMicros > 0 || k.WeeklyOpusCostLimitMicros > 0 ||
		(k.RateLimitWindow > 0 && (k.RateLimitCostMicros > 0 || k.RateLimitRequests > 0))
}

// Thresholds of key.limit_reached, in percent.
var limitThresholds = []int{80, 100}

// checkKeyLimits tells of each limit of k (projections.KeyLimits, the rule
// the relay refuses by and the key holder sees) used to 80 and 100 percent,
// once per threshold, period and limit value. Concurrency is not told of:
// it frees as requests end.
func (n *Notifier) checkKeyLimits(ctx context.Context, source string, k projections.KeyView, at time.Time) error {
	loc := n.cfg.Location
	window := 0
	if k.RateLimitWindow > 0 && k.RateLimitCostMicros > 0 && k.RateLimitWindow <= store.MaxDayWindowMinutes {
		window = k.RateLimitWindow
	}
	sp, err := n.st.KeySpend(ctx, k.ID, at, loc, window)
	if err != nil {
		return err
	}
	readings := projections.KeyReadings{WindowCostNanos: sp.WindowNanos, DailyCostNanos: sp.DailyNanos,
		WeeklyOpusCostNanos: sp.WeeklyOpusNanos, TotalCostNanos: sp.TotalNanos}
	if k.RateLimitWindow > 0 && k.RateLimitRequests > 0 {
		use, err := n.st.KeyUse(ctx, k.ID, time.Duration(k.RateLimitWindow)*time.Minute, n.cfg.Now())
		if err != nil {
			return err
		}
		readings.WindowRequests, readings.OldestInWindow = use.WindowRequests, use.OldestInWindow
	}
	local := at.In(loc)
	for _, l := range projections.KeyLimits(k, readings, at, loc) {
		period, ttl, ok := limitPeriod(l, k, local, window)
		if !ok {
			continue
		}
		for _, th := range limitThresholds {
			if !reached(l.Used, l.Limit, th) {
				continue
			}
			name := store.ClaimName("limit", k.ID, l.Kind, strconv.Itoa(th), strconv.FormatInt(l.Limit, 10), period)
			ok, err := n.st.Claim(ctx, name, source, ttl)
			if err != nil {
				return err
			}
			// A jump past 100% tells of 100% only; its 80% is claimed
			// all the same, so it never follows.
			if !ok || (th < 100 && reached(l.Used, l.Limit, 100)) {
				continue
			}
			data := events.KeyLimitData{KeyID: k.ID, KeyName: k.Name, Kind: l.Kind, Threshold: th, Period: period,
				Used: float64(l.Used), Limit: float64(l.Limit)}
			if l.IsCost() {
				data.UsedNanos, data.LimitNanos = l.Used, l.Limit
				data.Used, data.Limit = pricing.NanosToUSD(l.Used), pricing.NanosToUSD(l.Limit)
			}
			if err := n.queue(ctx, fact{source: name, typ: events.NotifyKeyLimit, subject: k.ID,
				coolType: events.NotifyKeyLimit + ":" + l.Kind + ":" + strconv.Itoa(th), time: at, data: data}); err != nil {
				return err
			}
		}
	}
	return nil
}

// limitPeriod names the period a limit's use belongs to (a threshold is
// told of once per period) and how long it lasts from now; ok is false for
// a limit the notifier does not tell of.
func limitPeriod(l projections.KeyLimit, k projections.KeyView, local time.Time, costWindow int) (period string, ttl time.Duration, ok bool) {
	switch l.Kind {
	case projections.LimitDailyCost:
		return local.Format("2006-01-02"), projections.NextLocalDay(local).Sub(local) + time.Hour, true
	case projections.LimitWeeklyOpusCost:
		iy, iw := local.ISOWeek()
		return fmt.Sprintf("%d-W%02d", iy, iw), 8 * 24 * time.Hour, true
	case projections.LimitTotalCost:
		return "total", 400 * 24 * time.Hour, true
	case projections.LimitWindowCost:
		if costWindow == 0 {
			return "", 0, false // a window longer than spend is kept: not read
		}
		return strconv.Itoa(costWindow) + "m", time.Duration(costWindow) * time.Minute, true
	case projections.LimitWindowRequests:
		return strconv.Itoa(k.RateLimitWindow) + "m", time.Duration(k.RateLimitWindow) * time.Minute, true
	}
	return "", 0, false
}

// reached reports whether used is at least pct percent of limit, in
// integers.
func reached(used, limit int64, pct int) bool {
	if limit <= 0 || used < 0 {
		return false
	}
	// used*100 >= limit*pct, in 128 bits.
	uh, ul := bits.Mul64(uint64(used), 100)
	lh, ll := bits.Mul64(uint64(limit), uint64(pct))
	return uh > lh || uh == lh && ul >= ll
}

func (n *Notifier) checkQuota(ctx context.Context, source string, a projections.AccountView, at time.Time) error {
	start := quotaDayStart(a.QuotaResetTime, at.In(n.cfg.Location))
	used, err := n.st.AccountSpendSince(ctx, a.ID, start, at)
	if err != nil {
		return err
	}
	quota := pricing.MicrosToNanos(a.DailyQuotaMicros)
	if used < quota {
		return nil
	}
	day := start.Format("2006-01-02")
	name := store.ClaimName("quota", a.ID, strconv.FormatInt(quota, 10), start.Format(time.RFC3339))
	ok, err := n.st.Claim(ctx, name, source, start.Add(26*time.Hour).Sub(at))
	if err != nil || !ok {
		return err
	}
	return n.queue(ctx, fact{source: name, typ: events.NotifyAccountQuota, subject: a.ID, time: at,
		data: events.AccountQuotaData{AccountID: a.ID, AccountName: a.Name, Platform: a.Platform, Day: day,
			UsedNanos: used, QuotaNanos: quota, Used: pricing.NanosToUSD(used), Quota: pricing.NanosToUSD(quota)}})
}

// quotaDayStart is the start of the quota day containing local: the last
// reset time (HH:mm) at or before it, midnight when none is set (as the
// edge's scheduler counts it).
func quotaDayStart(reset string, local time.Time) time.Time {
	h, m := 0, 0
	if t, err := time.Parse("15:04", reset); err == nil {
		h, m = t.Hour(), t.Minute()
	}
	y, mo, d := local.Date()
	start := time.Date(y, mo, d, h, m, 0, 0, local.Location())
	if start.After(local) {
		start = start.AddDate(0, 0, -1)
	}
	return start
}

// runPeriodic runs the key.expiring check every ExpiringEvery, once across
// workers: the first worker to take a period's lease runs it.
func (n *Notifier) runPeriodic(ctx context.Context) error {
	t := time.NewTicker(min(n.cfg.ExpiringEvery, time.Minute))
	defer t.Stop()
	for {
		slot := n.cfg.Now().Truncate(n.cfg.ExpiringEvery)
		lease := store.ClaimName("lease", "expiring", strconv.FormatInt(slot.UnixMilli(), 10))
		if ok, err := n.st.Claim(ctx, lease, n.owner, n.cfg.ExpiringEvery); err == nil && ok {
			if err := n.checkExpiring(ctx, slot); err != nil && ctx.Err() == nil {
				n.log.Warn().Err(err).Msg("key.expiring check failed; the next period retries")
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// checkExpiring queues key.expiring for every live, active key that expires
// within ExpiringAhead; a claim per key and expiry makes it once.
func (n *Notifier) checkExpiring(ctx context.Context, slot time.Time) error {
	subs, err := n.subscribers(ctx, events.NotifyKeyExpiring)
	if err != nil || len(subs) == 0 {
		return err
	}
	now := n.cfg.Now()
	token := "slot:" + strconv.FormatInt(slot.UnixMilli(), 10)
	for off := 0; ; off += 1000 {
		keys, total, err := n.st.ListKeys(ctx, store.ListQuery{Offset: off, Limit: 1000})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if !k.IsActive || k.IsDeleted || k.ExpiresAt == nil || !k.ExpiresAt.After(now) || k.ExpiresAt.Sub(now) > n.cfg.ExpiringAhead {
				continue
			}
			name := store.ClaimName("expiring", k.ID, strconv.FormatInt(k.ExpiresAt.Unix(), 10))
			ok, err := n.st.Claim(ctx, name, token, k.ExpiresAt.Sub(now)+24*time.Hour)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := n.queue(ctx, fact{source: name, typ: events.NotifyKeyExpiring, subject: k.ID, time: now,
				data: events.KeyExpiringData{KeyID: k.ID, KeyName: k.Name, ExpiresAt: k.ExpiresAt.UTC()}}); err != nil {
				return err
			}
		}
		if off+1000 >= total {
			return nil
		}
	}
}

// runRecoveries tells of accounts whose state ended by itself (its Until
// passed with no newer mark), every RecoveryEvery, once across workers.
func (n *Notifier) runRecoveries(ctx context.Context) error {
	t := time.NewTicker(n.cfg.RecoveryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := n.cfg.Now()
		slot := now.Truncate(n.cfg.RecoveryEvery)
		lease := store.ClaimName("lease", "recovery", strconv.FormatInt(slot.UnixMilli(), 10))
		if ok, err := n.st.Claim(ctx, lease, n.owner, n.cfg.RecoveryEvery); err != nil || !ok {
			continue
		}
		if err := n.checkRecoveries(ctx, now); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("recovery check failed; the next period retries")
		}
	}
}

func (n *Notifier) checkRecoveries(ctx context.Context, now time.Time) error {
	due, err := n.st.DueRecoveries(ctx, now, 1000)
	if err != nil {
		return err
	}
	for _, r := range due {
		v, err := n.st.AccountState(ctx, r.AccountID)
		if err != nil {
			return err
		}
		if v.ActiveAt(now) != "" && v.Until.After(r.Until) {
			// Marked again since (the projection is ahead of the watch).
			if err := n.st.WatchRecovery(ctx, r.AccountID, v.Until); err != nil {
				return err
			}
			continue
		}
		a := n.account(ctx, r.AccountID)
		source := store.ClaimName("recovered", r.AccountID, strconv.FormatInt(r.Until.UnixMilli(), 10))
		if err := n.queue(ctx, fact{source: source, typ: events.NotifyAccountRecovered, subject: r.AccountID, time: r.Until,
			data: events.AccountRecoveredData{AccountID: r.AccountID, AccountName: a.Name, Platform: a.Platform}}); err != nil {
			return err
		}
		if err := n.st.DoneRecovery(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
