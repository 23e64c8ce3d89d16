package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
	"relay/events/streams"
	"relay/projections"
	"relay/projections/pricing"
	"relay/store"
)

// Upstream account administration, per platform. Writes are events on the
// account's CONFIG subject, published expecting the account's current
// version; reset-rate-limit is an event on its STATE subject. Answers are the
// account as projected into Redis, with its status derived from the health
// state this edge's catalog holds.

// platformParam returns the :platform parameter, 404 for an unknown one.
func platformParam(c echo.Context) (string, error) {
	p := c.Param("platform")
	if !slices.Contains(accountPlatforms, p) {
		return "", fault.New(fault.NotFound, "unknown platform: use claude-console or codex")
	}
	return p, nil
}

func (s *API) ListAccounts(c echo.Context) error {
	platform, err := platformParam(c)
	if err != nil {
		return err
	}
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	views, total, err := s.store.ListAccounts(c.Request().Context(), platform, store.ListQuery{
		Offset: q.offset(), Limit: q.PageSize, Search: q.Search, IncludeDeleted: q.IncludeDeleted,
	})
	if err != nil {
		return err
	}
	now := time.Now()
	usage, err := s.accountUsage(c.Request().Context(), views, now)
	if err != nil {
		return err
	}
	items := make([]accountJSON, len(views))
	s.catalog.Read(func(cat *projections.Catalog) {
		for i, v := range views {
			items[i] = newAccountJSON(v, cat.States[v.ID], usage[v.ID], now)
		}
	})
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

func (s *API) GetAccount(c echo.Context) error {
	v, err := s.loadAccount(c)
	if err != nil {
		return err
	}
	return s.answerAccount(c, http.StatusOK, v)
}

func (s *API) CreateAccount(c echo.Context) error {
	platform, err := platformParam(c)
	if err != nil {
		return err
	}
	d := accountDraft{Account: newAccountDefaults(platform), box: s.box}
	sent, err := readFields(c, accountFields, &d)
	if err != nil {
		return err
	}
	for _, f := range requiredAccountFields {
		if !sent[f] {
			return fault.InvalidField(f, f+" is required")
		}
	}
	now := time.Now()
	d.ID = events.NewID(now)
	env, err := events.New(events.AccountCreated, now, currentAdmin(c).Username, httpx.RequestID(c), d.Account)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	none := uint64(0)
	if _, err := s.writeConfig(ctx, events.AccountSubject(d.ID), env, &none); err != nil {
		return err
	}
	v, err := s.store.Account(ctx, d.ID)
	if err != nil {
		return err
	}
	return s.answerAccount(c, http.StatusCreated, v)
}

func (s *API) UpdateAccount(c echo.Context) error {
	old, expect, err := s.loadLiveAccount(c)
	if err != nil {
		return err
	}
	d := accountDraft{Account: old.Account, box: s.box}
	sent, err := readFields(c, accountFields, &d)
	if err != nil {
		return err
	}
	if len(sent) == 0 {
		if expect != old.Seq {
			return fault.New(fault.Conflict, "the account was changed by someone else since it was read; read it again and retry")
		}
		return s.answerAccount(c, http.StatusOK, old)
	}
	changes, err := accountChanges(d.Account, sent)
	if err != nil {
		return err
	}
	return s.writeAccount(c, old.ID, events.AccountUpdated, events.AccountUpdatedData{ID: old.ID, Changes: changes}, expect)
}

func (s *API) DeleteAccount(c echo.Context) error {
	old, expect, err := s.loadLiveAccount(c)
	if err != nil {
		return err
	}
	if bound := s.keysBoundTo(old.ID); len(bound) > 0 {
		// Its keys would be refused at every request (a dedicated key never
		// falls back to the shared pool): the admin decides about them first.
		shown := bound[:min(len(bound), 5)]
		more := ""
		if len(bound) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(bound)-len(shown))
		}
		return fault.New(fault.Conflict, fmt.Sprintf("the account is the dedicated account of %d API key(s): %s%s; bind them elsewhere or delete them first",
			len(bound), strings.Join(shown, ", "), more))
	}
	return s.writeAccount(c, old.ID, events.AccountDeleted, events.AccountDeletedData{ID: old.ID}, expect)
}

