package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
	"relay/store/redistest"
)

// The usage statistics contract: whatever order and however often events are
// applied, every reader answers exactly what summing the raw events gives.

func stZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// stOpts are the options every store test folds with.
func stOpts(loc *time.Location) projections.UsageOptions {
	return projections.UsageOptions{Loc: loc, IsOpus: pricing.Builtin().IsOpus}
}

var stModels = []string{"claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929", "gpt-5", "gpt-6.1-sol"}

// stEvents returns n random usage events between now-span and now.
func stEvents(seed uint64, n int, now time.Time, span time.Duration) []events.Usage {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]events.Usage, n)
	for i := range out {
		model := stModels[r.IntN(len(stModels))]
		platform := events.PlatformClaudeConsole
		if model[:3] == "gpt" {
			platform = events.PlatformCodex
		}
		u := events.Usage{
			ID:        fmt.Sprintf("req%04d", i),
			Time:      now.Add(-time.Duration(r.Int64N(int64(span)))).Truncate(time.Millisecond),
			KeyID:     fmt.Sprintf("k%d", r.IntN(4)),
			AccountID: fmt.Sprintf("a%d", r.IntN(3)),
			Platform:  platform, Model: model,
			Status: 200, Outcome: events.OutcomeOK, Attempts: 1,
			Priced: model != "gpt-6.1-sol",
		}
		switch r.IntN(10) {
		case 0:
			u.Outcome, u.Status, u.AccountID, u.Reason = events.OutcomeRefused, 429, "", "window_cost"
		case 1:
			u.Outcome, u.Status = events.OutcomeUpstreamError, 529
		case 2:
			u.Outcome = events.OutcomeClientClosed
		}
		if u.Outcome != events.OutcomeRefused && u.Status < 400 {
			u.Tokens = events.Tokens{
				InputTokens: r.Int64N(5000), OutputTokens: r.Int64N(3000), CacheCreateTokens: r.Int64N(100),
				CacheReadTokens: r.Int64N(20000), ReasoningTokens: r.Int64N(50),
			}
			u.CacheCreate1hTokens = u.CacheCreateTokens / 3
			if u.Priced {
				u.CostNanos, _ = pricing.Builtin().Cost(model, u.Tokens)
			}
			if r.IntN(4) > 0 {
				u.TTFTMs = 1 + r.Int64N(2000)
			}
		} else {
			u.Priced = false
		}
		out[i] = u
	}
	return out
}

// stExpect is what one event adds to the stats counters, worked out from the
// raw event independently of the projection.
func stExpect(u events.Usage) projections.UsageCounters {
	var c projections.UsageCounters
	if u.Outcome == events.OutcomeRefused {
		c.Refused = 1
	} else {
		c.Requests = 1
		if u.Status >= 400 || u.Outcome != events.OutcomeOK {
			c.Errors = 1
		}
		if u.TTFTMs > 0 {
			c.TTFTSumMs, c.TTFTCount = u.TTFTMs, 1
		}
		if !u.Priced {
			c.Unpriced = 1
		}
	}
	c.InputTokens, c.OutputTokens = u.InputTokens, u.OutputTokens
	c.CacheCreateTokens, c.CacheCreate1hTokens = u.CacheCreateTokens, u.CacheCreate1hTokens
	c.CacheReadTokens, c.ReasoningTokens, c.CostNanos = u.CacheReadTokens, u.ReasoningTokens, u.CostNanos
	return c
}

func stSum(us []events.Usage, keep func(events.Usage) bool) projections.UsageCounters {
	var c projections.UsageCounters
	for _, u := range us {
		if keep(u) {
			c = c.Plus(stExpect(u))
		}
	}
	return c
}

func stByModel(us []events.Usage, keep func(events.Usage) bool) map[string]projections.UsageCounters {
	out := map[string]projections.UsageCounters{}
	for _, u := range us {
		if keep(u) {
			out[u.Model] = out[u.Model].Plus(stExpect(u))
		}
	}
	return out
}

