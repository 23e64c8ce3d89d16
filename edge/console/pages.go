package console

import (
	"context"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

const ctxSession = "relay.console.session"

// currentSession returns the browser's session when it is valid now: signed
// by us, not expired, of an admin whose password has not changed since,
// and not signed out.
func (h *Handler) currentSession(c echo.Context) (session, bool, error) {
	s, ok := h.keys.parse(cookieValue(c, sessionCookie), h.cfg.Now())
	if !ok {
		return session{}, false, nil
	}
	ok, err := h.stillValid(c.Request().Context(), s)
	return s, ok, err
}

// stillValid asks the Backend whether a well-signed, unexpired session
// still holds: its admin exists with the same password version, and it was
// not signed out.
func (h *Handler) stillValid(ctx context.Context, s session) (bool, error) {
	if !h.cfg.Now().Before(s.Expires) {
		return false, nil
	}
	_, err := h.backend.CheckSession(ctx, s.Username, s.Version)
	if isNoAdmin(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ended, err := h.backend.SessionEnded(ctx, s.ID)
	if err != nil || ended {
		return false, err
	}
	return true, nil
}

// requireSession lets signed-in admins through and sends everyone else to
// the sign-in page; a POST must also carry the session's CSRF token and no
// foreign Origin. A session the Backend cannot check (Redis down) is
// refused, never waved through.
func (h *Handler) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, ok, err := h.currentSession(c)
		if err != nil {
			return h.failed(c, err)
		}
		if !ok {
			if cookieValue(c, sessionCookie) != "" {
				h.clearCookie(c, sessionCookie)
			}
			target := "/console/login"
			if c.Request().Method == http.MethodGet && c.Request().URL.RequestURI() != "/console/" {
				target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
			}
			return c.Redirect(http.StatusSeeOther, target)
		}
		c.Set(ctxSession, s)
		if c.Request().Method == http.MethodPost && !h.formAllowed(c, &s) {
			return h.errorPage(c, http.StatusForbidden, "error.csrf")
		}
		return next(c)
	}
}

// formAllowed checks a POST's CSRF token and Origin.
func (h *Handler) formAllowed(c echo.Context, s *session) bool {
	return sameOrigin(c.Request()) && h.validCSRF(c, s)
}

// optionalSession returns the session on pages open to everyone.
func (h *Handler) optionalSession(c echo.Context) (*session, error) {
	s, ok, err := h.currentSession(c)
	if err != nil || !ok {
		return nil, err
	}
	c.Set(ctxSession, s)
	return &s, nil
}

type loginView struct {
	page
	Next      string
	Username  string
	Error     string // catalogue key
	SignedOut bool
}

func (h *Handler) loginPage(c echo.Context) error {
	s, err := h.optionalSession(c)
	if err != nil {
		return h.failed(c, err)
	}
	next := localPath(c.QueryParam("next"))
	if s != nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return h.showLogin(c, http.StatusOK, loginView{Next: next, SignedOut: c.QueryParam("out") == "1"})
}

func (h *Handler) showLogin(c echo.Context, status int, v loginView) error {
	p, err := h.newPage(c, "login.title", "")
	if err != nil {
		return err
	}
	v.page = p
	return h.render(c, status, "login", v)
}

func (h *Handler) login(c echo.Context) error {
	v := loginView{Next: localPath(c.FormValue("next")), Username: c.FormValue("username")}
	if !h.formAllowed(c, nil) {
		v.Error = "error.csrf"
		return h.showLogin(c, http.StatusForbidden, v)
	}
	password := c.FormValue("password")
	if v.Username == "" || password == "" {
		v.Error = "login.missing"
		return h.showLogin(c, http.StatusBadRequest, v)
	}
	res, err := h.backend.SignIn(c.Request().Context(), SignInInput{
		Username: v.Username, Password: password, ClientAddr: c.RealIP(),
		Device: cookieValue(c, deviceCookie), RequestID: requestID(c),
	})
	wait, throttled := throttledFor(err)
	switch {
	case isBadCredentials(err):
		v.Error = "login.bad"
		return h.showLogin(c, http.StatusUnauthorized, v)
	case throttled:
		secs := int(math.Ceil(wait.Seconds()))
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		v.Error = "login.throttled"
		return h.showLogin(c, http.StatusTooManyRequests, v)
	case err != nil:
		return h.failed(c, err)
	}
	if res.Device != "" {
		h.setCookie(c, deviceCookie, res.Device, "/", res.DeviceExpires, http.SameSiteStrictMode)
	}
	if _, err := h.startSession(c, res.Admin); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, v.Next)
}

