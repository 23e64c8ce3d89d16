package console

import (
	"context"
	"crypto/subtle"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/secrets"
	"relay/projections"
)

// The key holder's page (DESIGN.md section 8), GET and POST /stats: whoever
// holds an API key types it into a form and sees that key's limits and
// usage, in the console's look, languages and themes. It is public: the key
// is the credential, checked by the admin action (admin.KeyHolderStats)
// exactly as the JSON endpoint checks it, with the same rate limits and the
// same one answer for every bad key.
//
// The key travels only in the body of the form's POST. It is never put in
// a URL, a cookie or the browser's storage, never written back into the
// form, and the answer shows it masked (secrets.Mask). The form's CSRF
// token is bound to a short-lived random cookie (relay_stats_csrf, path
// /stats, an hour), and a POST whose Origin names another host is refused
// as well, as the console's forms are. The page works with JavaScript off
// and serves its own copy of the console's assets under /stats/static, so
// it needs nothing else of the console mounted.

// KeyHolder answers a key's holder (admin.Service.KeyHolderStats).
type KeyHolder interface {
	KeyHolderStats(ctx context.Context, secret, clientAddr string) (admin.KeyHolderView, error)
}

const (
	statsPath       = "/stats"
	statsCSRFCookie = "relay_stats_csrf"
	statsCSRFTTL    = time.Hour
	statsKeyField   = "apiKey"
	// maxKeyLength bounds what the form accepts as a key: relay's keys are
	// far shorter, and a longer value is refused before it is hashed.
	maxKeyLength = 256
)

func init() { pageNames = append(pageNames, "stats") }

// The layout's links and forms lead back to the page they are on: the
// public page's preferences post to /stats/prefs, its brand links to /stats.

func (p page) public() bool { return strings.HasPrefix(p.Title, "stats.") }

// PrefsURL is where the language and theme switches post.
func (p page) PrefsURL() string {
	if p.public() {
		return statsPath + "/prefs"
	}
	return "/console/prefs"
}

// HomeURL is where the brand links.
func (p page) HomeURL() string {
	if p.public() {
		return statsPath
	}
	return "/console/"
}

// MountStats adds the key holder's page to g, a group at /stats. It
// answers only when Config.KeyHolder is set.
func (h *Handler) MountStats(g *echo.Group) {
	g.Use(h.headers)
	g.GET("", h.statsPage)
	g.POST("", h.statsLookup)
	g.POST("/prefs", h.statsPrefs)
	g.GET("/static/:hash/:name", h.statsStatic)
	g.RouteNotFound("/*", h.statsNotFound)
}

// statsView is the page: the form, and the key's figures once looked up.
type statsView struct {
	page
	Error  string // catalogue key
	Detail string // the error's argument (seconds to wait)
	Holder *holderView
}

type holderView struct {
	Masked, Name     string
	Permissions      string // catalogue key
	Status, Class    string // catalogue key, CSS class
	Expiry, ExpAt    string
	Limits           []holderLimit
	Nearest          *holderLimit
	Periods          []string // catalogue keys
	Rows             []metricRow
	Models           []holderModel
	Chart            template.HTML
	Timezone         string
	LastUsed, UsedAt string
	FirstUsedAt      string
}

type holderLimit struct {
	Label string // catalogue key
	meter
	Share            float64
	Resets, ResetsAt string
}

type holderModel struct {
	Name                                string
	Requests, Input, Output, CacheWrite string
	CacheRead, Cost, CostFull, CacheHit string
}

func (h *Handler) statsReady(c echo.Context) bool {
	return h.cfg.KeyHolder != nil
}

// statsPageOf fills the layout's part of the public page: its own CSRF
// cookie and token, its own asset path, preferences returning to /stats.
func (h *Handler) statsPageOf(c echo.Context) (page, error) {
	p := page{
		L: h.locale(c), Theme: themeOf(c), Title: "stats.title",
		Static: statsPath + "/static/" + strings.TrimPrefix(h.staticPrefix, "/console/static/"),
		Here:   statsPath, Version: h.cfg.Version,
	}
	v := cookieValue(c, statsCSRFCookie)
	if v == "" || len(v) > maxCookieValue {
		var err error
		if v, err = randomID(); err != nil {
			return p, err
		}
	}
	// Set (or renewed) on every page shown, so a form is good for an hour
	// after it was shown.
	h.setCookie(c, statsCSRFCookie, v, statsPath, h.cfg.Now().Add(statsCSRFTTL), http.SameSiteStrictMode)
	p.CSRF = h.keys.statsCSRF(v)
	return p, nil
}

func (k keys) statsCSRF(cookie string) string { return mac(k.csrf, "stats", cookie) }

// statsFormAllowed checks a POST to the public page: same origin, and the
// token of the form shown with this browser's relay_stats_csrf cookie.
func (h *Handler) statsFormAllowed(c echo.Context) bool {
	if !sameOrigin(c.Request()) {
		return false
	}
	sent, v := c.FormValue(csrfField), cookieValue(c, statsCSRFCookie)
	if sent == "" || v == "" || len(v) > maxCookieValue {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sent), []byte(h.keys.statsCSRF(v))) == 1
}

