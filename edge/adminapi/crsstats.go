package adminapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
)

// POST /apiStats/api/user-stats answers in the shape of Claude Relay
// Service's endpoint of that name (src/routes/apiStats.js), so the tools
// built on it (status lines, meters) work unchanged. Costs are JSON numbers
// in USD written from the exact nano-dollars; fields relay has no notion of
// are there with CRS's neutral values (README, "Key holders").

// crsUsageJSON is CRS's usage.total.
type crsUsageJSON struct {
	Requests          int64       `json:"requests"`
	Tokens            int64       `json:"tokens"`
	AllTokens         int64       `json:"allTokens"`
	InputTokens       int64       `json:"inputTokens"`
	OutputTokens      int64       `json:"outputTokens"`
	CacheCreateTokens int64       `json:"cacheCreateTokens"`
	CacheReadTokens   int64       `json:"cacheReadTokens"`
	Cost              json.Number `json:"cost"`
	FormattedCost     string      `json:"formattedCost"`
}

// crsLimitsJSON is CRS's limits: the configuration and the current use.
type crsLimitsJSON struct {
	TokenLimit             int64       `json:"tokenLimit"`
	ConcurrencyLimit       int         `json:"concurrencyLimit"`
	RateLimitWindow        int         `json:"rateLimitWindow"`
	RateLimitRequests      int         `json:"rateLimitRequests"`
	RateLimitCost          json.Number `json:"rateLimitCost"`
	DailyCostLimit         json.Number `json:"dailyCostLimit"`
	TotalCostLimit         json.Number `json:"totalCostLimit"`
	WeeklyOpusCostLimit    json.Number `json:"weeklyOpusCostLimit"`
	WeeklyResetDay         int         `json:"weeklyResetDay"`
	WeeklyResetHour        int         `json:"weeklyResetHour"`
	CurrentWindowRequests  int64       `json:"currentWindowRequests"`
	CurrentWindowTokens    int64       `json:"currentWindowTokens"`
	CurrentWindowCost      json.Number `json:"currentWindowCost"`
	CurrentDailyCost       json.Number `json:"currentDailyCost"`
	CurrentTotalCost       json.Number `json:"currentTotalCost"`
	WeeklyOpusCost         json.Number `json:"weeklyOpusCost"`
	WindowStartTime        *int64      `json:"windowStartTime"`
	WindowEndTime          *int64      `json:"windowEndTime"`
	WindowRemainingSeconds *int64      `json:"windowRemainingSeconds"`
}

type crsAccountsJSON struct {
	ClaudeAccountID *string `json:"claudeAccountId"`
	GeminiAccountID *string `json:"geminiAccountId"`
	OpenAIAccountID *string `json:"openaiAccountId"`
	Details         any     `json:"details"`
}

type crsRestrictionsJSON struct {
	EnableModelRestriction  bool     `json:"enableModelRestriction"`
	RestrictedModels        []string `json:"restrictedModels"`
	EnableClientRestriction bool     `json:"enableClientRestriction"`
	AllowedClients          []string `json:"allowedClients"`
}