func (h *Handler) logout(c echo.Context) error {
	s := c.Get(ctxSession).(session)
	h.clearCookie(c, sessionCookie)
	if err := h.backend.EndSession(c.Request().Context(), s.ID, s.Expires); err != nil {
		return h.failed(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/console/login?out=1")
}

// prefs sets the language and theme cookies and goes back where the form
// was. Open to everyone (the sign-in page has the switches too), with the
// CSRF token of whoever is asking.
func (h *Handler) prefs(c echo.Context) error {
	s, err := h.optionalSession(c)
	if err != nil {
		return h.failed(c, err)
	}
	if !h.formAllowed(c, s) {
		return h.errorPage(c, http.StatusForbidden, "error.csrf")
	}
	expires := h.cfg.Now().Add(prefCookieMaxAge * time.Second)
	if lang := c.FormValue("lang"); lang != "" {
		if _, ok := h.locales[lang]; !ok {
			return h.errorPage(c, http.StatusBadRequest, "error.badRequest")
		}
		h.setCookie(c, langCookie, lang, cookiePath, expires, http.SameSiteLaxMode)
	}
	switch theme := c.FormValue("theme"); theme {
	case "":
	case "light", "dark":
		h.setCookie(c, themeCookie, theme, cookiePath, expires, http.SameSiteLaxMode)
	case "system":
		h.clearCookie(c, themeCookie)
	default:
		return h.errorPage(c, http.StatusBadRequest, "error.badRequest")
	}
	return c.Redirect(http.StatusSeeOther, localPath(c.FormValue("back")))
}

func requestID(c echo.Context) string {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return id
	}
	return c.Request().Header.Get(echo.HeaderXRequestID)
}

// Overview.

type cell struct {
	Text, Title string
}

type metricRow struct {
	Label  string // catalogue key
	Values []cell
}

type rankedRow struct {
	Name, Sub      string
	Requests       string
	Tokens         string
	Cost, CostFull string
}

type stateAccount struct {
	Name, Platform string
	Until, UntilAt string
}

type stateGroup struct {
	State    string // catalogue key
	Class    string
	Count    int
	Accounts []stateAccount
}

type overviewView struct {
	page
	Periods    []string // catalogue keys
	Rows       []metricRow
	Chart      template.HTML
	ChartRange string
	TopKeys    []rankedRow
	TopModels  []rankedRow
	States     []stateGroup
	Keys       KeyCounts
	Timezone   string
	Live       []liveRow
	LiveURL    string
}

// stateOrder is the order account states are listed in: the healthy ones
// first, then the ones that end by themselves, then those that need an
// admin.
var stateOrder = []string{StateActive, StateRateLimited, StateOverloaded, StateOverQuota, StateUnauthorized, StateError, StateInactive, StateUnschedulable}

func (h *Handler) overview(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := h.backend.Overview(ctx)
	if err != nil {
		return h.failed(c, err)
	}
	q := SeriesQuery{Granularity: Hourly, Buckets: 24}
	rng := "24h"
	if c.QueryParam("chart") == "30d" {
		q, rng = SeriesQuery{Granularity: Daily, Buckets: 30}, "30d"
	}
	series, err := h.backend.Series(ctx, q)
	if err != nil {
		return h.failed(c, err)
	}
	p, err := h.newPage(c, "overview.title", "overview")
	if err != nil {
		return err
	}
	loc := location(o.Timezone)
	l := p.L
	v := overviewView{page: p, Periods: []string{"period.today", "period.7d", "period.30d"}, ChartRange: rng, Keys: o.Keys, Timezone: o.Timezone}
	periods := []Counters{o.Today, o.Last7Days, o.Last30Days}
	count := func(label string, f func(Counters) int64) {
		row := metricRow{Label: label}
		for _, pc := range periods {
			n := f(pc)
			row.Values = append(row.Values, cell{Text: compact(l.Tag, n), Title: groupDigits(n)})
		}
		v.Rows = append(v.Rows, row)
	}
	count("metric.requests", func(c Counters) int64 { return c.Requests })
	count("metric.input", func(c Counters) int64 { return c.InputTokens })
	count("metric.output", func(c Counters) int64 { return c.OutputTokens })
	count("metric.cacheWrite", func(c Counters) int64 { return c.CacheCreateTokens })
	count("metric.cacheRead", func(c Counters) int64 { return c.CacheReadTokens })
	cost := metricRow{Label: "metric.cost"}
	hit := metricRow{Label: "metric.cacheHit"}
	for _, pc := range periods {
		cost.Values = append(cost.Values, cell{Text: formatUSD(pc.CostNanos), Title: formatUSDExact(pc.CostNanos)})
		hit.Values = append(hit.Values, cell{Text: cacheHitRate(pc)})
	}
	v.Rows = append(v.Rows, cost)
	count("metric.errors", func(c Counters) int64 { return c.Errors })
	count("metric.refused", func(c Counters) int64 { return c.Refused })
	v.Rows = append(v.Rows, hit)

	v.Chart = renderChart(chartInput{Granularity: series.Granularity, Buckets: series.Buckets, Loc: loc, L: l})
	for _, k := range o.TopKeys {
		name := k.Name
		if name == "" {
			name = k.ID
		}
		v.TopKeys = append(v.TopKeys, ranked(l.Tag, name, k.ID, k.Counters))
	}
	for _, m := range o.TopModels {
		v.TopModels = append(v.TopModels, ranked(l.Tag, m.Model, "", m.Counters))
	}
	v.States = groupStates(l, o.Accounts, loc, h.cfg.Now())
	recent, err := h.backend.Recent(ctx, RecentQuery{N: recentRequests})
	if err != nil {
		return h.failed(c, err)
	}
	for _, r := range recent {
		v.Live = append(v.Live, newLiveRow(l, r, loc))
	}
	v.LiveURL = "/console/live?tz=" + url.QueryEscape(o.Timezone)
	return h.render(c, http.StatusOK, "overview", v)
}

func ranked(lang, name, sub string, c Counters) rankedRow {
	return rankedRow{
		Name: name, Sub: sub,
		Requests: compact(lang, c.Requests),
		Tokens:   compact(lang, c.InputTokens+c.OutputTokens+c.CacheCreateTokens+c.CacheReadTokens),
		Cost:     formatUSD(c.CostNanos), CostFull: formatUSDExact(c.CostNanos),
	}
}

func groupStates(l *Locale, accounts []AccountStatus, loc *time.Location, now time.Time) []stateGroup {
	byState := map[string]*stateGroup{}
	var order []string
	add := func(state string) *stateGroup {
		g, ok := byState[state]
		if !ok {
			key := "state." + state
			if !l.Has(key) {
				key = state
			}
			g = &stateGroup{State: key, Class: "state-" + state}
			byState[state] = g
			order = append(order, state)
		}
		return g
	}
	for _, s := range stateOrder {
		add(s)
	}
	for _, a := range accounts {
		g := add(a.State)
		g.Count++
		if a.State == StateActive {
			continue // the healthy ones are counted, not listed
		}
		row := stateAccount{Name: a.Name, Platform: a.Platform}
		if row.Name == "" {
			row.Name = a.ID
		}
		if !a.Until.IsZero() {
			row.Until, row.UntilAt = relative(l, a.Until, now), formatTime(a.Until, loc)
		}
		g.Accounts = append(g.Accounts, row)
	}
	out := make([]stateGroup, 0, len(order))
	for _, s := range order {
		if g := byState[s]; g.Count > 0 || s == StateActive {
			out = append(out, *g)
		}
	}
	return out
}

// location loads the projection's zone; an unknown name shows UTC.
func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Settings.

type settingsView struct {
	page
	Errors   map[string]string // field -> text
	Changed  bool
	Username string
}

func (h *Handler) settings(c echo.Context) error {
	return h.showSettings(c, http.StatusOK, settingsView{Changed: c.QueryParam("changed") == "1"})
}

func (h *Handler) showSettings(c echo.Context, status int, v settingsView) error {
	p, err := h.newPage(c, "settings.title", "settings")
	if err != nil {
		return err
	}
	v.page, v.Username = p, p.Admin
	return h.render(c, status, "settings", v)
}

func (h *Handler) changePassword(c echo.Context) error {
	s := c.Get(ctxSession).(session)
	current, next, confirm := c.FormValue("currentPassword"), c.FormValue("newPassword"), c.FormValue("confirmPassword")
	l := h.locale(c)
	if next != confirm {
		return h.showSettings(c, http.StatusBadRequest, settingsView{Errors: map[string]string{"confirmPassword": l.T("field.mismatch")}})
	}
	admin, err := h.backend.ChangePassword(c.Request().Context(), ChangePasswordInput{
		Username: s.Username, CurrentPassword: current, NewPassword: next, RequestID: requestID(c),
	})
	if errs, ok := fieldErrors(l, err); ok {
		return h.showSettings(c, http.StatusBadRequest, settingsView{Errors: errs})
	}
	if err != nil {
		return h.failed(c, err)
	}
	// Every session is void now, this one too: sign this browser in again.
	if _, err := h.startSession(c, admin); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settings?changed=1")
}