func (h *Handler) renderStats(c echo.Context, status int, v statsView) error {
	return h.render(c, status, "stats", v)
}

func (h *Handler) statsPage(c echo.Context) error {
	if !h.statsReady(c) {
		return h.statsNotFound(c)
	}
	p, err := h.statsPageOf(c)
	if err != nil {
		return err
	}
	return h.renderStats(c, http.StatusOK, statsView{page: p})
}

func (h *Handler) statsLookup(c echo.Context) error {
	if !h.statsReady(c) {
		return h.statsNotFound(c)
	}
	p, err := h.statsPageOf(c)
	if err != nil {
		return err
	}
	v := statsView{page: p}
	if !h.statsFormAllowed(c) {
		// A fresh form comes with this answer (and its cookie): sending
		// again works.
		v.Error = "stats.csrf"
		return h.renderStats(c, http.StatusForbidden, v)
	}
	key := strings.TrimSpace(c.FormValue(statsKeyField))
	if key == "" {
		v.Error = "stats.missing"
		return h.renderStats(c, http.StatusBadRequest, v)
	}
	if len(key) > maxKeyLength {
		v.Error = "stats.bad"
		return h.renderStats(c, http.StatusUnauthorized, v)
	}
	view, err := h.cfg.KeyHolder.KeyHolderStats(c.Request().Context(), key, c.RealIP())
	if err != nil {
		fe, ok := faultKind(err)
		switch {
		case ok && fe.Kind == fault.Unauthorized:
			v.Error = "stats.bad"
			return h.renderStats(c, http.StatusUnauthorized, v)
		case ok && fe.Kind == fault.RateLimited:
			wait := max(fe.RetryAfter, 1)
			c.Response().Header().Set("Retry-After", strconv.Itoa(wait))
			v.Error, v.Detail = "stats.limited", strconv.Itoa(wait)
			return h.renderStats(c, http.StatusTooManyRequests, v)
		case ok && fe.Kind == fault.Invalid:
			v.Error = "stats.bad"
			return h.renderStats(c, http.StatusUnauthorized, v)
		}
		h.cfg.Logger.Error().Err(err).Msg("console: key holder statistics failed")
		v.Error = "error.backend"
		return h.renderStats(c, http.StatusServiceUnavailable, v)
	}
	v.Holder = holderOf(p.L, secrets.Mask(key), view)
	return h.renderStats(c, http.StatusOK, v)
}

