package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/projections"
)

// Notification channel administration (DESIGN.md section 9): the handlers
// decode, call the admin action and encode its answer. The URL is shown
// only as its mask and the secret never (hasSecret says whether one is
// set): both are write-only.

// channelJSON is a channel as the admin API shows it: what an admin may
// see of it (the URL as its mask, whether a secret is set) and its version.
type channelJSON struct {
	projections.ChannelPublic
	// Version is the ETag: send it back in If-Match to update safely.
	Version uint64 `json:"version"`
}

func newChannelJSON(c admin.ChannelItem) channelJSON {
	out := channelJSON{ChannelPublic: c.ChannelPublic, Version: c.Version}
	out.Events = nonNilStrings(out.Events)
	return out
}

// deliveryJSON is one attempt of the delivery log.
type deliveryJSON struct {
	// ID is the delivery id (X-Relay-Delivery), the same on every attempt.
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Time       time.Time `json:"time"`
	Attempt    int       `json:"attempt"`
	StatusCode int       `json:"statusCode"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error"`
	DurationMs int64     `json:"durationMs"`
}

// channelFields decode the writable fields of a channel. secret null reads
// as "" (remove the secret).
var channelFields = []fieldDecoder[admin.ChannelInput]{
	textField("name", false, func(in *admin.ChannelInput) *admin.Opt[string] { return &in.Name }),
	textField("type", false, func(in *admin.ChannelInput) *admin.Opt[string] { return &in.Type }),
	textField("url", false, func(in *admin.ChannelInput) *admin.Opt[string] { return &in.URL }),
	textField("secret", true, func(in *admin.ChannelInput) *admin.Opt[string] { return &in.Secret }),
	listField("events", func(in *admin.ChannelInput) *admin.Opt[[]string] { return &in.Events }),
	boolField("enabled", func(in *admin.ChannelInput) *admin.Opt[bool] { return &in.Enabled }),
	intField("cooldownSeconds", func(in *admin.ChannelInput) *admin.Opt[int64] { return &in.CooldownSeconds }),
}

func (s *API) ListChannels(c echo.Context) error {
	q, err := parsePage(c)
	if err != nil {
		return err
	}
	chans, total, err := s.act.ListChannels(c.Request().Context(), q.list())
	if err != nil {
		return err
	}
	items := make([]channelJSON, len(chans))
	for i, ch := range chans {
		items[i] = newChannelJSON(ch)
	}
	return httpx.OK(c, http.StatusOK, listData(items, total, q))
}

func (s *API) GetChannel(c echo.Context) error {
	ch, err := s.act.Channel(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return answerChannel(c, http.StatusOK, ch)
}

func (s *API) CreateChannel(c echo.Context) error {
	var in admin.ChannelInput
	if err := readInput(c, channelFields, &in); err != nil {
		return err
	}
	ch, err := s.act.CreateChannel(c.Request().Context(), actor(c), in)
	if err != nil {
		return err
	}
	return answerChannel(c, http.StatusCreated, ch)
}

func (s *API) UpdateChannel(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	var in admin.ChannelInput
	if err := readInput(c, channelFields, &in); err != nil {
		return err
	}
	ch, err := s.act.UpdateChannel(c.Request().Context(), actor(c), c.Param("id"), expect, in)
	if err != nil {
		return err
	}
	return answerChannel(c, http.StatusOK, ch)
}

func (s *API) DeleteChannel(c echo.Context) error {
	expect, err := ifMatch(c)
	if err != nil {
		return err
	}
	ch, err := s.act.DeleteChannel(c.Request().Context(), actor(c), c.Param("id"), expect)
	if err != nil {
		return err
	}
	return answerChannel(c, http.StatusOK, ch)
}

// TestChannel queues a test message and answers 202 with its delivery id;
// the outcome shows in the channel's deliveries.
func (s *API) TestChannel(c echo.Context) error {
	id, err := s.act.TestChannel(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return err
	}
	return httpx.OK(c, http.StatusAccepted, map[string]string{"deliveryId": id, "channelId": c.Param("id")})
}

// ChannelDeliveries answers the channel's newest delivery attempts, newest
// first: limit of them (default 50, at most 200).
func (s *API) ChannelDeliveries(c echo.Context) error {
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > admin.MaxDeliveries {
			return fault.InvalidField("limit", "limit must be an integer from 1 to "+strconv.Itoa(admin.MaxDeliveries))
		}
		limit = n
	}
	recs, err := s.act.Deliveries(c.Request().Context(), c.Param("id"), limit)
	if err != nil {
		return err
	}
	items := make([]deliveryJSON, len(recs))
	for i, r := range recs {
		items[i] = deliveryJSON{ID: r.ID, Type: r.Type, Time: r.Time, Attempt: r.Attempt, StatusCode: r.StatusCode,
			Outcome: r.Outcome, Error: r.Error, DurationMs: r.DurationMs}
	}
	return httpx.OK(c, http.StatusOK, map[string]any{"items": items})
}

// answerChannel answers with channel ch and its version as the ETag.
func answerChannel(c echo.Context, status int, ch admin.ChannelItem) error {
	setETag(c, ch.Version)
	return httpx.OK(c, status, newChannelJSON(ch))
}
