package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
)

// The notification channels page (DESIGN.md section 9): list the channels
// with their last delivery's outcome, create and edit them, enable,
// disable, delete, send a test, and read a channel's recent deliveries.
// The console calls the admin actions themselves through Channels; every
// rule about a channel (URL, secret, events, cooldown) is theirs, and
// their field errors are shown next to their field.

// Channels is what the channels page calls: *admin.Service has this method
// set, so relay passes it as it is.
type Channels interface {
	ListChannels(ctx context.Context, q admin.ListQuery) ([]admin.ChannelItem, int, error)
	Channel(ctx context.Context, id string) (admin.ChannelItem, error)
	CreateChannel(ctx context.Context, who admin.Actor, in admin.ChannelInput) (admin.ChannelItem, error)
	UpdateChannel(ctx context.Context, who admin.Actor, id string, expect *uint64, in admin.ChannelInput) (admin.ChannelItem, error)
	DeleteChannel(ctx context.Context, who admin.Actor, id string, expect *uint64) (admin.ChannelItem, error)
	TestChannel(ctx context.Context, who admin.Actor, id string) (string, error)
	Deliveries(ctx context.Context, id string, limit int) ([]admin.DeliveryRecord, error)
}

// *admin.Service is what relay passes: it has Channels' method set as it is.
var _ Channels = (*admin.Service)(nil)

// channelDeliveries is how many delivery records a channel's page shows.
const channelDeliveries = 50

func init() { pageNames = append(pageNames, "channels", "channelform") }

// mountChannels adds the channels routes to in (the signed-in group).
func (h *Handler) mountChannels(in *echo.Group) {
	in.GET("/channels", h.channelsPage)
	in.GET("/channels/new", h.channelNewPage)
	in.POST("/channels/new", h.channelCreate)
	in.GET("/channels/:id", h.channelEditPage)
	in.POST("/channels/:id", h.channelUpdate)
	in.POST("/channels/:id/action", h.channelAction)
}

type channelRowView struct {
	ID, Name, Type, URL string
	Events              []string // texts
	AllEvents           bool
	Enabled             bool
	Cooldown            string
	Last                *deliveryView
}

type deliveryView struct {
	ID, Type        string // Type: text
	Time, TimeFull  string
	Attempt         int
	Status          string
	Outcome, Class  string // text, CSS class
	Error, Duration string
}

type channelsView struct {
	page
	pager
	Search     string
	Configured bool
	Done       string // catalogue key
	Rows       []channelRowView
}

func (h *Handler) actor(c echo.Context) admin.Actor {
	m := h.meta(c)
	return admin.Actor{Username: m.Actor, RequestID: m.RequestID}
}

func (h *Handler) channelsPage(c echo.Context) error {
	p, err := h.newPage(c, "channels.title", "channels")
	if err != nil {
		return err
	}
	v := channelsView{page: p, Configured: h.cfg.Channels != nil}
	if c.QueryParam("done") == "delete" {
		v.Done = "channels.done.delete"
	}
	if h.cfg.Channels == nil {
		v.pager = newPager("/console/channels", nil, 1, 0, 0)
		return h.render(c, http.StatusOK, "channels", v)
	}
	ctx := c.Request().Context()
	v.Search = searchParam(c, "q")
	pageNo := pageParam(c)
	items, total, err := h.cfg.Channels.ListChannels(ctx, admin.ListQuery{Offset: (pageNo - 1) * listPageSize, Limit: listPageSize, Search: v.Search})
	if err != nil {
		return h.failed(c, err)
	}
	v.pager = newPager("/console/channels", url.Values{"q": {v.Search}}, pageNo, total, len(items))
	now := h.cfg.Now()
	for _, it := range items {
		r := channelRowView{
			ID: it.ID, Name: it.Name, Type: translated(p.L, "channelType.", it.Type), URL: it.URL,
			Enabled: it.Enabled, Cooldown: cooldownText(p.L, it.CooldownSeconds), AllEvents: len(it.Events) == 0,
		}
		for _, e := range it.Events {
			r.Events = append(r.Events, translated(p.L, "notify.", e))
		}
		last, err := h.cfg.Channels.Deliveries(ctx, it.ID, 1)
		if err != nil {
			return h.failed(c, err)
		}
		if len(last) > 0 {
			d := deliveryRow(p.L, last[0], now)
			r.Last = &d
		}
		v.Rows = append(v.Rows, r)
	}
	return h.render(c, http.StatusOK, "channels", v)
}

