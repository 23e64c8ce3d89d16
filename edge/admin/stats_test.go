package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/edge/fault"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
)

// seedUsage creates key k1 ("alpha"), k2 ("beta") and account a1, and
// records usage: three requests of k1 now, one of k2 now, one of k1 ten
// days ago, all on a1.
func seedUsage(t *testing.T, env *edgetest.Env) {
	t.Helper()
	env.CreateKey(t, events.Key{ID: "k1", Name: "alpha", IsActive: true})
	env.CreateKey(t, events.Key{ID: "k2", Name: "beta", IsActive: true})
	env.CreateAccount(t, events.Account{ID: "a1", Name: "one", IsActive: true, Schedulable: true}, "sk-ant-api03-admintest")
	now := time.Now()
	uses := []struct {
		key string
		at  time.Time
	}{
		{"k1", now.Add(-time.Second)}, {"k1", now.Add(-2 * time.Second)}, {"k1", now.Add(-3 * time.Second)},
		{"k2", now.Add(-4 * time.Second)},
		{"k1", now.AddDate(0, 0, -10)},
	}
	ctx := context.Background()
	var last uint64
	for i, use := range uses {
		u := events.Usage{
			ID: fmt.Sprintf("%032x", 0xad0000+i), KeyID: use.key, AccountID: "a1",
			Platform: events.PlatformClaudeConsole, Model: "claude-sonnet-4-5-20250929",
			Status: 200, Outcome: events.OutcomeOK, Attempts: 1, Time: use.at,
			Tokens: events.Tokens{InputTokens: 100, OutputTokens: 10},
		}
		e, err := events.NewWithID(u.ID, events.UsageRecorded, u.Time, "", u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if last, err = streams.Publish(ctx, env.JS, events.UsageSubject(u.Platform, u.KeyID), e, nil); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := env.Store.WaitCheckpoint(wctx, store.ProjectionUsage, last); err != nil {
		t.Fatal(err)
	}
}

func TestKeyAndAccountStatsSumTheirRange(t *testing.T) {
	svc, env := newActions(t, nil)
	seedUsage(t, env)
	ctx := context.Background()
	accountStats := func(ctx context.Context, id, rng string) (admin.EntityStats, error) {
		return svc.AccountStats(ctx, events.PlatformClaudeConsole, id, rng)
	}
	for _, tc := range []struct {
		name, id, rng, wantRange string
		want                     int64
		read                     func(context.Context, string, string) (admin.EntityStats, error)
	}{
		{"key all by default", "k1", "", admin.RangeAll, 4, svc.KeyStats},
		{"key 7 days", "k1", admin.Range7d, admin.Range7d, 3, svc.KeyStats},
		{"key 30 days", "k1", admin.Range30d, admin.Range30d, 4, svc.KeyStats},
		{"other key today", "k2", admin.RangeToday, admin.RangeToday, 1, svc.KeyStats},
		{"account today", "a1", admin.RangeToday, admin.RangeToday, 4, accountStats},
		{"account all", "a1", admin.RangeAll, admin.RangeAll, 5, accountStats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := tc.read(ctx, tc.id, tc.rng)
			if err != nil {
				t.Fatal(err)
			}
			if st.ID != tc.id || st.Range != tc.wantRange || st.Location == nil || st.Total.Requests != tc.want {
				t.Fatalf("range %q location %v requests %d, want %q and %d", st.Range, st.Location, st.Total.Requests, tc.wantRange, tc.want)
			}
		})
	}
}

func TestEntityStatsRejectsAnUnknownRangeOrEntity(t *testing.T) {
	svc, env := newActions(t, nil)
	seedUsage(t, env)
	ctx := context.Background()
	_, err := svc.KeyStats(ctx, "k1", "1y")
	wantField(t, err, "range")
	_, err = svc.AccountStats(ctx, events.PlatformClaudeConsole, "a1", "yesterday")
	wantField(t, err, "range")
	_, err = svc.KeyStats(ctx, "nokey", admin.RangeAll)
	wantKind(t, err, fault.NotFound)
	_, err = svc.AccountStats(ctx, events.PlatformCodex, "a1", admin.RangeAll) // another platform's
	wantKind(t, err, fault.NotFound)
	st, err := svc.AccountStats(ctx, events.PlatformClaudeConsole, "a1", admin.RangeAll)
	if err != nil || st.Platform != events.PlatformClaudeConsole {
		t.Fatalf("platform %q err %v", st.Platform, err)
	}
}

func TestUsageSeriesNamesTheFieldAtFault(t *testing.T) {
	svc, env := newActions(t, nil)
	seedUsage(t, env)
	now := time.Now()
	at := func(t time.Time) admin.StatsTime { return admin.StatsTime{Time: t} }
	for _, tc := range []struct {
		name  string
		q     admin.UsageQuery
		field string
	}{
		{"unknown grouping", admin.UsageQuery{GroupBy: "week"}, "groupBy"},
		{"from after to", admin.UsageQuery{From: at(now), To: at(now.Add(-time.Hour))}, "from"},
		{"too many buckets", admin.UsageQuery{GroupBy: admin.GroupByHour, From: at(now.Add(-2000 * time.Hour))}, "from"},
		{"key and account", admin.UsageQuery{KeyID: "k1", AccountID: "a1"}, "accountId"},
		{"unknown key", admin.UsageQuery{KeyID: "nokey"}, "keyId"},
		{"invalid key id", admin.UsageQuery{KeyID: "a.b"}, "keyId"},
		{"unknown account", admin.UsageQuery{AccountID: "noaccount"}, "accountId"},
		{"keys under an account", admin.UsageQuery{GroupBy: admin.GroupByKey, AccountID: "a1"}, "groupBy"},
		{"accounts under a key", admin.UsageQuery{GroupBy: admin.GroupByAccount, KeyID: "k1"}, "groupBy"},
		{"long model", admin.UsageQuery{Model: strings.Repeat("m", 257)}, "model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.UsageSeries(context.Background(), tc.q)
			wantField(t, err, tc.field)
		})
	}
}

