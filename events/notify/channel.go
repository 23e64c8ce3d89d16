package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"relay/events"
)

// FieldError is one invalid field of a channel input. Field is the field's
// JSON name (name, type, url, secret, events, enabled, cooldownSeconds).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors are every invalid field of one input, in field order.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Error()
	}
	return "invalid channel: " + strings.Join(parts, "; ")
}

// Sealer seals a secret for storage (edge/secrets.Box does).
type Sealer interface {
	Seal(plaintext string) (string, error)
}

// Input is an admin's channel input: nil fields are absent (on update:
// unchanged). Secret "" on update removes the secret.
type Input struct {
	Name            *string   `json:"name"`
	Type            *string   `json:"type"`
	URL             *string   `json:"url"`
	Secret          *string   `json:"secret"`
	Events          *[]string `json:"events"`
	Enabled         *bool     `json:"enabled"`
	CooldownSeconds *int      `json:"cooldownSeconds"`
}

// Options shape validation.
type Options struct {
	// AllowPrivate accepts URLs naming loopback, link-local or private
	// addresses (NOTIFY_ALLOW_PRIVATE).
	AllowPrivate bool
}

// Limits of a channel's fields.
const (
	MaxNameLen     = 100
	MaxURLLen      = 2048
	MaxSecretLen   = 512
	MaxCooldownSec = 24 * 60 * 60
)

// Create validates in for a new channel with id and returns the payload of
// its notification.created event, the URL and secret sealed. Name, type and
// url are required; enabled defaults to true; a webhook needs a secret (its
// messages are signed).
func Create(id string, in Input, seal Sealer, o Options) (events.Channel, error) {
	var fe FieldErrors
	if !events.ValidToken(id) {
		return events.Channel{}, fmt.Errorf("notify: invalid channel id %q", id)
	}
	for f, missing := range map[string]bool{"name": in.Name == nil, "type": in.Type == nil, "url": in.URL == nil} {
		if missing {
			fe = append(fe, FieldError{f, "is required"})
		}
	}
	if in.Events == nil {
		in.Events = &[]string{}
	}
	fe = append(fe, check(in, deref(in.Type), o)...)
	if deref(in.Type) == events.ChannelWebhook && deref(in.Secret) == "" && !fe.has("secret") {
		fe = append(fe, FieldError{"secret", "is required for a webhook: its messages are signed with it"})
	}
	if len(fe) > 0 {
		return events.Channel{}, fe.sorted()
	}
	ch := events.Channel{ID: id, Name: strings.TrimSpace(*in.Name), Type: *in.Type, Events: normEvents(*in.Events), Enabled: true}
	if in.Enabled != nil {
		ch.Enabled = *in.Enabled
	}
	if in.CooldownSeconds != nil {
		ch.CooldownSeconds = *in.CooldownSeconds
	}
	var err error
	if ch.URLSealed, err = seal.Seal(strings.TrimSpace(*in.URL)); err != nil {
		return events.Channel{}, err
	}
	ch.URLMask = MaskURL(strings.TrimSpace(*in.URL))
	if s := deref(in.Secret); s != "" {
		if ch.SecretSealed, err = seal.Seal(s); err != nil {
			return events.Channel{}, err
		}
	}
	return ch, nil
}

// Update validates in against the channel old and returns the payload of
// its notification.updated event (only the fields sent) and the channel as
// it will be. A change of type needs the url again (each type reads its URL
// its own way); a webhook keeps needing a secret.
func Update(old events.Channel, in Input, seal Sealer, o Options) (events.ChannelUpdatedData, events.Channel, error) {
	typ := old.Type
	if in.Type != nil {
		typ = *in.Type
	}
	fe := check(in, typ, o)
	if in.Type != nil && *in.Type != old.Type && in.URL == nil {
		fe = append(fe, FieldError{"url", "is required when the type changes"})
	}
	secretAfter := old.SecretSealed != ""
	if in.Secret != nil {
		secretAfter = *in.Secret != ""
	}
	if typ == events.ChannelWebhook && !secretAfter && !fe.has("secret") {
		fe = append(fe, FieldError{"secret", "is required for a webhook: its messages are signed with it"})
	}
	if typ != old.Type && !secretTypes[typ] && secretAfter && in.Secret == nil {
		fe = append(fe, FieldError{"secret", "a " + typ + " channel takes no secret: send \"\" to remove it"})
	}
	if len(fe) > 0 {
		return events.ChannelUpdatedData{}, old, fe.sorted()
	}
	changes := map[string]any{}
	ch := old
	if in.Name != nil {
		ch.Name = strings.TrimSpace(*in.Name)
		changes["name"] = ch.Name
	}
	if in.Type != nil {
		ch.Type = *in.Type
		changes["type"] = ch.Type
	}
	if in.URL != nil {
		u := strings.TrimSpace(*in.URL)
		sealed, err := seal.Seal(u)
		if err != nil {
			return events.ChannelUpdatedData{}, old, err
		}
		ch.URLSealed, ch.URLMask = sealed, MaskURL(u)
		changes["urlSealed"], changes["urlMask"] = ch.URLSealed, ch.URLMask
	}
	if in.Secret != nil {
		ch.SecretSealed = ""
		if *in.Secret != "" {
			sealed, err := seal.Seal(*in.Secret)
			if err != nil {
				return events.ChannelUpdatedData{}, old, err
			}
			ch.SecretSealed = sealed
		}
		changes["secretSealed"] = ch.SecretSealed
	}
	if in.Events != nil {
		ch.Events = normEvents(*in.Events)
		changes["events"] = ch.Events
	}
	if in.Enabled != nil {
		ch.Enabled = *in.Enabled
		changes["enabled"] = ch.Enabled
	}
	if in.CooldownSeconds != nil {
		ch.CooldownSeconds = *in.CooldownSeconds
		changes["cooldownSeconds"] = ch.CooldownSeconds
	}
	raw, err := json.Marshal(changes)
	if err != nil {
		return events.ChannelUpdatedData{}, old, err
	}
	return events.ChannelUpdatedData{ID: old.ID, Changes: raw}, ch, nil
}

