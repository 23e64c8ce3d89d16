package adminapi

import (
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/projections"
)

// The key holder's routes (DESIGN.md section 8): no admin token, the API
// key itself in the body (never in a URL), answered by
// admin.Service.KeyHolderStats.

type keyStatsRequest struct {
	APIKey string `json:"apiKey"`
}

// usagePartJSON is a usage part: the admin statistics' counters, and the
// share of prompt tokens read from the cache.
type usagePartJSON struct {
	countersJSON
	// CacheHitRate is cacheReadTokens / (inputTokens + cacheCreateTokens +
	// cacheReadTokens), four decimals; 0 without prompt tokens.
	CacheHitRate json.Number `json:"cacheHitRate"`
}

func newUsagePart(c projections.UsageCounters) usagePartJSON {
	prompt := c.InputTokens + c.CacheCreateTokens + c.CacheReadTokens
	return usagePartJSON{countersJSON: newCountersJSON(c), CacheHitRate: ratio(c.CacheReadTokens, prompt, 4)}
}

// ratio is n/d as a JSON number with the given decimals, truncated, computed
// exactly; 0 when d is not positive.
func ratio(n, d int64, decimals int) json.Number {
	if d <= 0 || n <= 0 {
		return json.Number("0")
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	q := new(big.Int).Mul(big.NewInt(n), scale)
	q.Quo(q, big.NewInt(d))
	r := new(big.Rat).SetFrac(q, scale)
	return json.Number(r.FloatString(decimals))
}

// keyLimitJSON is one limit. Cost limits are in USD (unit "usd", nine
// decimals, exact), the others count requests.
type keyLimitJSON struct {
	Kind     string      `json:"kind"`
	Unit     string      `json:"unit"`
	Limit    json.Number `json:"limit"`
	Used     json.Number `json:"used"`
	Percent  json.Number `json:"percent"`
	ResetsAt *time.Time  `json:"resetsAt"`
	Reached  bool        `json:"reached"`
}

func newKeyLimitJSON(l projections.KeyLimit) keyLimitJSON {
	out := keyLimitJSON{Kind: l.Kind, Unit: "requests", Reached: l.Reached, ResetsAt: optionalTime(l.ResetsAt),
		Limit: json.Number(strconv.FormatInt(l.Limit, 10)), Used: json.Number(strconv.FormatInt(l.Used, 10)),
		Percent: ratio100(l.Used, l.Limit)}
	if l.IsCost() {
		out.Unit, out.Limit, out.Used = "usd", usdNumber(l.Limit), usdNumber(l.Used)
	}
	return out
}

// ratio100 is 100*used/limit with two decimals, without overflowing for
// large nano-dollar amounts.
func ratio100(used, limit int64) json.Number {
	if limit <= 0 || used <= 0 {
		return json.Number("0")
	}
	q := new(big.Int).Mul(big.NewInt(used), big.NewInt(10000))
	q.Quo(q, big.NewInt(limit))
	return json.Number(new(big.Rat).SetFrac(q, big.NewInt(100)).FloatString(2))
}

// nearestLimit is the limit with the largest share used (the first in
// check order on a tie), or nil without limits.
func nearestLimit(ls []projections.KeyLimit) *keyLimitJSON {
	best := -1
	for i, l := range ls {
		if best < 0 || new(big.Int).Mul(big.NewInt(l.Used), big.NewInt(ls[best].Limit)).Cmp(new(big.Int).Mul(big.NewInt(ls[best].Used), big.NewInt(l.Limit))) > 0 {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	j := newKeyLimitJSON(ls[best])
	return &j
}

// keyStatsJSON is the answer of POST /api/v2/key-stats.
type keyStatsJSON struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Permissions    string     `json:"permissions"`
	IsActive       bool       `json:"isActive"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	ExpirationMode string     `json:"expirationMode"`
	IsActivated    bool       `json:"isActivated"`
	ActivatedAt    *time.Time `json:"activatedAt"`
	ActivationDays int        `json:"activationDays"`
	ActivationUnit string     `json:"activationUnit"`
	// ExpiresInSeconds counts down to expiresAt; null without one (an
	// activation-mode key before its first request).
	ExpiresInSeconds *int64         `json:"expiresInSeconds"`
	Limits           []keyLimitJSON `json:"limits"`
	NearestLimit     *keyLimitJSON  `json:"nearestLimit"`
	LimitsTimezone   string         `json:"limitsTimezone"`
	Usage            struct {
		Today usagePartJSON `json:"today"`
		Month usagePartJSON `json:"month"`
		All   usagePartJSON `json:"all"`
	} `json:"usage"`
	ByModel     map[string]countersJSON `json:"byModel"`
	Daily       []dayJSON               `json:"daily"`
	Timezone    string                  `json:"timezone"`
	FirstUsedAt *time.Time              `json:"firstUsedAt"`
	LastUsedAt  *time.Time              `json:"lastUsedAt"`
	At          time.Time               `json:"at"`
}

func newKeyStatsJSON(v admin.KeyHolderView) keyStatsJSON {
	k := v.Key
	out := keyStatsJSON{
		ID: k.ID, Name: k.Name, Permissions: k.Permissions, IsActive: k.IsActive,
		ExpiresAt: k.ExpiresAt, ExpirationMode: k.ExpirationMode, IsActivated: keyActivated(k), ActivatedAt: k.ActivatedAt,
		ActivationDays: k.ActivationDays, ActivationUnit: k.ActivationUnit,
		Limits: make([]keyLimitJSON, 0, len(v.Limits)), NearestLimit: nearestLimit(v.Limits), LimitsTimezone: v.LimitsZone.String(),
		ByModel: byModelJSON(v.ByModel), Daily: make([]dayJSON, 0, len(v.Daily)), Timezone: v.UsageZone.String(),
		FirstUsedAt: optionalTime(v.FirstUsedAt), LastUsedAt: optionalTime(v.LastUsedAt), At: v.At,
	}
	if out.ExpirationMode == "" {
		out.ExpirationMode = admin.KeyExpiryFixed
	}
	if k.ExpiresAt != nil {
		secs := int64(v.ExpiresIn / time.Second)
		out.ExpiresInSeconds = &secs
	}
	for _, l := range v.Limits {
		out.Limits = append(out.Limits, newKeyLimitJSON(l))
	}
	out.Usage.Today, out.Usage.Month, out.Usage.All = newUsagePart(v.Today), newUsagePart(v.Month), newUsagePart(v.All)
	for _, d := range v.Daily {
		out.Daily = append(out.Daily, dayJSON{Date: d.Date, countersJSON: newCountersJSON(d.UsageCounters)})
	}
	return out
}

// keyActivated is isActivated as the admin's key answers show it: a
// fixed-expiry key counts as activated from its creation.
func keyActivated(k projections.KeyView) bool {
	return k.IsActivated || k.ExpirationMode != admin.KeyExpiryActivation
}

// KeyHolderStats answers POST /api/v2/key-stats: the key holder's own usage and
// limits.
func (s *API) KeyHolderStats(c echo.Context) error {
	var in keyStatsRequest
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	if in.APIKey == "" {
		return fault.InvalidField("apiKey", "apiKey is required")
	}
	v, err := s.act.KeyHolderStats(c.Request().Context(), in.APIKey, c.RealIP())
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusOK, newKeyStatsJSON(v))
}
