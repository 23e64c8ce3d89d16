package adminapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
)

// The audit log (admin.Service.Audit holds the filters, the paging and the
// redaction of secrets): this reads the query and writes the JSON.

// The filter values the OpenAPI document lists.
var (
	configEventTypes = admin.AuditTypes()
	auditKinds       = admin.AuditEntityKinds()
)

// auditEntry is one configuration event as the audit log shows it.
type auditEntry struct {
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestId,omitempty"`
	Entity    auditEntity     `json:"entity"`
	Data      json.RawMessage `json:"data"`
}

type auditEntity struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (s *API) ListAudit(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	if q.Search != "" || c.QueryParam("includeDeleted") != "" {
		return fault.New(fault.Invalid, "the audit log filters by entity and type, not by search or includeDeleted")
	}
	page, err := s.act.Audit(c.Request().Context(), admin.AuditQuery{
		Entity: c.QueryParam("entity"), Type: c.QueryParam("type"), Offset: q.offset(), Limit: q.PageSize,
	})
	if err != nil {
		return err
	}
	items := make([]auditEntry, 0, len(page.Entries))
	for _, e := range page.Entries {
		items = append(items, auditEntry{
			Seq: e.Seq, ID: e.ID, Type: e.Type, Time: e.Time, Actor: e.Actor, RequestID: e.RequestID,
			Entity: auditEntity{Kind: e.EntityKind, ID: e.EntityID}, Data: e.Data,
		})
	}
	return httpx.OK(c, http.StatusOK, listData(items, page.Total, q))
}
