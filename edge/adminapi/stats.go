package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// Statistics (DESIGN.md section 4). Every figure comes from the usage
// projection's counters in Redis; nothing reads the stream at request time.
// Days are local days of the time zone the projection buckets in (the
// workers' TZ), which the answers name as "timezone".

// Stats query limits.
const (
	overviewTop   = 10
	defaultDays   = 7  // stats/usage by day without from
	defaultHours  = 24 // stats/usage by hour without from
	defaultMonths = 12 // stats/usage by month without from
)

// countersJSON is the wire form of a set of usage counters. cost is USD
// with nine decimals, written from the integer nano-dollars (costNanos,
// exact); costMicros is the same rounded to the micro-dollar, kept for
// scripts written before costs were kept to the nano-dollar.
type countersJSON struct {
	Requests            int64       `json:"requests"`
	InputTokens         int64       `json:"inputTokens"`
	OutputTokens        int64       `json:"outputTokens"`
	CacheCreateTokens   int64       `json:"cacheCreateTokens"`
	CacheReadTokens     int64       `json:"cacheReadTokens"`
	Cost                json.Number `json:"cost"`
	CacheCreate1hTokens int64       `json:"cacheCreate1hTokens"`
	ReasoningTokens     int64       `json:"reasoningTokens"`
	CostMicros          int64       `json:"costMicros"`
	CostNanos           int64       `json:"costNanos"`
	Refused             int64       `json:"refused"`
	Errors              int64       `json:"errors"`
	AvgTTFTMs           int64       `json:"avgTtftMs"`
	Unpriced            int64       `json:"unpriced"`
}

func newCountersJSON(c projections.UsageCounters) countersJSON {
	return countersJSON{
		Requests: c.Requests, InputTokens: c.InputTokens, OutputTokens: c.OutputTokens,
		CacheCreateTokens: c.CacheCreateTokens, CacheReadTokens: c.CacheReadTokens,
		Cost:                usdNumber(c.CostNanos),
		CacheCreate1hTokens: c.CacheCreate1hTokens, ReasoningTokens: c.ReasoningTokens,
		CostMicros: pricing.NanosToMicros(c.CostNanos), CostNanos: c.CostNanos,
		Refused: c.Refused, Errors: c.Errors,
		AvgTTFTMs: c.AvgTTFTMs(), Unpriced: c.Unpriced,
	}
}

// usdNumber is nano-dollars as a JSON number in USD with exactly nine
// decimals, never through float64.
func usdNumber(nanos int64) json.Number { return json.Number(pricing.FormatUSD(nanos)) }

type dayJSON struct {
	Date string `json:"date"`
	countersJSON
}

type monthJSON struct {
	Month string `json:"month"` // YYYY-MM
	countersJSON
}

type hourJSON struct {
	Hour string `json:"hour"` // RFC 3339 start of the local hour
	Date string `json:"date"`
	countersJSON
}

// byModelJSON is counters per model (or per key or account id).
func byModelJSON(m map[string]projections.UsageCounters) map[string]countersJSON {
	out := make(map[string]countersJSON, len(m))
	for model, c := range m {
		out[model] = newCountersJSON(c)
	}
	return out
}

// statsJSON is the answer of key and account stats.
type statsJSON struct {
	Range       string                  `json:"range"`
	Timezone    string                  `json:"timezone"`
	Total       countersJSON            `json:"total"`
	Daily       []dayJSON               `json:"daily"`
	ByModel     map[string]countersJSON `json:"byModel"`
	FirstUsedAt *time.Time              `json:"firstUsedAt"`
	LastUsedAt  *time.Time              `json:"lastUsedAt"`
}

func newStatsJSON(rng string, loc *time.Location, st store.Stats) statsJSON {
	out := statsJSON{
		Range: rng, Timezone: loc.String(),
		Total:   newCountersJSON(st.Total),
		Daily:   make([]dayJSON, 0, len(st.Daily)),
		ByModel: byModelJSON(st.ByModel),
	}
	for _, d := range st.Daily {
		out.Daily = append(out.Daily, dayJSON{Date: d.Date, countersJSON: newCountersJSON(d.UsageCounters)})
	}
	out.FirstUsedAt, out.LastUsedAt = optionalTime(st.FirstUsedAt), optionalTime(st.LastUsedAt)
	return out
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// statsRange reads the range parameter: today, 7d, 30d or all (default).
func statsRange(c echo.Context, now time.Time, loc *time.Location) (string, store.StatsRange, error) {
	r := store.StatsRange{Now: now, Loc: loc}
	name := c.QueryParam("range")
	switch name {
	case "", "all":
		name = "all"
	case "today":
		r.Days = 1
	case "7d":
		r.Days = 7
	case "30d":
		r.Days = 30
	default:
		return "", r, fault.InvalidField("range", "range must be today, 7d, 30d or all")
	}
	return name, r, nil
}

func (s *API) KeyStats(c echo.Context) error {
	k, err := s.act.Key(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	out, err := s.entityStats(c, func(ctx context.Context, r store.StatsRange) (store.Stats, error) {
		return s.store.KeyStats(ctx, k.ID, r)
	})
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, struct {
		KeyID string `json:"keyId"`
		statsJSON
	}{k.ID, out})
}

func (s *API) AccountStats(c echo.Context) error {
	a, err := s.act.Account(c.Request().Context(), c.Param("platform"), c.Param("id"))
	if err != nil {
		return err
	}
	out, err := s.entityStats(c, func(ctx context.Context, r store.StatsRange) (store.Stats, error) {
		return s.store.AccountStats(ctx, a.ID, r)
	})
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, struct {
		AccountID string `json:"accountId"`
		Platform  string `json:"platform"`
		statsJSON
	}{a.ID, a.Platform, out})
}

