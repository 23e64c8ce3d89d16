package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"relay/events"
)

var accountPlatforms = []string{"", events.PlatformClaudeConsole, events.PlatformCodex}

type meter struct {
	Text    string
	Percent int // 0..100, the bar's width
	Class   string
}

type accountRowView struct {
	ID, Name, Platform string
	KeyMask            string
	Priority           int
	Status, Class      string // catalogue key (or raw state), CSS class
	Until, UntilAt     string
	Reasons            []string // texts
	Quota              *meter
	Concurrency        *meter
	LastUsed, UsedAt   string
}

type accountsView struct {
	page
	pager
	Search    string
	Platforms []filterOption
	Rows      []accountRowView
}

func (h *Handler) accountsPage(c echo.Context) error {
	q := AccountQuery{
		Search: searchParam(c, "q"), Platform: oneOf(c.QueryParam("platform"), accountPlatforms),
		Page: pageParam(c), PageSize: listPageSize,
	}
	res, err := h.backend.Accounts(c.Request().Context(), q)
	if err != nil {
		return h.failed(c, err)
	}
	p, err := h.newPage(c, "accounts.title", "accounts")
	if err != nil {
		return err
	}
	v := accountsView{
		page: p, Search: q.Search,
		pager: newPager("/console/accounts", url.Values{"q": {q.Search}, "platform": {q.Platform}}, q.Page, res.Total, len(res.Items)),
		Platforms: options(accountPlatforms, q.Platform, func(s string) string {
			if s == "" {
				return "accounts.platform.all"
			}
			return "platform." + s
		}),
	}
	now := h.cfg.Now()
	for _, a := range res.Items {
		v.Rows = append(v.Rows, accountRow(p.L, a, now))
	}
	return h.render(c, http.StatusOK, "accounts", v)
}

// translated returns the text of prefix+key, or key itself when the
// catalogue has none (a state or reason this console does not know yet).
func translated(l *Locale, prefix, key string) string {
	if l.Has(prefix + key) {
		return l.T(prefix + key)
	}
	return key
}

func accountRow(l *Locale, a AccountRow, now time.Time) accountRowView {
	r := accountRowView{ID: a.ID, Name: a.Name, Platform: translated(l, "platform.", a.Platform), KeyMask: a.APIKeyMask, Priority: a.Priority}
	if r.Name == "" {
		r.Name = a.ID
	}
	switch {
	case len(a.Unavailable) == 0:
		r.Status, r.Class = l.T("accounts.available"), "state-active"
	case a.State != "":
		r.Status, r.Class = translated(l, "state.", a.State), "state-"+a.State
	default:
		r.Status, r.Class = translated(l, "state.", a.Unavailable[0]), "state-"+a.Unavailable[0]
	}
	if a.State != "" && !a.StateUntil.IsZero() {
		r.Until, r.UntilAt = relative(l, a.StateUntil, now), formatTime(a.StateUntil, time.UTC)
	}
	for _, reason := range a.Unavailable {
		r.Reasons = append(r.Reasons, translated(l, "reason.", reason))
	}
	if a.DailyQuotaNanos > 0 {
		r.Quota = newMeter(a.SpentTodayNanos, a.DailyQuotaNanos, formatUSD(a.SpentTodayNanos)+" / "+formatUSD(a.DailyQuotaNanos))
	}
	if a.MaxConcurrency > 0 {
		r.Concurrency = newMeter(int64(a.InFlight), int64(a.MaxConcurrency), l.F("accounts.inFlight", a.InFlight, a.MaxConcurrency))
	} else if a.InFlight > 0 {
		r.Concurrency = &meter{Text: l.F("accounts.inFlightUnbounded", a.InFlight)}
	}
	if !a.LastUsedAt.IsZero() {
		r.LastUsed, r.UsedAt = relative(l, a.LastUsedAt, now), formatTime(a.LastUsedAt, time.UTC)
	}
	return r
}

// newMeter is a usage bar of used against limit: amber from 80 %, red
// when reached.
func newMeter(used, limit int64, text string) *meter {
	pct := 100
	if used < limit {
		pct = int(used * 100 / limit)
	}
	// The bar's width is a class in steps of 5 % (.w0 ... .w100).
	m := &meter{Text: text, Percent: pct / 5 * 5, Class: "m-ok"}
	switch {
	case used >= limit:
		m.Class = "m-full"
	case pct >= 80:
		m.Class = "m-high"
	}
	return m
}
