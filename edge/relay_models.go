package edge

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"relay/projections"
)

// models answers GET /api/v1/models from relay's own knowledge: the models
// the key can reach through the Claude accounts (their supportedModels, or
// every priced Claude model for accounts that accept all). It calls no
// upstream, so it records no usage.
func (s *Server) models(c echo.Context) error {
	k, err := s.authenticateKey(c, time.Now())
	if err != nil {
		return err
	}
	if p := k.Permissions; p != "" && p != "all" && p != platformClaude {
		return newError(KindForbidden, "this API key may not use the claude API")
	}
	set := map[string]bool{}
	anyModel := false
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, a := range cat.Accounts {
			if a.Platform != claudeMessages.accountPlatform || !a.Exists() || !a.IsActive {
				continue
			}
			if len(a.SupportedModels) == 0 {
				anyModel = true
			}
			for m := range a.SupportedModels {
				set[m] = true
			}
		}
	})
	if anyModel {
		for _, m := range s.prices.Current().Models() {
			if len(m) > 7 && m[:7] == "claude-" {
				set[m] = true
			}
		}
	}
	ids := make([]string, 0, len(set))
	for m := range set {
		if k.EnableModelRestriction && slices.Contains(k.RestrictedModels, m) {
			continue
		}
		ids = append(ids, m)
	}
	slices.Sort(ids)
	data := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		data = append(data, map[string]string{"id": id, "type": "model", "display_name": id, "created_at": "1970-01-01T00:00:00Z"})
	}
	resp := map[string]any{"data": data, "has_more": false, "first_id": nil, "last_id": nil}
	if len(ids) > 0 {
		resp["first_id"], resp["last_id"] = ids[0], ids[len(ids)-1]
	}
	return c.JSON(http.StatusOK, resp)
}
