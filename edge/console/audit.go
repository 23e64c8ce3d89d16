package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"relay/events"
)

var (
	auditKinds = []string{"", events.EntityKey, events.EntityAccount, events.EntityAdmin, events.EntityNotification}
	auditTypes = []string{"",
		events.KeyCreated, events.KeyUpdated, events.KeyDeleted, events.KeyRestored, events.KeyActivated,
		events.AccountCreated, events.AccountUpdated, events.AccountDeleted,
		events.AdminCreated, events.AdminPasswordChanged,
		events.NotificationCreated, events.NotificationUpdated, events.NotificationDeleted,
	}
)

const maxEntityID = 128

type auditRowView struct {
	Time, TimeRel string
	Actor         string
	Type          string // text
	Kind          string // text
	EntityID      string
	RequestID     string
	Changes       []FieldChange
}

type auditView struct {
	page
	pager
	Kinds    []filterOption
	Types    []filterOption
	EntityID string
	Rows     []auditRowView
}

func (h *Handler) auditPage(c echo.Context) error {
	q := AuditQuery{
		EntityKind: oneOf(c.QueryParam("kind"), auditKinds), EntityID: searchParam(c, "id"),
		Type: oneOf(c.QueryParam("type"), auditTypes), Page: pageParam(c), PageSize: listPageSize,
	}
	if len(q.EntityID) > maxEntityID {
		q.EntityID = q.EntityID[:maxEntityID]
	}
	if q.EntityKind == "" {
		q.EntityID = "" // an id names an entity of one kind
	}
	res, err := h.backend.Audit(c.Request().Context(), q)
	if err != nil {
		return h.failed(c, err)
	}
	p, err := h.newPage(c, "audit.title", "audit")
	if err != nil {
		return err
	}
	l := p.L
	v := auditView{
		page: p, EntityID: q.EntityID,
		pager: newPager("/console/audit", url.Values{"kind": {q.EntityKind}, "id": {q.EntityID}, "type": {q.Type}}, q.Page, res.Total, len(res.Items)),
		Kinds: options(auditKinds, q.EntityKind, func(s string) string {
			if s == "" {
				return "audit.kind.all"
			}
			return "audit.kind." + s
		}),
		Types: options(auditTypes, q.Type, func(s string) string {
			if s == "" {
				return "audit.type.all"
			}
			return "event." + s
		}),
	}
	now := h.cfg.Now()
	for _, e := range res.Items {
		v.Rows = append(v.Rows, auditRowView{
			Time: formatTime(e.Time, time.UTC), TimeRel: relative(l, e.Time, now),
			Actor: e.Actor, Type: translated(l, "event.", e.Type), Kind: translated(l, "audit.kind.", e.EntityKind),
			EntityID: e.EntityID, RequestID: e.RequestID, Changes: e.Changes,
		})
	}
	return h.render(c, http.StatusOK, "audit", v)
}
