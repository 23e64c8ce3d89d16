package console

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"relay/edge/admin"
	"relay/events"
)

// The channel form: every field of a channel. The URL (a credential for
// most services) and the secret are write-only: the form shows the URL's
// mask and whether a secret is set, and an empty input keeps what is
// stored.

// channelFields are the fields the form shows an error next to.
var channelFields = []string{"name", "type", "url", "secret", "events", "enabled", "cooldownSeconds"}

// channelFormValues are the form's inputs as typed or as loaded. URL and
// Secret are never loaded: they are only what was typed.
type channelFormValues struct {
	Name, Type, URL, Secret string
	ClearSecret             bool
	Events                  []string
	Enabled                 bool
	Cooldown                string
}

type channelFormView struct {
	page
	New            bool
	ID             string
	ChannelVersion uint64
	V              channelFormValues
	URLMask        string
	HasSecret      bool
	Deleted        bool
	Errors         map[string]string
	FormError      string // text
	Saved          string // catalogue key
	Delivery       string // the id of a test just queued
	Types          []filterOption
	Events         []filterOption
	Deliveries     []deliveryView
}

// Err returns the error text of field ("" when none).
func (v channelFormView) Err(field string) string { return v.Errors[field] }

func channelValues(it admin.ChannelItem) channelFormValues {
	return channelFormValues{Name: it.Name, Type: it.Type, Events: it.Events, Enabled: it.Enabled, Cooldown: strconv.Itoa(it.CooldownSeconds)}
}

// readChannelForm reads the posted form: its values as typed and as the
// admin action's input (URL and secret set only when typed), with the
// errors of what could not be read.
func readChannelForm(c echo.Context, l *Locale, create bool) (channelFormValues, admin.ChannelInput, map[string]string) {
	errs := map[string]string{}
	if err := c.Request().ParseForm(); err != nil {
		return channelFormValues{}, admin.ChannelInput{}, map[string]string{"": l.T("error.badRequest")}
	}
	v := channelFormValues{
		Name: formText(c, "name"), Type: formText(c, "type"), URL: strings.TrimSpace(formText(c, "url")), Secret: formText(c, "secret"),
		ClearSecret: c.FormValue("clearSecret") != "", Enabled: c.FormValue("enabled") != "",
		Cooldown: strings.TrimSpace(formText(c, "cooldownSeconds")),
	}
	for _, e := range c.Request().PostForm["events"] {
		if len(v.Events) < len(events.NotifyTypes) && !slices.Contains(v.Events, e) {
			v.Events = append(v.Events, e)
		}
	}
	in := admin.ChannelInput{
		Name: admin.Some(v.Name), Type: admin.Some(v.Type), Events: admin.Some(append([]string{}, v.Events...)),
		Enabled: admin.Some(v.Enabled),
	}
	if create || v.URL != "" {
		in.URL = admin.Some(v.URL)
	}
	switch {
	case v.Secret != "":
		in.Secret = admin.Some(v.Secret)
	case v.ClearSecret && !create:
		in.Secret = admin.Some("")
	}
	switch n, err := strconv.ParseInt(v.Cooldown, 10, 64); {
	case v.Cooldown == "" && create:
	case v.Cooldown == "":
		in.CooldownSeconds = admin.Some(int64(0)) // the default
	case err != nil:
		errs["cooldownSeconds"] = l.T("field.notWhole")
	default:
		in.CooldownSeconds = admin.Some(n)
	}
	return v, in, errs
}

// channelFormError moves the errors of fields the form does not show into
// one message above it.
func channelFormError(errs map[string]string) string {
	var rest []string
	for f, text := range errs {
		if !slices.Contains(channelFields, f) {
			if f != "" {
				text = f + ": " + text
			}
			rest = append(rest, text)
		}
	}
	sort.Strings(rest)
	return strings.Join(rest, " ")
}