func TestUsageSeriesDefaultsAndGroupings(t *testing.T) {
	svc, env := newActions(t, nil)
	seedUsage(t, env)
	ctx := context.Background()

	r, err := svc.UsageSeries(ctx, admin.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	loc := r.Location
	today := projections.BucketStart(projections.GranDay, time.Now(), loc)
	if r.GroupBy != admin.GroupByDay || r.Granularity != projections.GranDay || len(r.Series.Points) != 7 {
		t.Fatalf("default: groupBy %q, %d points", r.GroupBy, len(r.Series.Points))
	}
	if want := today.AddDate(0, 0, -6); !r.From.Equal(want) || !r.To.Equal(today.AddDate(0, 0, 1)) {
		t.Fatalf("default window %v..%v, want %v..", r.From, r.To, want)
	}
	if r.Series.Total.Requests != 4 {
		t.Fatalf("default: %d requests, want 4", r.Series.Total.Requests)
	}

	// A date bound means that date's start in the statistics' zone.
	eleven := today.AddDate(0, 0, -11)
	date := admin.StatsTime{Time: time.Date(eleven.Year(), eleven.Month(), eleven.Day(), 0, 0, 0, 0, time.UTC), Date: true}
	r, err = svc.UsageSeries(ctx, admin.UsageQuery{GroupBy: admin.GroupByKey, From: date})
	if err != nil {
		t.Fatal(err)
	}
	if !r.From.Equal(eleven) || r.By != projections.DimKey || len(r.Series.Points) != 12 {
		t.Fatalf("from %v (want %v), by %v, %d points", r.From, eleven, r.By, len(r.Series.Points))
	}
	if r.Series.ByID["k1"].Requests != 4 || r.Series.ByID["k2"].Requests != 1 {
		t.Fatalf("by key %+v", r.Series.ByID)
	}

	r, err = svc.UsageSeries(ctx, admin.UsageQuery{GroupBy: admin.GroupByHour, KeyID: "k2"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Granularity != projections.GranHour || len(r.Series.Points) != 24 || r.Series.Total.Requests != 1 || r.KeyID != "k2" {
		t.Fatalf("hourly of k2: %d points, %d requests, key %q", len(r.Series.Points), r.Series.Total.Requests, r.KeyID)
	}

	r, err = svc.UsageSeries(ctx, admin.UsageQuery{GroupBy: admin.GroupByMonth})
	if err != nil {
		t.Fatal(err)
	}
	if r.Granularity != projections.GranMonth || len(r.Series.Points) != 12 || r.Series.Total.Requests != 5 {
		t.Fatalf("monthly: %d points, %d requests", len(r.Series.Points), r.Series.Total.Requests)
	}
}

func TestOverviewCountsAndNamesTheTopKeys(t *testing.T) {
	svc, env := newActions(t, nil)
	seedUsage(t, env)
	env.CreateKey(t, events.Key{ID: "k3", Name: "off", IsActive: false})
	o, err := svc.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if o.Location == nil || o.Date != projections.BucketLabel(projections.GranDay, time.Now(), o.Location) {
		t.Fatalf("location %v date %q", o.Location, o.Date)
	}
	if o.Keys.Total != 3 || o.Keys.Active != 2 {
		t.Fatalf("keys %+v", o.Keys)
	}
	if o.Accounts.Total != 1 || o.Accounts.ByPlatform[events.PlatformClaudeConsole] != 1 || o.Accounts.ByState["active"] != 1 {
		t.Fatalf("accounts %+v", o.Accounts)
	}
	if len(o.TopKeysToday) != 2 || o.TopKeysToday[0].ID != "k1" || o.TopKeysToday[0].Name != "alpha" || o.TopKeysToday[0].Requests != 3 {
		t.Fatalf("top keys today %+v", o.TopKeysToday)
	}
	if len(o.TopKeysAllTime) == 0 || o.TopKeysAllTime[0].Name != "alpha" || o.TopKeysAllTime[0].Requests != 4 {
		t.Fatalf("top keys all time %+v", o.TopKeysAllTime)
	}
	if o.Usage.Today.Requests != 4 || o.Usage.AllTime.Requests != 5 || o.Usage.RequestsLastMinute != 4 {
		t.Fatalf("usage today %d all %d last minute %d", o.Usage.Today.Requests, o.Usage.AllTime.Requests, o.Usage.RequestsLastMinute)
	}
}