// holderOf is what the page shows of view; masked is the key as shown.
func holderOf(l *Locale, masked string, view admin.KeyHolderView) *holderView {
	k, now := view.Key, view.At
	usageLoc := view.UsageZone
	if usageLoc == nil {
		usageLoc = time.UTC
	}
	limitsLoc := view.LimitsZone
	if limitsLoc == nil {
		limitsLoc = time.UTC
	}
	hv := &holderView{Masked: masked, Name: k.Name, Timezone: usageLoc.String(),
		Status: "keys.status.active", Class: "state-active",
		Periods: []string{"period.today", "stats.month", "stats.allTime"}}
	perm := k.Permissions
	if perm == "" {
		perm = "all"
	}
	hv.Permissions = "permission." + perm
	if !l.Has(hv.Permissions) {
		hv.Permissions = "permission.all"
	}
	switch {
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		hv.Status, hv.Class = "keys.status.expired", "state-expired"
		hv.Expiry, hv.ExpAt = l.F("stats.expired", relative(l, *k.ExpiresAt, now)), formatTime(*k.ExpiresAt, limitsLoc)
	case k.ExpiresAt != nil:
		hv.Expiry, hv.ExpAt = relative(l, *k.ExpiresAt, now), formatTime(*k.ExpiresAt, limitsLoc)
	case k.ExpirationMode == "activation" && !k.IsActivated && k.ActivationDays > 0:
		unit := "unit." + k.ActivationUnit
		if !l.Has(unit) {
			unit = "unit.days"
		}
		hv.Expiry = l.F("stats.notActivated", l.F("keys.afterActivation", k.ActivationDays, l.T(unit)))
	default:
		hv.Expiry = l.T("stats.noExpiry")
	}

	for _, lim := range view.Limits {
		if lim.Limit <= 0 {
			continue
		}
		hl := holderLimit{Label: "stats.limit." + lim.Kind, Share: float64(lim.Used) / float64(lim.Limit)}
		text := groupDigits(lim.Used) + " / " + groupDigits(lim.Limit)
		if lim.IsCost() {
			text = formatUSD(lim.Used) + " / " + formatUSD(lim.Limit)
		}
		hl.meter = *newMeter(lim.Used, lim.Limit, text)
		if !l.Has(hl.Label) {
			hl.Label = lim.Kind
		}
		switch {
		case !lim.ResetsAt.IsZero():
			hl.Resets, hl.ResetsAt = l.F("keys.resets", relative(l, lim.ResetsAt, now)), formatTime(lim.ResetsAt, limitsLoc)
		case lim.Kind == projections.LimitTotalCost:
			hl.Resets = l.T("stats.neverResets")
		case lim.Kind == projections.LimitConcurrency:
			hl.Resets = l.T("stats.freesAsEnd")
		}
		hv.Limits = append(hv.Limits, hl)
	}
	for i := range hv.Limits {
		if hv.Nearest == nil || hv.Limits[i].Share > hv.Nearest.Share {
			hv.Nearest = &hv.Limits[i]
		}
	}

	periods := []projections.UsageCounters{view.Today, view.Month, view.All}
	row := func(label string, f func(c projections.UsageCounters) cell) {
		r := metricRow{Label: label}
		for _, c := range periods {
			r.Values = append(r.Values, f(c))
		}
		hv.Rows = append(hv.Rows, r)
	}
	count := func(n int64) cell { return cell{Text: compact(l.Tag, n), Title: groupDigits(n)} }
	row("metric.requests", func(c projections.UsageCounters) cell { return count(c.Requests) })
	row("metric.input", func(c projections.UsageCounters) cell { return count(c.InputTokens) })
	row("metric.output", func(c projections.UsageCounters) cell { return count(c.OutputTokens) })
	row("metric.cacheWrite", func(c projections.UsageCounters) cell { return count(c.CacheCreateTokens) })
	row("metric.cacheRead", func(c projections.UsageCounters) cell { return count(c.CacheReadTokens) })
	row("metric.cost", func(c projections.UsageCounters) cell {
		return cell{Text: formatUSD(c.CostNanos), Title: formatUSDExact(c.CostNanos)}
	})
	row("metric.cacheHit", func(c projections.UsageCounters) cell { return cell{Text: cacheHitRate(c)} })

	names := make([]string, 0, len(view.ByModel))
	for m := range view.ByModel {
		names = append(names, m)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := view.ByModel[names[i]], view.ByModel[names[j]]
		if a.CostNanos != b.CostNanos {
			return a.CostNanos > b.CostNanos
		}
		return names[i] < names[j]
	})
	for _, m := range names {
		c := view.ByModel[m]
		hv.Models = append(hv.Models, holderModel{
			Name: m, Requests: compact(l.Tag, c.Requests), Input: compact(l.Tag, c.InputTokens),
			Output: compact(l.Tag, c.OutputTokens), CacheWrite: compact(l.Tag, c.CacheCreateTokens),
			CacheRead: compact(l.Tag, c.CacheReadTokens), Cost: formatUSD(c.CostNanos),
			CostFull: formatUSDExact(c.CostNanos), CacheHit: cacheHitRate(c),
		})
	}

	buckets := make([]Bucket, 0, len(view.Daily))
	for _, d := range view.Daily {
		start, err := time.ParseInLocation("2006-01-02", d.Date, usageLoc)
		if err != nil {
			continue
		}
		buckets = append(buckets, Bucket{Start: start, Counters: d.UsageCounters})
	}
	hv.Chart = renderChart(chartInput{Granularity: Daily, Buckets: buckets, Loc: usageLoc, L: l})
	if !view.LastUsedAt.IsZero() {
		hv.LastUsed, hv.UsedAt = relative(l, view.LastUsedAt, now), formatTime(view.LastUsedAt, usageLoc)
	}
	if !view.FirstUsedAt.IsZero() {
		hv.FirstUsedAt = formatTime(view.FirstUsedAt, usageLoc)
	}
	return hv
}

// statsPrefs sets the language or theme of the public page: the console's
// cookies, scoped to /stats.
func (h *Handler) statsPrefs(c echo.Context) error {
	if !h.statsReady(c) {
		return h.statsNotFound(c)
	}
	if !h.statsFormAllowed(c) {
		p, err := h.statsPageOf(c)
		if err != nil {
			return err
		}
		return h.renderStats(c, http.StatusForbidden, statsView{page: p, Error: "stats.csrf"})
	}
	expires := h.cfg.Now().Add(prefCookieMaxAge * time.Second)
	if lang := c.FormValue("lang"); lang != "" {
		if _, ok := h.locales[lang]; !ok {
			return h.statsNotFound(c)
		}
		h.setCookie(c, langCookie, lang, statsPath, expires, http.SameSiteLaxMode)
	}
	switch theme := c.FormValue("theme"); theme {
	case "":
	case "light", "dark":
		h.setCookie(c, themeCookie, theme, statsPath, expires, http.SameSiteLaxMode)
	case "system":
		c.SetCookie(&http.Cookie{Name: themeCookie, Value: "", Path: statsPath, MaxAge: -1, Expires: time.Unix(0, 0),
			HttpOnly: true, Secure: h.cfg.Secure(c.Request()), SameSite: http.SameSiteLaxMode})
	default:
		return h.statsNotFound(c)
	}
	return c.Redirect(http.StatusSeeOther, statsPath)
}

func (h *Handler) statsStatic(c echo.Context) error {
	f, ok := h.static[c.Param("name")]
	if !ok || "/console/static/"+c.Param("hash") != h.staticPrefix {
		return h.statsNotFound(c)
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Del("Vary")
	return c.Blob(http.StatusOK, f.contentType, f.body)
}

func (h *Handler) statsNotFound(c echo.Context) error {
	return c.String(http.StatusNotFound, "not found")
}