// entityStats reads one key's or account's statistics over the request's
// range, in the zone the projection counts in.
func (s *API) entityStats(c echo.Context, read func(context.Context, store.StatsRange) (store.Stats, error)) (statsJSON, error) {
	ctx := c.Request().Context()
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return statsJSON{}, err
	}
	rng, r, err := statsRange(c, time.Now(), loc)
	if err != nil {
		return statsJSON{}, err
	}
	st, err := read(ctx, r)
	if err != nil {
		return statsJSON{}, err
	}
	return newStatsJSON(rng, loc, st), nil
}

type rankedKeyJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	countersJSON
}

type rankedModelJSON struct {
	Model string `json:"model"`
	countersJSON
}

type accountsOverviewJSON struct {
	Total         int            `json:"total"`
	Inactive      int            `json:"inactive"`
	Unschedulable int            `json:"unschedulable"`
	ByPlatform    map[string]int `json:"byPlatform"`
	// ByState counts live accounts by the health state in force (active
	// when none).
	ByState map[string]int `json:"byState"`
}

type keysOverviewJSON struct {
	Total  int `json:"total"`
	Active int `json:"active"`
}

func (s *API) StatsOverview(c echo.Context) error {
	ctx := c.Request().Context()
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	o, err := s.store.Overview(ctx, now, loc, overviewTop)
	if err != nil {
		return err
	}
	accounts := accountsOverviewJSON{ByPlatform: map[string]int{}, ByState: map[string]int{}}
	var keys keysOverviewJSON
	names := map[string]string{}
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, a := range cat.Accounts {
			if !a.Exists() {
				continue
			}
			accounts.Total++
			accounts.ByPlatform[a.Platform]++
			if !a.IsActive {
				accounts.Inactive++
			}
			if !a.Schedulable {
				accounts.Unschedulable++
			}
			state := cat.States[a.ID].ActiveAt(now)
			if state == "" {
				state = "active"
			}
			accounts.ByState[state]++
		}
		for _, k := range cat.Keys {
			if !k.Exists() || k.IsDeleted {
				continue
			}
			keys.Total++
			if k.Usable(now) {
				keys.Active++
			}
		}
		for _, list := range [][]store.Ranked{o.TopKeysToday, o.TopKeysAllTime} {
			for _, r := range list {
				names[r.ID] = cat.Keys[r.ID].Name
			}
		}
	})
	rankKeys := func(list []store.Ranked) []rankedKeyJSON {
		out := make([]rankedKeyJSON, 0, len(list))
		for _, r := range list {
			out = append(out, rankedKeyJSON{ID: r.ID, Name: names[r.ID], countersJSON: newCountersJSON(r.UsageCounters)})
		}
		return out
	}
	rankModels := func(list []store.Ranked) []rankedModelJSON {
		out := make([]rankedModelJSON, 0, len(list))
		for _, r := range list {
			out = append(out, rankedModelJSON{Model: r.ID, countersJSON: newCountersJSON(r.UsageCounters)})
		}
		return out
	}
	return httpx.OK(c, http.StatusOK, map[string]any{
		"timezone":          loc.String(),
		"date":              projections.BucketLabel(projections.GranDay, now, loc),
		"today":             newCountersJSON(o.Today),
		"total":             newCountersJSON(o.AllTime),
		"requestsPerMinute": o.RequestsLastMinute,
		"tokensPerMinute":   o.TokensLastMinute,
		"topKeys":           rankKeys(o.TopKeysToday),
		"topKeysAllTime":    rankKeys(o.TopKeysAllTime),
		"topModels":         rankModels(o.TopModelsToday),
		"topModelsAllTime":  rankModels(o.TopModelsAllTime),
		"platforms":         map[string]any{"today": byRanked(o.PlatformsToday), "total": byRanked(o.PlatformsAllTime)},
		"accounts":          accounts,
		"keys":              keys,
		"projection": map[string]any{
			"checkpoint":  o.Checkpoint,
			"lastEventAt": optionalTime(o.LastEventAt),
		},
	})
}

func byRanked(list []store.Ranked) map[string]countersJSON {
	out := make(map[string]countersJSON, len(list))
	for _, r := range list {
		out[r.ID] = newCountersJSON(r.UsageCounters)
	}
	return out
}