// stApplyAll applies every event once, in order, as sequences 1..n.
func stApplyAll(t testing.TB, s *store.Store, us []events.Usage, loc *time.Location) {
	t.Helper()
	for i, u := range us {
		if _, err := s.ApplyUsage(context.Background(), uint64(i+1), projections.UsageDeltas(u, stOpts(loc)), loc); err != nil {
			t.Fatal(err)
		}
	}
}

// stOther returns a second clean backend of the same kind as b.
func stOther(t *testing.T, b redistest.Backend) redistest.Backend {
	if b.Embedded() {
		return redistest.Embedded(t)
	}
	return redistest.Real(t)
}

// Property: applying a sequence with duplicates, shuffled, by several
// workers at once, gives the same read models as applying it once in order.
func TestUsageDuplicatesEqualOnce(t *testing.T) {
	loc := stZone(t, "Europe/Berlin")
	now := time.Now()
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				ctx := context.Background()
				us := stEvents(seed, 150, now, 3*24*time.Hour)
				once := store.New(b.Client, "")
				stApplyAll(t, once, us, loc)

				dup := store.New(stOther(t, b).Client, "")
				r := rand.New(rand.NewPCG(seed, 99))
				var work []int
				for i := range us {
					for range 1 + r.IntN(3) {
						work = append(work, i)
					}
				}
				r.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
				var applied sync.Map
				var wg sync.WaitGroup
				next := make(chan int)
				for range 8 {
					wg.Go(func() {
						for i := range next {
							ok, err := dup.ApplyUsage(ctx, uint64(i+1), projections.UsageDeltas(us[i], stOpts(loc)), loc)
							if err != nil {
								t.Error(err)
								return
							}
							if ok {
								if _, again := applied.LoadOrStore(i, true); again {
									t.Errorf("event %d applied twice", i)
								}
							}
						}
					})
				}
				for _, i := range work {
					next <- i
				}
				close(next)
				wg.Wait()

				d1, err := once.Digest(ctx)
				if err != nil {
					t.Fatal(err)
				}
				d2, err := dup.Digest(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if d1 != d2 {
					t.Fatalf("digest once %s != with duplicates %s", d1, d2)
				}
				if cp, _ := dup.Checkpoint(ctx, store.ProjectionUsage); cp != uint64(len(us)) {
					t.Fatalf("checkpoint %d, want %d", cp, len(us))
				}
			})
		})
	}
}