func (s *API) ToggleSchedulable(c echo.Context) error {
	old, expect, err := s.loadLiveAccount(c)
	if err != nil {
		return err
	}
	changes, err := wireChanges(events.Account{Schedulable: !old.Schedulable}, accountFields, map[string]bool{"schedulable": true})
	if err != nil {
		return err
	}
	return s.writeAccount(c, old.ID, events.AccountUpdated, events.AccountUpdatedData{ID: old.ID, Changes: changes}, expect)
}

// ResetRateLimit ends every health state of the account at once: an event
// on STATE, answered when both this edge's catalog and the state projection
// hold it.
func (s *API) ResetRateLimit(c echo.Context) error {
	old, _, err := s.loadLiveAccount(c)
	if err != nil {
		return err
	}
	env, err := events.New(events.AccountStateCleared, time.Now(), currentAdmin(c).Username, httpx.RequestID(c),
		events.AccountStateClearedData{AccountID: old.ID})
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	seq, err := streams.Publish(ctx, s.js, events.AccountStateSubject(old.ID), env, nil)
	if err != nil {
		return err
	}
	s.published(env.Type)
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteWait)
	defer cancel()
	if err := s.catalog.WaitState(wctx, seq); err != nil {
		return fault.New(fault.Overloaded, "the reset was recorded but is not visible yet; read the account again shortly")
	}
	if err := s.store.WaitCheckpoint(wctx, store.ProjectionState, seq); err != nil {
		return fault.New(fault.Overloaded, "the reset was recorded but is not visible yet; read the account again shortly")
	}
	return s.answerAccount(c, http.StatusOK, old)
}

// writeAccount publishes one event about account id expecting version
// expect and answers with the account as projected after it.
func (s *API) writeAccount(c echo.Context, id, typ string, payload any, expect uint64) error {
	env, err := events.New(typ, time.Now(), currentAdmin(c).Username, httpx.RequestID(c), payload)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.writeConfig(ctx, events.AccountSubject(id), env, &expect); err != nil {
		return err
	}
	v, err := s.store.Account(ctx, id)
	if err != nil {
		return err
	}
	return s.answerAccount(c, http.StatusOK, v)
}

// loadAccount reads the account named by :platform and :id from the read
// model; an account of another platform is not found.
func (s *API) loadAccount(c echo.Context) (projections.AccountView, error) {
	platform, err := platformParam(c)
	if err != nil {
		return projections.AccountView{}, err
	}
	id := c.Param("id")
	if !events.ValidToken(id) {
		return projections.AccountView{}, fault.New(fault.NotFound, "account not found")
	}
	v, err := s.store.Account(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (v.CreatedSeq == 0 || v.Platform != platform)) {
		return v, fault.New(fault.NotFound, "account not found")
	}
	return v, err
}

// loadLiveAccount is loadAccount for writes: a deleted account cannot
// change, and the version to expect is read along.
func (s *API) loadLiveAccount(c echo.Context) (projections.AccountView, uint64, error) {
	v, err := s.loadAccount(c)
	if err != nil {
		return v, 0, err
	}
	if v.IsDeleted {
		return v, 0, fault.New(fault.Conflict, "the account is deleted")
	}
	expect, err := expectedVersion(c, v.Seq)
	return v, expect, err
}

func (s *API) answerAccount(c echo.Context, status int, v projections.AccountView) error {
	now := time.Now()
	usage, err := s.accountUsage(c.Request().Context(), []projections.AccountView{v}, now)
	if err != nil {
		return err
	}
	var st projections.AccountStateView
	s.catalog.Read(func(cat *projections.Catalog) { st = cat.States[v.ID] })
	setETag(c, v.Seq)
	return httpx.OK(c, status, newAccountJSON(v, st, usage[v.ID], now))
}

