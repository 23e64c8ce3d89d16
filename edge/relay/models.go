package relay

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/projections"
	"relay/projections/pricing"
)

// Models answers GET /api/v1/models from relay's own knowledge: the models
// the key can reach through the Claude accounts (their supportedModels, or
// every priced Claude model for accounts that accept all). It calls no
// upstream, so it records no usage.
func (s *Relay) Models(c echo.Context) error {
	ids, err := s.reachableModels(c, ClaudeMessages, func(m string, _ pricing.Price) bool {
		return strings.HasPrefix(m, "claude-")
	})
	if err != nil {
		return err
	}
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

// openaiModel is one entry of OpenAI's model list.
type openaiModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// OpenAIModels answers GET /openai/models (and /openai/v1/models) in
// OpenAI's list shape: the models the key can reach through the Codex
// accounts (their supportedModels, or every priced OpenAI model for accounts
// that accept all), less the key's restricted models. Like models, it calls
// no upstream and records no usage.
func (s *Relay) OpenAIModels(c echo.Context) error {
	ids, err := s.reachableModels(c, CodexResponses, func(_ string, p pricing.Price) bool {
		return p.CachedIncludedInInput // the OpenAI dialect's prices
	})
	if err != nil {
		return err
	}
	data := make([]openaiModel, 0, len(ids))
	for _, id := range ids {
		data = append(data, openaiModel{ID: id, Object: "model", Created: 0, OwnedBy: "relay"})
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": data})
}

// reachableModels authenticates the key and returns, sorted, the models it
// may use on the route's accounts: the dedicated account's if the key is
// bound to one, else every active account's of the platform. An account
// that accepts any model contributes the priced models that priced accepts.
func (s *Relay) reachableModels(c echo.Context, rt Route, priced func(string, pricing.Price) bool) ([]string, error) {
	k, err := s.authenticateKey(c, time.Now())
	if err != nil {
		return nil, err
	}
	if p := k.Permissions; p != "" && p != "all" && p != rt.platform {
		return nil, fault.New(fault.Forbidden, "this API key may not use the "+rt.platform+" API")
	}
	dedicated := rt.dedicatedAccount(k.Key)
	set := map[string]bool{}
	anyModel := false
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, a := range cat.Accounts {
			if a.Platform != rt.accountPlatform || !a.Exists() || !a.IsActive {
				continue
			}
			if dedicated != "" && a.ID != dedicated {
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
		t := s.prices.Current()
		for _, m := range t.Models() {
			if p, ok := t.Price(m); ok && priced(m, p) {
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
	return ids, nil
}