// crsUserStatsJSON is CRS's user-stats data.
type crsUserStatsJSON struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Description    string     `json:"description"`
	IsActive       bool       `json:"isActive"`
	CreatedAt      time.Time  `json:"createdAt"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	ExpirationMode string     `json:"expirationMode"`
	IsActivated    bool       `json:"isActivated"`
	ActivationDays int        `json:"activationDays"`
	ActivatedAt    *time.Time `json:"activatedAt"`
	Permissions    string     `json:"permissions"`
	Usage          struct {
		Total crsUsageJSON `json:"total"`
	} `json:"usage"`
	Limits       crsLimitsJSON       `json:"limits"`
	Accounts     crsAccountsJSON     `json:"accounts"`
	Restrictions crsRestrictionsJSON `json:"restrictions"`
	ServiceRates map[string]any      `json:"serviceRates"`
}

func newCRSUserStats(v admin.KeyHolderView) crsUserStatsJSON {
	k, r := v.Key, v.Readings
	out := crsUserStatsJSON{
		ID: k.ID, Name: k.Name, Description: k.Description, IsActive: true, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt,
		ExpirationMode: k.ExpirationMode, IsActivated: keyActivated(k), ActivationDays: k.ActivationDays, ActivatedAt: k.ActivatedAt,
		Permissions:  crsPermissions(k.Permissions),
		Restrictions: crsRestrictionsJSON{EnableModelRestriction: k.EnableModelRestriction, RestrictedModels: nonNil(k.RestrictedModels), EnableClientRestriction: k.EnableClientRestriction, AllowedClients: nonNil(k.AllowedClients)},
		Accounts:     crsAccountsJSON{ClaudeAccountID: optionalString(k.ClaudeConsoleAccountID), OpenAIAccountID: optionalString(k.CodexAccountID)},
		ServiceRates: map[string]any{},
	}
	if out.ExpirationMode == "" {
		out.ExpirationMode = admin.KeyExpiryFixed
	}
	if k.ExpirationMode == admin.KeyExpiryActivation && k.ActivationUnit == admin.KeyUnitHours {
		// CRS counts activation in days only; a period in hours is
		// given in whole days, rounded up.
		out.ActivationDays = (k.ActivationDays + 23) / 24
	}
	a := v.All
	tokens := a.InputTokens + a.OutputTokens + a.CacheCreateTokens + a.CacheReadTokens
	out.Usage.Total = crsUsageJSON{
		Requests: a.Requests, Tokens: tokens, AllTokens: tokens,
		InputTokens: a.InputTokens, OutputTokens: a.OutputTokens, CacheCreateTokens: a.CacheCreateTokens, CacheReadTokens: a.CacheReadTokens,
		Cost: usdNumber(a.CostNanos), FormattedCost: crsFormatCost(a.CostNanos),
	}
	micros := func(m int64) json.Number { return usdNumber(max(m, 0) * 1000) }
	out.Limits = crsLimitsJSON{
		ConcurrencyLimit: max(k.ConcurrencyLimit, 0), RateLimitWindow: max(k.RateLimitWindow, 0), RateLimitRequests: max(k.RateLimitRequests, 0),
		RateLimitCost: micros(k.RateLimitCostMicros), DailyCostLimit: micros(k.DailyCostLimitMicros),
		TotalCostLimit: micros(k.TotalCostLimitMicros), WeeklyOpusCostLimit: micros(k.WeeklyOpusCostLimitMicros),
		// relay's week starts Monday 00:00 local time.
		WeeklyResetDay: 1, WeeklyResetHour: 0,
		CurrentWindowRequests: r.WindowRequests,
		CurrentWindowCost:     usdNumber(r.WindowCostNanos), CurrentDailyCost: usdNumber(r.DailyCostNanos),
		CurrentTotalCost: usdNumber(r.TotalCostNanos), WeeklyOpusCost: usdNumber(r.WeeklyOpusCostNanos),
	}
	// relay's request window slides: it "resets" (frees a request) when
	// its oldest request leaves it.
	if w := time.Duration(k.RateLimitWindow) * time.Minute; w > 0 && r.WindowRequests > 0 && !r.OldestInWindow.IsZero() {
		start := r.OldestInWindow.UnixMilli()
		end := r.OldestInWindow.Add(w)
		endMs := end.UnixMilli()
		left := max(int64(end.Sub(v.At)/time.Second), 0)
		out.Limits.WindowStartTime, out.Limits.WindowEndTime, out.Limits.WindowRemainingSeconds = &start, &endMs, &left
	}
	return out
}

// crsPermissions names relay's permissions as CRS does: codex is CRS's
// "openai".
func crsPermissions(p string) string {
	switch p {
	case "":
		return admin.KeyPermAll
	case admin.KeyPermCodex:
		return "openai"
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// crsFormatCost writes nano-dollars as CRS's CostCalculator.formatCost
// does: two decimals from a dollar, four from a tenth of a cent, six
// below, rounded half up.
func crsFormatCost(nanos int64) string {
	nanos = max(nanos, 0)
	decimals, unit := int64(6), int64(1_000)
	switch {
	case nanos >= 1_000_000_000:
		decimals, unit = 2, 10_000_000
	case nanos >= 1_000_000:
		decimals, unit = 4, 100_000
	}
	q := nanos/unit + (nanos%unit*2)/unit // half up
	scale := int64(1)
	for range decimals {
		scale *= 10
	}
	return fmt.Sprintf("$%d.%0*d", q/scale, int(decimals), q%scale)
}

// crsStatsRequest is CRS's request: the key, or the key's id.
type crsStatsRequest struct {
	APIKey json.RawMessage `json:"apiKey"`
	APIID  json.RawMessage `json:"apiId"`
}

// CRSUserStats answers POST /apiStats/api/user-stats. CRS also looks keys
// up by id; relay does not, since an id is no secret: such a lookup gets
// the one answer of a bad key.
func (s *API) CRSUserStats(c echo.Context) error {
	body, err := httpx.ReadBody(c)
	if err != nil {
		return err
	}
	// CRS's clients send more than these two fields: others are ignored,
	// as CRS ignores them.
	var in crsStatsRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return fault.New(fault.Invalid, "request body must be a JSON object")
	}
	var key string
	switch {
	case present(in.APIID):
		key = "" // counted against the rate limits, then refused as a bad key
	case present(in.APIKey):
		if json.Unmarshal(in.APIKey, &key) != nil {
			return fault.InvalidField("apiKey", "API key format is invalid")
		}
	default:
		return fault.New(fault.Invalid, "Please provide your API Key or API ID")
	}
	v, err := s.act.KeyHolderStats(c.Request().Context(), key, c.RealIP())
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, newCRSUserStats(v))
}

// present reports whether a JSON field was sent with a value other than
// null, false or "" (CRS tests fields for truthiness).
func present(raw json.RawMessage) bool {
	switch string(raw) {
	case "", "null", "false", `""`, "0":
		return false
	}
	return true
}