// cooldownText writes a cooldown in the largest whole unit.
func cooldownText(l *Locale, sec int) string {
	switch {
	case sec > 0 && sec%3600 == 0:
		return l.F("channels.hours", sec/3600)
	case sec > 0 && sec%60 == 0:
		return l.F("channels.minutes", sec/60)
	}
	return l.F("channels.seconds", sec)
}

func deliveryRow(l *Locale, r admin.DeliveryRecord, now time.Time) deliveryView {
	d := deliveryView{
		ID: r.ID, Type: translated(l, "notify.", r.Type), Time: relative(l, r.Time, now), TimeFull: formatTime(r.Time, time.UTC),
		Attempt: r.Attempt, Outcome: translated(l, "delivery.", r.Outcome), Error: r.Error,
		Duration: strconv.FormatInt(r.DurationMs, 10) + " ms",
	}
	if r.StatusCode != 0 {
		d.Status = strconv.Itoa(r.StatusCode)
	}
	switch r.Outcome {
	case "delivered":
		d.Class = "state-active"
	case "retrying":
		d.Class = "state-rate"
	case "failed":
		d.Class = "state-error"
	default:
		d.Class = "state-deleted"
	}
	return d
}

// channelActions are what the actions form posts.
var channelActions = []string{"enable", "disable", "delete", "test"}

func (h *Handler) channelAction(c echo.Context) error {
	if h.cfg.Channels == nil {
		return h.notFound(c)
	}
	action := c.FormValue("action")
	if !slices.Contains(channelActions, action) {
		return h.errorPage(c, http.StatusBadRequest, "error.badRequest")
	}
	ctx := c.Request().Context()
	id := c.Param("id")
	back := "/console/channels/" + url.PathEscape(id)
	var err error
	switch action {
	case "test":
		var delivery string
		delivery, err = h.cfg.Channels.TestChannel(ctx, h.actor(c), id)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, back+"?done=test&delivery="+url.QueryEscape(delivery))
		}
		if _, limited := throttledFor(err); limited {
			return h.channelRefused(c, id, http.StatusTooManyRequests, "channelForm.testTooSoon")
		}
	case "delete":
		version, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
		var expect *uint64
		if version != 0 {
			expect = &version
		}
		_, err = h.cfg.Channels.DeleteChannel(ctx, h.actor(c), id, expect)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/console/channels?done=delete")
		}
	default:
		_, err = h.cfg.Channels.UpdateChannel(ctx, h.actor(c), id, nil, admin.ChannelInput{Enabled: admin.Some(action == "enable")})
	}
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, back+"?done="+action)
	case isNotFound(err):
		return h.notFound(c)
	case isConflict(err):
		return h.channelRefused(c, id, http.StatusConflict, "channelForm.stateConflict")
	}
	return h.failed(c, err)
}

// channelRefused shows the channel's page again with a refusal above it.
func (h *Handler) channelRefused(c echo.Context, id string, status int, message string) error {
	it, err := h.cfg.Channels.Channel(c.Request().Context(), id)
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	v := channelFormView{ID: it.ID, ChannelVersion: it.Version, V: channelValues(it), Deleted: it.IsDeleted, HasSecret: it.HasSecret, URLMask: it.URL}
	v.FormError = h.locale(c).T(message)
	return h.showChannelForm(c, status, v)
}