func (h *Handler) showChannelForm(c echo.Context, status int, v channelFormView) error {
	p, err := h.newPage(c, "channelForm.title", "channels")
	if err != nil {
		return err
	}
	v.page = p
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	v.V.Secret = "" // never sent back to the browser
	v.Types = options(events.ChannelTypes, v.V.Type, func(s string) string { return "channelType." + s })
	v.Events = nil
	for _, e := range events.NotifyTypes {
		v.Events = append(v.Events, filterOption{Value: e, Label: "notify." + e, Selected: slices.Contains(v.V.Events, e)})
	}
	if !v.New {
		recs, err := h.cfg.Channels.Deliveries(c.Request().Context(), v.ID, channelDeliveries)
		if err != nil && !isNotFound(err) {
			return h.failed(c, err)
		}
		now := h.cfg.Now()
		for _, r := range recs {
			v.Deliveries = append(v.Deliveries, deliveryRow(p.L, r, now))
		}
	}
	return h.render(c, status, "channelform", v)
}

func (h *Handler) channelNewPage(c echo.Context) error {
	if h.cfg.Channels == nil {
		return h.notFound(c)
	}
	return h.showChannelForm(c, http.StatusOK, channelFormView{New: true, V: channelFormValues{Type: events.ChannelWebhook, Enabled: true, Events: events.NotifyTypes}})
}

func (h *Handler) channelCreate(c echo.Context) error {
	if h.cfg.Channels == nil {
		return h.notFound(c)
	}
	l := h.locale(c)
	vals, in, errs := readChannelForm(c, l, true)
	if len(errs) == 0 {
		created, err := h.cfg.Channels.CreateChannel(c.Request().Context(), h.actor(c), in)
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/console/channels/"+url.PathEscape(created.ID)+"?done=created")
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	return h.showChannelForm(c, http.StatusBadRequest, channelFormView{New: true, V: vals, Errors: errs, FormError: channelFormError(errs)})
}

var channelDone = []string{"created", "saved", "enable", "disable", "test"}

func (h *Handler) channelEditPage(c echo.Context) error {
	if h.cfg.Channels == nil {
		return h.notFound(c)
	}
	it, err := h.cfg.Channels.Channel(c.Request().Context(), c.Param("id"))
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	v := channelFormView{ID: it.ID, ChannelVersion: it.Version, V: channelValues(it), URLMask: it.URL, HasSecret: it.HasSecret, Deleted: it.IsDeleted}
	if s := c.QueryParam("done"); slices.Contains(channelDone, s) {
		v.Saved = "channelForm.done." + s
		if s == "test" {
			v.Delivery = c.QueryParam("delivery")
			if !events.ValidToken(v.Delivery) {
				v.Delivery = ""
			}
		}
	}
	return h.showChannelForm(c, http.StatusOK, v)
}

func (h *Handler) channelUpdate(c echo.Context) error {
	if h.cfg.Channels == nil {
		return h.notFound(c)
	}
	l := h.locale(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	it, err := h.cfg.Channels.Channel(ctx, id)
	if isNotFound(err) {
		return h.notFound(c)
	}
	if err != nil {
		return h.failed(c, err)
	}
	version, _ := strconv.ParseUint(c.FormValue("version"), 10, 64)
	vals, in, errs := readChannelForm(c, l, false)
	view := channelFormView{ID: id, ChannelVersion: version, V: vals, URLMask: it.URL, HasSecret: it.HasSecret, Deleted: it.IsDeleted}
	if len(errs) == 0 {
		var expect *uint64
		if version != 0 {
			expect = &version
		}
		_, err := h.cfg.Channels.UpdateChannel(ctx, h.actor(c), id, expect, in)
		switch {
		case err == nil:
			return c.Redirect(http.StatusSeeOther, "/console/channels/"+url.PathEscape(id)+"?done=saved")
		case isNotFound(err):
			return h.notFound(c)
		case isConflict(err):
			view.FormError = l.T("channelForm.conflict")
			view.ChannelVersion = it.Version
			return h.showChannelForm(c, http.StatusConflict, view)
		}
		var ok bool
		if errs, ok = fieldErrors(l, err); !ok {
			return h.failed(c, err)
		}
	}
	view.Errors, view.FormError = errs, channelFormError(errs)
	return h.showChannelForm(c, http.StatusBadRequest, view)
}