func TestUsageReadersMatchRawSums(t *testing.T) {
	loc := stZone(t, "America/New_York")
	now := time.Now()
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		us := stEvents(42, 300, now, 40*24*time.Hour)
		stApplyAll(t, s, us, loc)

		dayOf := func(t time.Time) string { return t.In(loc).Format(time.DateOnly) }
		today := dayOf(now)
		y, m, d := now.In(loc).Date()
		firstOf := func(days int) time.Time { return time.Date(y, m, d-(days-1), 0, 0, 0, 0, loc) }
		all := func(events.Usage) bool { return true }

		if got, _ := s.UsageLocation(ctx); got.String() != loc.String() {
			t.Fatalf("UsageLocation %v", got)
		}

		// Key and account stats over every range.
		for _, days := range []int{0, 1, 7, 30} {
			r := store.StatsRange{Days: days, Now: now, Loc: loc}
			inRange := all
			if days > 0 {
				from := firstOf(days)
				inRange = func(u events.Usage) bool { return !u.Time.Before(from) }
			}
			for _, k := range []string{"k0", "k1", "k2", "k3", "k-none"} {
				st, err := s.KeyStats(ctx, k, r)
				if err != nil {
					t.Fatal(err)
				}
				of := func(u events.Usage) bool { return u.KeyID == k && inRange(u) }
				if want := stSum(us, of); st.Total != want {
					t.Fatalf("key %s %dd total %+v\nwant %+v", k, days, st.Total, want)
				}
				if want := stByModel(us, of); !stSameModels(st.ByModel, want) {
					t.Fatalf("key %s %dd byModel %+v\nwant %+v", k, days, st.ByModel, want)
				}
				var sum projections.UsageCounters
				for _, dc := range st.Daily {
					want := stSum(us, func(u events.Usage) bool { return u.KeyID == k && dayOf(u.Time) == dc.Date })
					if dc.UsageCounters != want {
						t.Fatalf("key %s day %s %+v\nwant %+v", k, dc.Date, dc.UsageCounters, want)
					}
					sum = sum.Plus(dc.UsageCounters)
				}
				if sum != st.Total {
					t.Fatalf("key %s %dd: days sum to %+v, total %+v", k, days, sum, st.Total)
				}
				if days > 0 && (len(st.Daily) != days || st.Daily[days-1].Date != today) {
					t.Fatalf("key %s %dd: %d days ending %v", k, days, len(st.Daily), st.Daily)
				}
				var last time.Time
				for _, u := range us {
					if u.KeyID == k && u.Time.After(last) {
						last = u.Time
					}
				}
				if !st.LastUsedAt.Equal(last) {
					t.Fatalf("key %s lastUsedAt %v, want %v", k, st.LastUsedAt, last)
				}
			}
			for _, a := range []string{"a0", "a1", "a2"} {
				st, err := s.AccountStats(ctx, a, r)
				if err != nil {
					t.Fatal(err)
				}
				of := func(u events.Usage) bool { return u.AccountID == a && inRange(u) }
				if want := stSum(us, of); st.Total != want {
					t.Fatalf("account %s %dd total %+v\nwant %+v", a, days, st.Total, want)
				}
				if want := stByModel(us, of); !stSameModels(st.ByModel, want) {
					t.Fatalf("account %s %dd byModel %+v\nwant %+v", a, days, st.ByModel, want)
				}
			}
		}

		// Overview.
		o, err := s.Overview(ctx, now, loc, 3)
		if err != nil {
			t.Fatal(err)
		}
		if want := stSum(us, func(u events.Usage) bool { return dayOf(u.Time) == today }); o.Today != want {
			t.Fatalf("overview today %+v\nwant %+v", o.Today, want)
		}
		if want := stSum(us, all); o.AllTime != want {
			t.Fatalf("overview all time %+v\nwant %+v", o.AllTime, want)
		}
		if o.Checkpoint != uint64(len(us)) {
			t.Fatalf("overview checkpoint %d", o.Checkpoint)
		}
		if len(o.TopKeysAllTime) != 3 || len(o.TopModelsAllTime) != 3 {
			t.Fatalf("top lists %d keys, %d models, want 3 each", len(o.TopKeysAllTime), len(o.TopModelsAllTime))
		}
		for i, r := range o.TopKeysAllTime {
			if want := stSum(us, func(u events.Usage) bool { return u.KeyID == r.ID }); r.UsageCounters != want {
				t.Fatalf("top key %s %+v\nwant %+v", r.ID, r.UsageCounters, want)
			}
			if i > 0 && r.CostNanos > o.TopKeysAllTime[i-1].CostNanos {
				t.Fatalf("top keys not by cost: %+v", o.TopKeysAllTime)
			}
		}
		for _, p := range []struct {
			list []store.Ranked
			keep func(events.Usage) bool
		}{{o.PlatformsToday, func(u events.Usage) bool { return dayOf(u.Time) == today }}, {o.PlatformsAllTime, all}} {
			want := map[string]projections.UsageCounters{}
			for _, u := range us {
				if p.keep(u) {
					want[u.Platform] = want[u.Platform].Plus(stExpect(u))
				}
			}
			got := map[string]projections.UsageCounters{}
			for _, r := range p.list {
				got[r.ID] = r.UsageCounters
			}
			if !stSameModels(got, want) {
				t.Fatalf("platforms %+v\nwant %+v", got, want)
			}
		}
		for _, r := range o.TopModelsToday {
			if want := stSum(us, func(u events.Usage) bool { return u.Model == r.ID && dayOf(u.Time) == today }); r.UsageCounters != want {
				t.Fatalf("top model today %s %+v\nwant %+v", r.ID, r.UsageCounters, want)
			}
		}

		// Series, by day and by hour, under every filter.
		type filter struct{ key, account, model string }
		filters := []filter{{}, {key: "k1"}, {account: "a2"}, {model: "gpt-5"}, {key: "k2", model: "claude-opus-4-5-20251101"}, {account: "a0", model: "claude-sonnet-4-5-20250929"}}
		for _, g := range []projections.Granularity{projections.GranDay, projections.GranHour, projections.GranMonth} {
			from, to := now.Add(-20*24*time.Hour), now.Add(-24*time.Hour)
			switch g {
			case projections.GranHour:
				from, to = now.Add(-3*24*time.Hour), now
			case projections.GranMonth:
				from, to = now.Add(-60*24*time.Hour), now
			}
			for _, f := range filters {
				sr, err := s.UsageSeries(ctx, store.SeriesFilter{GroupBy: g, From: from, To: to, Loc: loc, KeyID: f.key, AccountID: f.account, Model: f.model})
				if err != nil {
					t.Fatal(err)
				}
				match := func(u events.Usage) bool {
					return (f.key == "" || u.KeyID == f.key) && (f.account == "" || u.AccountID == f.account) && (f.model == "" || u.Model == f.model)
				}
				first, last := sr.Points[0].Start, projections.NextBucket(g, sr.Points[len(sr.Points)-1].Start, loc)
				if first.After(from) || !last.After(to) {
					t.Fatalf("%s %+v: series %v..%v does not cover %v..%v", g, f, first, last, from, to)
				}
				var sum projections.UsageCounters
				for i, p := range sr.Points {
					end := last
					if i+1 < len(sr.Points) {
						end = sr.Points[i+1].Start
					}
					want := stSum(us, func(u events.Usage) bool { return match(u) && !u.Time.Before(p.Start) && u.Time.Before(end) })
					if p.UsageCounters != want {
						t.Fatalf("%s %+v bucket %s: %+v\nwant %+v", g, f, p.Label, p.UsageCounters, want)
					}
					sum = sum.Plus(p.UsageCounters)
				}
				inSeries := func(u events.Usage) bool { return match(u) && !u.Time.Before(first) && u.Time.Before(last) }
				if want := stSum(us, inSeries); sr.Total != want || sum != want {
					t.Fatalf("%s %+v total %+v\nwant %+v", g, f, sr.Total, want)
				}
				if f.model == "" {
					if want := stByModel(us, inSeries); !stSameModels(sr.ByModel, want) {
						t.Fatalf("%s %+v byModel %+v\nwant %+v", g, f, sr.ByModel, want)
					}
				} else if sr.ByModel != nil {
					t.Fatalf("%s %+v: byModel with a model filter", g, f)
				}

				// The same series broken down per key (per account under an
				// account filter).
				by, idOf := projections.DimKey, func(u events.Usage) string { return u.KeyID }
				if f.account != "" {
					by, idOf = projections.DimAccount, func(u events.Usage) string { return u.AccountID }
				}
				br, err := s.UsageSeries(ctx, store.SeriesFilter{GroupBy: g, From: from, To: to, Loc: loc, KeyID: f.key, AccountID: f.account, Model: f.model, By: by})
				if err != nil {
					t.Fatal(err)
				}
				wantByID := map[string]projections.UsageCounters{}
				for _, u := range us {
					if inSeries(u) && idOf(u) != "" {
						wantByID[idOf(u)] = wantByID[idOf(u)].Plus(stExpect(u))
					}
				}
				if !stSameModels(br.ByID, wantByID) || br.Total != sr.Total {
					t.Fatalf("%s %+v by %s: %+v\nwant %+v", g, f, by, br.ByID, wantByID)
				}
			}
		}

		// LastUsed of accounts.
		lu, err := s.LastUsed(ctx, projections.DimAccount, []string{"a0", "a1", "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := lu["nope"]; ok || len(lu) != 2 {
			t.Fatalf("LastUsed %v", lu)
		}
	})
}