// secretTypes are the channel types that use a secret: the generic webhook
// signs with it, Feishu and DingTalk sign their requests with it when set.
var secretTypes = map[string]bool{events.ChannelWebhook: true, events.ChannelFeishu: true, events.ChannelDingtalk: true}

// check validates the fields present in in for a channel of type typ.
func check(in Input, typ string, o Options) FieldErrors {
	var fe FieldErrors
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		switch {
		case n == "":
			fe = append(fe, FieldError{"name", "must not be empty"})
		case utf8.RuneCountInString(n) > MaxNameLen:
			fe = append(fe, FieldError{"name", fmt.Sprintf("must be at most %d characters", MaxNameLen)})
		}
	}
	typeOK := slices.Contains(events.ChannelTypes, typ)
	if in.Type != nil && !typeOK {
		fe = append(fe, FieldError{"type", "must be one of " + strings.Join(events.ChannelTypes, ", ")})
	}
	if in.URL != nil {
		if err := CheckURL(strings.TrimSpace(*in.URL), typ, o); err != nil {
			fe = append(fe, FieldError{"url", err.Error()})
		}
	}
	if in.Secret != nil && *in.Secret != "" {
		switch {
		case typeOK && !secretTypes[typ]:
			fe = append(fe, FieldError{"secret", "a " + typ + " channel takes no secret (its URL is its credential)"})
		case len(*in.Secret) > MaxSecretLen:
			fe = append(fe, FieldError{"secret", fmt.Sprintf("must be at most %d bytes", MaxSecretLen)})
		case strings.ContainsAny(*in.Secret, "\r\n"):
			fe = append(fe, FieldError{"secret", "must be one line"})
		}
	}
	if in.Events != nil {
		for _, e := range *in.Events {
			if !slices.Contains(events.NotifyTypes, e) {
				fe = append(fe, FieldError{"events", fmt.Sprintf("unknown event %q: known are %s", e, strings.Join(events.NotifyTypes, ", "))})
				break
			}
		}
	}
	if in.CooldownSeconds != nil && (*in.CooldownSeconds < 0 || *in.CooldownSeconds > MaxCooldownSec) {
		fe = append(fe, FieldError{"cooldownSeconds", fmt.Sprintf("must be between 0 (the default, %d) and %d seconds", int(events.DefaultCooldown/time.Second), MaxCooldownSec)})
	}
	return fe
}

// CheckURL validates a channel URL for type typ: absolute http(s), a host,
// no user information, and no loopback, link-local or private address
// literal (nor "localhost") unless o.AllowPrivate. A host name is checked
// again at every delivery, after DNS resolution. A telegram URL names the
// chat: https://api.telegram.org/bot<token>/sendMessage?chat_id=<chat>.
func CheckURL(raw, typ string, o Options) error {
	if raw == "" {
		return errors.New("must not be empty")
	}
	if len(raw) > MaxURLLen {
		return fmt.Errorf("must be at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("must name a host")
	}
	if u.User != nil {
		return errors.New("must not carry a user or password")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	if !o.AllowPrivate {
		if err := CheckHost(u.Hostname()); err != nil {
			return err
		}
	}
	if typ == events.ChannelTelegram && u.Query().Get("chat_id") == "" {
		return errors.New("a telegram URL names its chat: https://api.telegram.org/bot<token>/sendMessage?chat_id=<chat>")
	}
	return nil
}

// MaskURL shows a URL without its credentials: scheme and host, and the
// last 4 characters of the rest.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "****"
	}
	rest := strings.TrimPrefix(raw, u.Scheme+"://"+u.Host)
	if rest == "" || rest == "/" {
		return u.Scheme + "://" + u.Host + rest
	}
	tail := ""
	if r := []rune(rest); len(r) > 12 {
		tail = string(r[len(r)-4:])
	}
	return u.Scheme + "://" + u.Host + "/****" + tail
}

func (fe FieldErrors) has(field string) bool {
	for _, e := range fe {
		if e.Field == field {
			return true
		}
	}
	return false
}

var fieldOrder = []string{"name", "type", "url", "secret", "events", "enabled", "cooldownSeconds"}

func (fe FieldErrors) sorted() FieldErrors {
	slices.SortStableFunc(fe, func(a, b FieldError) int {
		return slices.Index(fieldOrder, a.Field) - slices.Index(fieldOrder, b.Field)
	})
	return fe
}

func normEvents(es []string) []string {
	out := []string{}
	for _, t := range events.NotifyTypes {
		if slices.Contains(es, t) {
			out = append(out, t)
		}
	}
	return out
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// Test returns the subject and event that queue a test message for
// channel ch: the admin action "send test" publishes it (events/streams
// Publish) and the notifier delivers it like any notification, cooldown
// aside. The delivery id is returned as the event's notification id.
func Test(ch events.Channel, at time.Time, actor string) (string, events.Envelope, error) {
	id := events.NewID(at)
	data, err := json.Marshal(events.TestData{ChannelID: ch.ID, Message: "relay test message for channel " + ch.Name})
	if err != nil {
		return "", events.Envelope{}, err
	}
	n := events.Notification{ID: id, ChannelID: ch.ID, Type: events.NotifyTest, Subject: ch.ID, Time: at.UTC(), Data: data}
	env, err := events.NewWithID(id, events.NotificationQueued, at, actor, "", n)
	return events.NotifySubject(ch.ID), env, err
}
