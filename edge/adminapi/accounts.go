package adminapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/httpx"
)

// Upstream account administration, per platform: the handlers decode, call
// the admin action and encode its answer.

func (s *API) ListAccounts(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	accounts, total, err := s.act.ListAccounts(c.Request().Context(), c.Param("platform"), q.list())
	if err != nil {
		return err
	}
	now := time.Now()
	items := make([]accountJSON, len(accounts))
	for i, a := range accounts {
		items[i] = newAccountJSON(a, now)
	}
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

func (s *API) GetAccount(c echo.Context) error {
	return answerAccount(c, http.StatusOK)(s.act.Account(c.Request().Context(), c.Param("platform"), c.Param("id")))
}

func (s *API) CreateAccount(c echo.Context) error {
	if err := admin.CheckPlatform(c.Param("platform")); err != nil {
		return err
	}
	var in admin.AccountInput
	if err := readInput(c, accountFields, &in); err != nil {
		return err
	}
	return answerAccount(c, http.StatusCreated)(s.act.CreateAccount(c.Request().Context(), actor(c), c.Param("platform"), in))
}

func (s *API) UpdateAccount(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	var in admin.AccountInput
	if err := readInput(c, accountFields, &in); err != nil {
		return err
	}
	return answerAccount(c, http.StatusOK)(s.act.UpdateAccount(c.Request().Context(), actor(c), c.Param("platform"), c.Param("id"), expect, in))
}

func (s *API) DeleteAccount(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	return answerAccount(c, http.StatusOK)(s.act.DeleteAccount(c.Request().Context(), actor(c), c.Param("platform"), c.Param("id"), expect))
}

func (s *API) ToggleSchedulable(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	return answerAccount(c, http.StatusOK)(s.act.ToggleSchedulable(c.Request().Context(), actor(c), c.Param("platform"), c.Param("id"), expect))
}

// ResetRateLimit ends every health state of the account at once.
func (s *API) ResetRateLimit(c echo.Context) error {
	return answerAccount(c, http.StatusOK)(s.act.ResetRateLimit(c.Request().Context(), actor(c), c.Param("platform"), c.Param("id")))
}

// answerAccount returns the answer to an action's account: the account
// with its version as the ETag, or the action's error.
func answerAccount(c echo.Context, status int) func(admin.AccountItem, error) error {
	return func(a admin.AccountItem, err error) error {
		if err != nil {
			return err
		}
		setETag(c, a.Seq)
		return httpx.OK(c, status, newAccountJSON(a, time.Now()))
	}
}

// availabilityJSON says whether the scheduler may pick the account now, and
// every reason it may not.
type availabilityJSON struct {
	Available bool     `json:"available"`
	Reasons   []string `json:"reasons"`
	// InFlight is the number of requests holding a lease on the account.
	InFlight int `json:"inFlight"`
}

// AccountAvailability names every reason the account cannot be scheduled
// now.
func (s *API) AccountAvailability(c echo.Context) error {
	av, err := s.act.AccountAvailability(c.Request().Context(), c.Param("platform"), c.Param("id"))
	if err != nil {
		return err
	}
	reasons := make([]string, len(av.Reasons))
	for i, why := range av.Reasons {
		reasons[i] = av.Text(why)
	}
	setETag(c, av.Account.Seq)
	return httpx.OK(c, http.StatusOK, availabilityJSON{Available: len(reasons) == 0, Reasons: reasons, InFlight: av.Load.InFlight})
}
