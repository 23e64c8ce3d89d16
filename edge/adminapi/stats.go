package adminapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// Statistics (DESIGN.md section 4): the rules and the reads are
// admin.Service's (KeyStats, AccountStats, Overview, UsageSeries); this
// reads the query and writes the JSON.

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

func newStatsJSON(st admin.EntityStats) statsJSON {
	out := statsJSON{
		Range: st.Range, Timezone: st.Location.String(),
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

func (s *API) KeyStats(c echo.Context) error {
	st, err := s.act.KeyStats(c.Request().Context(), c.Param("id"), c.QueryParam("range"))
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, struct {
		KeyID string `json:"keyId"`
		statsJSON
	}{st.ID, newStatsJSON(st)})
}

func (s *API) AccountStats(c echo.Context) error {
	st, err := s.act.AccountStats(c.Request().Context(), c.Param("platform"), c.Param("id"), c.QueryParam("range"))
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, struct {
		AccountID string `json:"accountId"`
		Platform  string `json:"platform"`
		statsJSON
	}{st.ID, st.Platform, newStatsJSON(st)})
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
	ov, err := s.act.Overview(c.Request().Context())
	if err != nil {
		return err
	}
	o := ov.Usage
	rankKeys := func(list []admin.RankedKey) []rankedKeyJSON {
		out := make([]rankedKeyJSON, 0, len(list))
		for _, r := range list {
			out = append(out, rankedKeyJSON{ID: r.ID, Name: r.Name, countersJSON: newCountersJSON(r.UsageCounters)})
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
		"timezone":          ov.Location.String(),
		"date":              ov.Date,
		"today":             newCountersJSON(o.Today),
		"total":             newCountersJSON(o.AllTime),
		"requestsPerMinute": o.RequestsLastMinute,
		"tokensPerMinute":   o.TokensLastMinute,
		"topKeys":           rankKeys(ov.TopKeysToday),
		"topKeysAllTime":    rankKeys(ov.TopKeysAllTime),
		"topModels":         rankModels(o.TopModelsToday),
		"topModelsAllTime":  rankModels(o.TopModelsAllTime),
		"platforms":         map[string]any{"today": byRanked(o.PlatformsToday), "total": byRanked(o.PlatformsAllTime)},
		"accounts": accountsOverviewJSON{
			Total: ov.Accounts.Total, Inactive: ov.Accounts.Inactive, Unschedulable: ov.Accounts.Unschedulable,
			ByPlatform: ov.Accounts.ByPlatform, ByState: ov.Accounts.ByState,
		},
		"keys": keysOverviewJSON{Total: ov.Keys.Total, Active: ov.Keys.Active},
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

// parseStatsTime reads an RFC 3339 time or a YYYY-MM-DD date (its start
// in the statistics' zone, which admin.Service applies).
func parseStatsTime(field, v string) (admin.StatsTime, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return admin.StatsTime{Time: t}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return admin.StatsTime{Time: t, Date: true}, nil
	}
	return admin.StatsTime{}, fault.InvalidField(field, field+" must be an RFC 3339 time or a YYYY-MM-DD date")
}

// StatsUsage answers a usage series. The query's syntax (from and to) is
// checked here, its meaning by admin.Service.UsageSeries: a request wrong in
// both ways is told about its syntax first.
func (s *API) StatsUsage(c echo.Context) error {
	q := admin.UsageQuery{
		GroupBy: c.QueryParam("groupBy"),
		KeyID:   c.QueryParam("keyId"), AccountID: c.QueryParam("accountId"), Model: c.QueryParam("model"),
	}
	var err error
	if v := c.QueryParam("to"); v != "" {
		if q.To, err = parseStatsTime("to", v); err != nil {
			return err
		}
	}
	if v := c.QueryParam("from"); v != "" {
		if q.From, err = parseStatsTime("from", v); err != nil {
			return err
		}
	}
	r, err := s.act.UsageSeries(c.Request().Context(), q)
	if err != nil {
		return err
	}
	series := r.Series
	out := map[string]any{
		"groupBy":  r.GroupBy,
		"timezone": r.Location.String(),
		"from":     r.From,
		"to":       r.To,
		"filters":  map[string]string{"keyId": r.KeyID, "accountId": r.AccountID, "model": r.Model},
		"total":    newCountersJSON(series.Total),
	}
	if series.ByModel != nil {
		out["byModel"] = byModelJSON(series.ByModel)
	}
	switch r.By {
	case projections.DimKey:
		out["byKey"] = byModelJSON(series.ByID)
	case projections.DimAccount:
		out["byAccount"] = byModelJSON(series.ByID)
	}
	switch r.Granularity {
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