// parseStatsTime reads an RFC 3339 time or a YYYY-MM-DD date (its start, in
// loc).
func parseStatsTime(field, v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fault.InvalidField(field, field+" must be an RFC 3339 time or a YYYY-MM-DD date")
}

func (s *API) StatsUsage(c echo.Context) error {
	ctx := c.Request().Context()
	loc, err := s.store.UsageLocation(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	f := store.SeriesFilter{Loc: loc, To: now}
	// groupBy key, account or model sums the days of the range per key,
	// account or model too (byKey, byAccount, byModel).
	groupBy := c.QueryParam("groupBy")
	f.GroupBy = projections.GranDay
	switch groupBy {
	case "", "day":
		groupBy = "day"
	case "hour":
		f.GroupBy = projections.GranHour
	case "month":
		f.GroupBy = projections.GranMonth
	case "key":
		f.By = projections.DimKey
	case "account":
		f.By = projections.DimAccount
	case "model":
		f.By = projections.DimModel
	default:
		return fault.InvalidField("groupBy", "groupBy must be day, hour, month, key, account or model")
	}
	if v := c.QueryParam("to"); v != "" {
		if f.To, err = parseStatsTime("to", v, loc); err != nil {
			return err
		}
	}
	if v := c.QueryParam("from"); v != "" {
		if f.From, err = parseStatsTime("from", v, loc); err != nil {
			return err
		}
	} else if f.GroupBy == projections.GranDay {
		to := projections.BucketStart(projections.GranDay, f.To, loc)
		f.From = time.Date(to.Year(), to.Month(), to.Day()-(defaultDays-1), 0, 0, 0, 0, loc)
	} else if f.GroupBy == projections.GranMonth {
		to := projections.BucketStart(projections.GranMonth, f.To, loc)
		f.From = time.Date(to.Year(), to.Month()-(defaultMonths-1), 1, 0, 0, 0, 0, loc)
	} else {
		f.From = f.To.Add(-(defaultHours - 1) * time.Hour)
	}
	if f.From.After(f.To) {
		return fault.InvalidField("from", "from must not be after to")
	}
	if err := s.statsFilters(c, &f); err != nil {
		return err
	}
	if (f.By == projections.DimKey && f.AccountID != "") || (f.By == projections.DimAccount && f.KeyID != "") {
		return fault.InvalidField("groupBy", "keys cannot be grouped under an accountId filter, nor accounts under a keyId filter")
	}
	series, err := s.store.UsageSeries(ctx, f)
	if errors.Is(err, store.ErrRangeTooLarge) {
		return fault.InvalidField("from", "the range from..to holds too many buckets (at most 1000)")
	}
	if err != nil {
		return err
	}
	out := map[string]any{
		"groupBy":  groupBy,
		"timezone": loc.String(),
		"from":     projections.BucketStart(f.GroupBy, f.From, loc),
		"to":       projections.NextBucket(f.GroupBy, projections.BucketStart(f.GroupBy, f.To, loc), loc),
		"filters":  map[string]string{"keyId": f.KeyID, "accountId": f.AccountID, "model": f.Model},
		"total":    newCountersJSON(series.Total),
	}
	if series.ByModel != nil {
		out["byModel"] = byModelJSON(series.ByModel)
	}
	switch f.By {
	case projections.DimKey:
		out["byKey"] = byModelJSON(series.ByID)
	case projections.DimAccount:
		out["byAccount"] = byModelJSON(series.ByID)
	}
	switch f.GroupBy {
	case projections.GranMonth:
		months := make([]monthJSON, 0, len(series.Points))
		for _, p := range series.Points {
			months = append(months, monthJSON{Month: p.Label, countersJSON: newCountersJSON(p.UsageCounters)})
		}
		out["monthly"] = months
	case projections.GranDay:
		days := make([]dayJSON, 0, len(series.Points))
		for _, p := range series.Points {
			days = append(days, dayJSON{Date: p.Label, countersJSON: newCountersJSON(p.UsageCounters)})
		}
		out["daily"] = days
	default:
		hours := make([]hourJSON, 0, len(series.Points))
		for _, p := range series.Points {
			hours = append(hours, hourJSON{Hour: p.Start.Format(time.RFC3339), Date: p.Start.Format(time.DateOnly), countersJSON: newCountersJSON(p.UsageCounters)})
		}
		out["hourly"] = hours
	}
	return httpx.OK(c, http.StatusOK, out)
}

// statsFilters reads keyId, accountId and model into f. Ids must name a key
// or an account that exists (deleted ones too: their history stays).
func (s *API) statsFilters(c echo.Context, f *store.SeriesFilter) error {
	f.KeyID, f.AccountID = c.QueryParam("keyId"), c.QueryParam("accountId")
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
	if m := c.QueryParam("model"); m != "" {
		if len(m) > 256 {
			return fault.InvalidField("model", "model must be at most 256 bytes")
		}
		f.Model = projections.StatsModel(m)
	}
	return nil
}