func stSameModels(got, want map[string]projections.UsageCounters) bool {
	if len(got) != len(want) {
		return false
	}
	for m, c := range want {
		if got[m] != c {
			return false
		}
	}
	return true
}

func TestUsageSeriesRejects(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		now := time.Now()
		tests := []struct {
			name string
			f    store.SeriesFilter
			want error
		}{
			{"group by week", store.SeriesFilter{GroupBy: projections.GranWeek, From: now, To: now}, store.ErrBadFilter},
			{"key and account", store.SeriesFilter{GroupBy: projections.GranDay, From: now, To: now, KeyID: "k", AccountID: "a"}, store.ErrBadFilter},
			{"from after to", store.SeriesFilter{GroupBy: projections.GranDay, From: now, To: now.Add(-48 * time.Hour)}, store.ErrBadFilter},
			{"1001 days", store.SeriesFilter{GroupBy: projections.GranDay, From: now.Add(-1000 * 24 * time.Hour), To: now}, store.ErrRangeTooLarge},
			{"keys under an account", store.SeriesFilter{GroupBy: projections.GranDay, From: now, To: now, AccountID: "a", By: projections.DimKey}, store.ErrBadFilter},
			{"accounts under a key", store.SeriesFilter{GroupBy: projections.GranDay, From: now, To: now, KeyID: "k", By: projections.DimAccount}, store.ErrBadFilter},
			{"by platform", store.SeriesFilter{GroupBy: projections.GranDay, From: now, To: now, By: projections.DimPlatform}, store.ErrBadFilter},
			{"too many hours", store.SeriesFilter{GroupBy: projections.GranHour, From: now.Add(-1000 * time.Hour), To: now}, store.ErrRangeTooLarge},
		}
		for _, tc := range tests {
			if _, err := s.UsageSeries(ctx, tc.f); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if sr, err := s.UsageSeries(ctx, store.SeriesFilter{GroupBy: projections.GranDay, From: now.Add(-999 * 24 * time.Hour), To: now}); err != nil || len(sr.Points) != 1000 {
			t.Fatalf("1000 days: %d points, %v", len(sr.Points), err)
		}
	})
}

