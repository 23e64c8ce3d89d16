package adminapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/edge/secrets"
	"relay/events"
	"relay/projections"
	"relay/store"
)

// API key administration. Every write is an event on the key's subject,
// published expecting the key's current version, and answered with the key
// as projected into Redis once the projection and this edge's catalog hold
// it. Reads come from the Redis read model.

func (s *API) ListKeys(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	views, total, err := s.store.ListKeys(c.Request().Context(), store.ListQuery{
		Offset: q.offset(), Limit: q.PageSize, Search: q.Search, IncludeDeleted: q.IncludeDeleted,
	})
	if err != nil {
		return err
	}
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	used, err := s.store.LastUsed(c.Request().Context(), projections.DimKey, ids)
	if err != nil {
		return err
	}
	items := make([]keyJSON, len(views))
	for i, v := range views {
		items[i] = newKeyJSON(v, used[v.ID])
	}
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

func (s *API) GetKey(c echo.Context) error {
	v, err := s.loadKey(c)
	if err != nil {
		return err
	}
	return s.answerKey(c, http.StatusOK, v, "")
}

func (s *API) CreateKey(c echo.Context) error {
	k := newKeyDefaults()
	sent, err := readFields(c, keyFields, &k)
	if err != nil {
		return err
	}
	if !sent["name"] {
		return fault.InvalidField("name", "name is required")
	}
	now := time.Now()
	if _, err := checkKey(&k, sent, false, now); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.checkDedicated(ctx, k, sent); err != nil {
		return err
	}
	secret, err := secrets.NewAPIKey()
	if err != nil {
		return err
	}
	k.ID, k.KeyHash = events.NewID(now), secrets.HashKey(secret)
	env, err := events.New(events.KeyCreated, now, currentAdmin(c).Username, httpx.RequestID(c), k)
	if err != nil {
		return err
	}
	none := uint64(0)
	if _, err := s.writeConfig(ctx, events.KeySubject(k.ID), env, &none); err != nil {
		return err
	}
	v, err := s.store.Key(ctx, k.ID)
	if err != nil {
		return err
	}
	return s.answerKey(c, http.StatusCreated, v, secret)
}

func (s *API) UpdateKey(c echo.Context) error {
	old, err := s.loadKey(c)
	if err != nil {
		return err
	}
	if old.IsDeleted {
		return fault.New(fault.Conflict, "the key is deleted; restore it before changing it")
	}
	expect, err := expectedVersion(c, old.Seq)
	if err != nil {
		return err
	}
	k := old.Key
	sent, err := readFields(c, keyFields, &k)
	if err != nil {
		return err
	}
	if len(sent) == 0 {
		if expect != old.Seq {
			return fault.New(fault.Conflict, "the key was changed by someone else since it was read; read it again and retry")
		}
		return s.answerKey(c, http.StatusOK, old, "")
	}
	implied, err := checkKey(&k, sent, old.IsActivated, time.Now())
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.checkDedicated(ctx, k, sent); err != nil {
		return err
	}
	changes, err := wireChanges(k, keyFields, sent, implied...)
	if err != nil {
		return err
	}
	return s.writeKey(c, old.ID, events.KeyUpdated, events.KeyUpdatedData{ID: old.ID, Changes: changes}, expect)
}

func (s *API) DeleteKey(c echo.Context) error {
	old, err := s.loadKey(c)
	if err != nil {
		return err
	}
	if old.IsDeleted {
		return fault.New(fault.Conflict, "the key is already deleted")
	}
	expect, err := expectedVersion(c, old.Seq)
	if err != nil {
		return err
	}
	return s.writeKey(c, old.ID, events.KeyDeleted, events.KeyDeletedData{ID: old.ID}, expect)
}

func (s *API) RestoreKey(c echo.Context) error {
	old, err := s.loadKey(c)
	if err != nil {
		return err
	}
	if !old.IsDeleted {
		return fault.New(fault.Conflict, "the key is not deleted")
	}
	expect, err := expectedVersion(c, old.Seq)
	if err != nil {
		return err
	}
	return s.writeKey(c, old.ID, events.KeyRestored, events.KeyRestoredData{ID: old.ID}, expect)
}

// writeKey publishes one event about key id expecting version expect and
// answers with the key as projected after it.
func (s *API) writeKey(c echo.Context, id, typ string, payload any, expect uint64) error {
	env, err := events.New(typ, time.Now(), currentAdmin(c).Username, httpx.RequestID(c), payload)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.writeConfig(ctx, events.KeySubject(id), env, &expect); err != nil {
		return err
	}
	v, err := s.store.Key(ctx, id)
	if err != nil {
		return err
	}
	return s.answerKey(c, http.StatusOK, v, "")
}

// loadKey reads the key named by the :id parameter from the read model.
func (s *API) loadKey(c echo.Context) (projections.KeyView, error) {
	id := c.Param("id")
	if !events.ValidToken(id) {
		return projections.KeyView{}, fault.New(fault.NotFound, "key not found")
	}
	v, err := s.store.Key(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !v.Exists()) {
		return v, fault.New(fault.NotFound, "key not found")
	}
	return v, err
}

func (s *API) answerKey(c echo.Context, status int, v projections.KeyView, secret string) error {
	used, err := s.store.LastUsed(c.Request().Context(), projections.DimKey, []string{v.ID})
	if err != nil {
		return err
	}
	out := newKeyJSON(v, used[v.ID])
	out.Key = secret
	setETag(c, v.Seq)
	return httpx.OK(c, status, out)
}

// checkDedicated checks that the dedicated accounts sent exist, are not
// deleted and belong to the platform of their field.
func (s *API) checkDedicated(ctx context.Context, k events.Key, sent map[string]bool) error {
	for _, ref := range []struct{ field, id, platform string }{
		{"claudeConsoleAccountId", k.ClaudeConsoleAccountID, events.PlatformClaudeConsole},
		{"codexAccountId", k.CodexAccountID, events.PlatformCodex},
	} {
		if !sent[ref.field] || ref.id == "" {
			continue
		}
		a, err := s.store.Account(ctx, ref.id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !a.Exists()) {
			return fault.InvalidField(ref.field, ref.field+" names no existing account")
		}
		if err != nil {
			return err
		}
		if a.Platform != ref.platform {
			return fault.InvalidField(ref.field, ref.field+" must name a "+ref.platform+" account")
		}
	}
	return nil
}