// accountUsage reads the last use of each account and, for those with a
// daily quota, their spend in the current quota day, counted the way the
// scheduler counts it (quotaDayStart in the edge's time zone).
func (s *API) accountUsage(ctx context.Context, views []projections.AccountView, now time.Time) (map[string]accountUsage, error) {
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	used, err := s.store.LastUsed(ctx, projections.DimAccount, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]accountUsage, len(views))
	for _, v := range views {
		u := accountUsage{lastUsed: used[v.ID]}
		if v.DailyQuotaMicros > 0 {
			u.quotaDay = projections.QuotaDayStart(v.QuotaResetTime, now.In(s.cfg.Location))
			if u.spentNanos, err = s.store.AccountSpendSince(ctx, v.ID, u.quotaDay, now); err != nil {
				return nil, err
			}
		}
		out[v.ID] = u
	}
	return out, nil
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
// now, from its configuration, its health in this edge's catalog, its spend
// today (usage statistics) and its concurrency leases in Redis.
func (s *API) AccountAvailability(c echo.Context) error {
	v, err := s.loadAccount(c)
	if err != nil {
		return err
	}
	now := time.Now()
	var st projections.AccountStateView
	s.catalog.Read(func(cat *projections.Catalog) { st = cat.States[v.ID] })
	ctx := c.Request().Context()
	usage, err := s.accountUsage(ctx, []projections.AccountView{v}, now)
	if err != nil {
		return err
	}
	inFlight, err := s.store.AccountInFlight(ctx, now, v.ID)
	if err != nil {
		return err
	}
	u := usage[v.ID]
	load := projections.AccountLoad{QuotaDay: u.quotaDay, SpentNanos: u.spentNanos, InFlight: inFlight[v.ID]}
	reasons := []string{}
	for _, why := range projections.Unavailability(v, st, "", &load, now) {
		reasons = append(reasons, availabilityText(why, v, load))
	}
	setETag(c, v.Seq)
	return httpx.OK(c, http.StatusOK, availabilityJSON{Available: len(reasons) == 0, Reasons: reasons, InFlight: inFlight[v.ID]})
}

// availabilityText words a reason the account v, under load, cannot take
// a request.
func availabilityText(why projections.Unavailable, v projections.AccountView, load projections.AccountLoad) string {
	switch why.Reason {
	case projections.ReasonQuota:
		return fmt.Sprintf("over daily quota (spent $%.2f of $%.2f since %s)",
			pricing.NanosToUSD(load.SpentNanos), usdFromMicros(v.DailyQuotaMicros), load.QuotaDay.UTC().Format(time.RFC3339))
	case projections.ReasonBusy:
		return fmt.Sprintf("at max concurrency (%d of %d requests in flight)", load.InFlight, v.MaxConcurrency)
	case projections.ReasonDeleted, projections.ReasonInactive, projections.ReasonUnschedulable:
		return why.Reason
	}
	// A health state.
	until := " until " + why.Until.UTC().Format(time.RFC3339)
	switch why.Reason {
	case events.StateRateLimited:
		return "rate limited" + until
	case events.StateError:
		return "unavailable after errors" + until
	}
	return why.Reason + until // overloaded, unauthorized
}

// keysBoundTo lists the ids of the live keys that have account id as their
// dedicated account, sorted.
func (s *API) keysBoundTo(id string) []string {
	var bound []string
	s.catalog.Read(func(cat *projections.Catalog) {
		for _, k := range cat.Keys {
			if !k.IsDeleted && (k.ClaudeConsoleAccountID == id || k.CodexAccountID == id) {
				bound = append(bound, k.ID)
			}
		}
	})
	slices.Sort(bound)
	return bound
}