// KeySpend: every figure at its boundaries, against sums of the raw events.
func TestKeySpendBoundaries(t *testing.T) {
	loc := stZone(t, "America/New_York")
	now := time.Now().Truncate(time.Minute).Add(30 * time.Second)
	lnow := now.In(loc)
	dayStart := time.Date(lnow.Year(), lnow.Month(), lnow.Day(), 0, 0, 0, 0, loc)
	weekStart := time.Date(lnow.Year(), lnow.Month(), lnow.Day()-(int(lnow.Weekday())+6)%7, 0, 0, 0, 0, loc)
	minuteStart := now.Truncate(time.Minute)
	opus, sonnet := "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"

	var us []events.Usage
	cost := int64(1)
	add := func(at time.Time, model string) {
		if at.After(now) {
			return
		}
		us = append(us, events.Usage{ID: fmt.Sprint("r", len(us)), Time: at, KeyID: "k1", AccountID: "a1", Platform: events.PlatformClaudeConsole,
			Model: model, Status: 200, Outcome: events.OutcomeOK, CostNanos: cost, Priced: true})
		cost *= 2 // every event has its own bit: a sum names its events
	}
	for _, at := range []time.Time{weekStart.Add(-time.Millisecond), weekStart, dayStart.Add(-time.Millisecond), dayStart} {
		add(at, opus)
		add(at, sonnet)
	}
	for _, n := range []time.Duration{1, 60, 1440, 10080} {
		add(minuteStart.Add(-n*time.Minute), sonnet)                  // first instant of the window
		add(minuteStart.Add(-n*time.Minute-time.Millisecond), sonnet) // just before it
		add(minuteStart.Add(-n*time.Minute+59*time.Second), opus)     // inside
		add(now.Add(-projections.MaxSpendWindow-2*time.Hour), opus)   // long gone from the minute buckets
	}
	add(now, sonnet)
	add(minuteStart, opus)
	// Windows longer than the minute buckets count whole local days.
	longStart := now.Add(-20 * 24 * time.Hour)
	lls := longStart.In(loc)
	longDay := time.Date(lls.Year(), lls.Month(), lls.Day(), 0, 0, 0, 0, loc)
	add(longStart, sonnet)
	add(longDay, opus)                        // before the exact window, same day: counted
	add(longDay.Add(-time.Millisecond), opus) // the day before: not counted

	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		stApplyAll(t, s, us, loc)
		sum := func(keep func(events.Usage) bool) int64 {
			var n int64
			for _, u := range us {
				if keep(u) {
					n += u.CostNanos
				}
			}
			return n
		}
		var last time.Time
		for _, u := range us {
			if u.Time.After(last) {
				last = u.Time
			}
		}
		for _, window := range []int{0, 1, 59, 60, 1440, 10080, 10081, 20 * 24 * 60, store.MaxDayWindowMinutes} {
			sp, err := s.KeySpend(ctx, "k1", now, loc, window)
			if err != nil {
				t.Fatal(err)
			}
			winStart := minuteStart.Add(-time.Duration(window) * time.Minute)
			want := store.Spend{
				DailyNanos:      sum(func(u events.Usage) bool { return !u.Time.Before(dayStart) }),
				WeeklyOpusNanos: sum(func(u events.Usage) bool { return u.Model == opus && !u.Time.Before(weekStart) }),
				TotalNanos:      sum(func(events.Usage) bool { return true }),
				Freshness:       store.Freshness{Checkpoint: uint64(len(us)), LastEventAt: time.UnixMilli(last.UnixMilli()).UTC()},
			}
			switch {
			case window > store.MaxWindowMinutes:
				ws := now.Add(-time.Duration(window) * time.Minute).In(loc)
				first := time.Date(ws.Year(), ws.Month(), ws.Day(), 0, 0, 0, 0, loc)
				want.WindowNanos = sum(func(u events.Usage) bool { return !u.Time.Before(first) })
			case window > 0:
				want.WindowNanos = sum(func(u events.Usage) bool { return !u.Time.Before(winStart) })
			}
			if sp != want {
				t.Fatalf("window %d: %+v\nwant %+v", window, sp, want)
			}
		}
		if _, err := s.KeySpend(ctx, "k1", now, loc, store.MaxDayWindowMinutes+1); !errors.Is(err, store.ErrWindowTooLong) {
			t.Fatalf("window longer than kept: %v", err)
		}
		if sp, err := s.KeySpend(ctx, "unknown", now, loc, 60); err != nil || sp.TotalNanos != 0 || sp.WindowNanos != 0 || sp.Checkpoint != uint64(len(us)) {
			t.Fatalf("unknown key: %+v %v", sp, err)
		}

		day, err := s.AccountDailySpend(ctx, "a1", now, loc)
		if want := sum(func(u events.Usage) bool { return !u.Time.Before(dayStart) }); err != nil || day != want {
			t.Fatalf("account daily %d, want %d (%v)", day, want, err)
		}
		for _, back := range []time.Duration{0, time.Minute, 90 * time.Minute, 24 * time.Hour, 25 * time.Hour} {
			since := now.Add(-back)
			got, err := s.AccountSpendSince(ctx, "a1", since, now)
			if want := sum(func(u events.Usage) bool { return !u.Time.Before(since.Truncate(time.Minute)) }); err != nil || got != want {
				t.Fatalf("account since -%v: %d, want %d (%v)", back, got, want, err)
			}
		}
		if _, err := s.AccountSpendSince(ctx, "a1", now.Add(-25*time.Hour-time.Second), now); !errors.Is(err, store.ErrWindowTooLong) {
			t.Fatalf("since 25h1s: %v", err)
		}
		f, err := s.UsageFreshness(ctx)
		if err != nil || f.Checkpoint != uint64(len(us)) || !f.LastEventAt.Equal(last) {
			t.Fatalf("freshness %+v %v", f, err)
		}
	})
}

