package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	keysPageSize  = 50
	maxSearchLen  = 200
	maxPageNumber = 1_000_000
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
}

type filterOption struct {
	Value, Label string
	Selected     bool
}

type keysView struct {
	page
	Search   string
	Statuses []filterOption
	Rows     []keyRowView
	Total    string
	PageNo   int
	Pages    int
	First    int
	Last     int
	PrevURL  string
	NextURL  string
}

var keyStatuses = []string{KeysAll, KeysActive, KeysExpired, KeysDeleted}

func (h *Handler) keysPage(c echo.Context) error {
	q := KeyQuery{Search: strings.TrimSpace(c.QueryParam("q")), Status: c.QueryParam("status"), Page: 1, PageSize: keysPageSize}
	if len(q.Search) > maxSearchLen {
		q.Search = q.Search[:maxSearchLen]
	}
	valid := false
	for _, s := range keyStatuses {
		valid = valid || s == q.Status
	}
	if !valid {
		q.Status = KeysAll
	}
	if n, err := strconv.Atoi(c.QueryParam("page")); err == nil && n > 0 && n <= maxPageNumber {
		q.Page = n
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
	v := keysView{page: p, Search: q.Search, Total: groupDigits(int64(res.Total)), PageNo: q.Page}
	for _, s := range keyStatuses {
		label := "keys.status.all"
		if s != "" {
			label = "keys.status." + s
		}
		v.Statuses = append(v.Statuses, filterOption{Value: s, Label: label, Selected: s == q.Status})
	}
	v.Pages = max((res.Total+keysPageSize-1)/keysPageSize, 1)
	if len(res.Items) > 0 {
		v.First = (q.Page-1)*keysPageSize + 1
		v.Last = v.First + len(res.Items) - 1
	}
	link := func(page int) string {
		vals := url.Values{}
		if q.Search != "" {
			vals.Set("q", q.Search)
		}
		if q.Status != "" {
			vals.Set("status", q.Status)
		}
		if page > 1 {
			vals.Set("page", strconv.Itoa(page))
		}
		if len(vals) == 0 {
			return "/console/keys"
		}
		return "/console/keys?" + vals.Encode()
	}
	if q.Page > 1 {
		v.PrevURL = link(min(q.Page-1, v.Pages))
	}
	if q.Page < v.Pages {
		v.NextURL = link(q.Page + 1)
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
	}
	if !k.LastUsedAt.IsZero() {
		r.LastUsed, r.UsedAt = relative(l, k.LastUsedAt, now), formatTime(k.LastUsedAt, time.UTC)
	}
	return r
}
