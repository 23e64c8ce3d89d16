package adminapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/httpx"
)

// API key administration: the handlers decode, call the admin action and
// encode its answer.

func (s *API) ListKeys(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	keys, total, err := s.act.ListKeys(c.Request().Context(), q.list())
	if err != nil {
		return err
	}
	items := make([]keyJSON, len(keys))
	for i, k := range keys {
		items[i] = newKeyJSON(k)
	}
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

func (s *API) GetKey(c echo.Context) error {
	k, err := s.act.Key(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return answerKey(c, http.StatusOK, k, "")
}

func (s *API) CreateKey(c echo.Context) error {
	var in admin.KeyInput
	if err := readInput(c, keyFields, &in); err != nil {
		return err
	}
	k, secret, err := s.act.CreateKey(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	return answerKey(c, http.StatusCreated, k, secret)
}

func (s *API) UpdateKey(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	var in admin.KeyInput
	if err := readInput(c, keyFields, &in); err != nil {
		return err
	}
	k, err := s.act.UpdateKey(c.Request().Context(), actor(c), c.Param("id"), expect, in)
	if err != nil {
		return err
	}
	return answerKey(c, http.StatusOK, k, "")
}

func (s *API) DeleteKey(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	k, err := s.act.DeleteKey(c.Request().Context(), actor(c), c.Param("id"), expect)
	if err != nil {
		return err
	}
	return answerKey(c, http.StatusOK, k, "")
}

func (s *API) RestoreKey(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	k, err := s.act.RestoreKey(c.Request().Context(), actor(c), c.Param("id"), expect)
	if err != nil {
		return err
	}
	return answerKey(c, http.StatusOK, k, "")
}

// answerKey answers with key k, and its secret in the answer that created
// it.
func answerKey(c echo.Context, status int, k admin.KeyItem, secret string) error {
	out := newKeyJSON(k)
	out.Key = secret
	setETag(c, k.Seq)
	return httpx.OK(c, status, out)
}