// Buckets past their retention are gone (PEXPIREAT in the past deletes at
// once), while coarser buckets of the same events stay; the miniredis
// backend also shows a live bucket expiring when its time comes.
func TestUsageRetention(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := store.New(b.Client, "")
		now := time.Now()
		old := now.Add(-projections.HourlyRetention - 2*time.Hour)
		us := []events.Usage{
			{ID: "old", Time: old, KeyID: "k1", Platform: "codex", Model: "gpt-5", Status: 200, Outcome: events.OutcomeOK, CostNanos: 5, Priced: true},
			{ID: "new", Time: now, KeyID: "k1", Platform: "codex", Model: "gpt-5", Status: 200, Outcome: events.OutcomeOK, CostNanos: 7, Priced: true},
		}
		stApplyAll(t, s, us, time.UTC)
		hours := func(at time.Time) int64 {
			sr, err := s.UsageSeries(ctx, store.SeriesFilter{GroupBy: projections.GranHour, From: at, To: at, KeyID: "k1"})
			if err != nil {
				t.Fatal(err)
			}
			return sr.Total.CostNanos
		}
		days := func(at time.Time) int64 {
			sr, err := s.UsageSeries(ctx, store.SeriesFilter{GroupBy: projections.GranDay, From: at, To: at, KeyID: "k1"})
			if err != nil {
				t.Fatal(err)
			}
			return sr.Total.CostNanos
		}
		if hours(old) != 0 || days(old) != 5 || hours(now) != 7 {
			t.Fatalf("old hour %d (want 0: expired), old day %d, new hour %d", hours(old), days(old), hours(now))
		}
		if st, _ := s.KeyStats(ctx, "k1", store.StatsRange{Now: now}); st.Total.CostNanos != 12 {
			t.Fatalf("all time %d", st.Total.CostNanos)
		}
		if b.Embedded() {
			b.Mini.FastForward(projections.HourlyRetention + 2*time.Hour)
			if hours(now) != 0 || days(now) != 7 {
				t.Fatalf("after %v: hour %d, day %d", projections.HourlyRetention+2*time.Hour, hours(now), days(now))
			}
		}
	})
}

