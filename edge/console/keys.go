package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
)

type keyRowView struct {
	ID, Name         string
	Tags             []string
	Permissions      string
	Status, Class    string // catalogue key, CSS class
	Expires, ExpAt   string
	LastUsed, UsedAt string
	Requests, Cost   string
	CostFull         string
	Limits           []limitView
}

type limitView struct {
	Label string // catalogue key
	meter
	Resets, ResetsAt string
}

type keysView struct {
	page
	pager
	Search   string
	Statuses []filterOption
	Rows     []keyRowView
}

var keyStatuses = []string{KeysAll, KeysActive, KeysExpired, KeysDeleted}

func (h *Handler) keysPage(c echo.Context) error {
	q := KeyQuery{
		Search: searchParam(c, "q"), Status: oneOf(c.QueryParam("status"), keyStatuses),
		Page: pageParam(c), PageSize: listPageSize,
	}
	res, err := h.backend.Keys(c.Request().Context(), q)
	if err != nil {
		return h.failed(c, err)
	}
	p, err := h.newPage(c, "keys.title", "keys")
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	v := keysView{
		page: p, Search: q.Search,
		pager: newPager("/console/keys", url.Values{"q": {q.Search}, "status": {q.Status}}, q.Page, res.Total, len(res.Items)),
		Statuses: options(keyStatuses, q.Status, func(s string) string {
			if s == "" {
				return "keys.status.all"
			}
			return "keys.status." + s
		}),
	}
	for _, k := range res.Items {
		v.Rows = append(v.Rows, keyRow(p.L, k, now))
	}
	return h.render(c, http.StatusOK, "keys", v)
}

func keyRow(l *Locale, k KeyRow, now time.Time) keyRowView {
	r := keyRowView{
		ID: k.ID, Name: k.Name, Tags: k.Tags, Permissions: k.Permissions,
		Requests: compact(l.Tag, k.Today.Requests),
		Cost:     formatUSD(k.Today.CostNanos), CostFull: formatUSDExact(k.Today.CostNanos),
	}
	if r.Permissions == "" {
		r.Permissions = "all"
	}
	switch {
	case k.IsDeleted:
		r.Status, r.Class = "keys.status.deleted", "state-deleted"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		r.Status, r.Class = "keys.status.expired", "state-expired"
	case !k.IsActive:
		r.Status, r.Class = "keys.status.disabled", "state-inactive"
	default:
		r.Status, r.Class = "keys.status.active", "state-active"
	}
	if !k.ExpiresAt.IsZero() {
		r.Expires, r.ExpAt = relative(l, k.ExpiresAt, now), formatTime(k.ExpiresAt, time.UTC)
	} else if k.ActivationDays > 0 {
		unit := "unit." + k.ActivationUnit
		if !l.Has(unit) {
			unit = "unit.days"
		}
		r.Expires = l.F("keys.afterActivation", k.ActivationDays, l.T(unit))
	}
	for _, lu := range k.Limits {
		if lu.Limit <= 0 {
			continue
		}
		text := groupDigits(lu.Used) + " / " + groupDigits(lu.Limit)
		if lu.Kind != LimitWindowRequests {
			text = formatUSD(lu.Used) + " / " + formatUSD(lu.Limit)
		}
		lv := limitView{Label: "limit." + lu.Kind, meter: *newMeter(lu.Used, lu.Limit, text)}
		if !l.Has(lv.Label) {
			lv.Label = lu.Kind
		}
		if !lu.ResetsAt.IsZero() {
			lv.Resets, lv.ResetsAt = l.F("keys.resets", relative(l, lu.ResetsAt, now)), formatTime(lu.ResetsAt, time.UTC)
		}
		r.Limits = append(r.Limits, lv)
	}
	if !k.LastUsedAt.IsZero() {
		r.LastUsed, r.UsedAt = relative(l, k.LastUsedAt, now), formatTime(k.LastUsedAt, time.UTC)
	}
	return r
}