func TestUsageLocationDefaultsToUTC(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		loc, err := store.New(b.Client, "").UsageLocation(context.Background())
		if err != nil || loc != time.UTC {
			t.Fatalf("%v %v", loc, err)
		}
	})
}

// BenchmarkApplyUsage measures one usage event's projection write.
func BenchmarkApplyUsage(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := store.New(be.Client, "")
			loc := stZone(b, "Europe/Berlin")
			us := stEvents(1, 1000, time.Now(), time.Hour)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				u := us[i%len(us)]
				if _, err := s.ApplyUsage(ctx, uint64(i+1), projections.UsageDeltas(u, stOpts(loc)), loc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKeySpend(b *testing.B) {
	for _, be := range redistest.Backends(b) {
		for _, window := range []int{60, 1440, 10080, 525600} {
			b.Run(fmt.Sprint(be.Name, "/window", window), func(b *testing.B) {
				s := store.New(be.Client, "")
				now := time.Now()
				us := stEvents(1, 2000, now, 24*time.Hour)
				for i := range us {
					us[i].KeyID = "k1"
				}
				stApplyAll(b, s, us, time.UTC)
				ctx := context.Background()
				b.ResetTimer()
				for range b.N {
					if _, err := s.KeySpend(ctx, "k1", now, time.UTC, window); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
