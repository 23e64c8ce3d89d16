package admin

import (
	"context"
	"errors"
	"strconv"
	"time"

	"relay/edge/fault"
	"relay/events"
	"relay/events/notify"
	"relay/events/streams"
	"relay/projections"
	"relay/store"
)

// Notification channels (DESIGN.md section 9). Every write is an event on
// the channel's CONFIG subject, published expecting the channel's version,
// and answered with the channel as projected (read-your-writes). The URL
// (a credential for most services) and the signing secret are sealed by
// events/notify before they reach an event; what the actions return is the
// channel's public view, which holds neither: the URL as its mask, the
// secret as a flag.

// ChannelInput is what an admin sets on a channel: every field is optional
// on an update. Secret "" removes the secret.
type ChannelInput struct {
	Name, Type, URL, Secret Opt[string]
	Events                  Opt[[]string]
	Enabled                 Opt[bool]
	CooldownSeconds         Opt[int64]
}

// ChannelItem is a channel as the admin views show it: never its URL in
// clear nor its secret.
type ChannelItem struct {
	projections.ChannelPublic
	// Version is the stream sequence of the channel's last event (the
	// If-Match of a safe update).
	Version uint64
}

// TestEvery bounds how often one channel is sent a test: a script or a
// double click looping on "send test" must not fill the NOTIFY queue
// (bounded in bytes) that real notifications wait in, nor a team's chat.
const TestEvery = 2 * time.Second

// Delivery log bounds: how many records a read returns by default and at
// most.
const (
	DefaultDeliveries = 50
	MaxDeliveries     = store.MaxDeliveryLog
)

// notifyInput turns in into events/notify's input. A cooldown outside int's
// range is clamped so that notify's range check refuses it.
func notifyInput(in ChannelInput) notify.Input {
	var n notify.Input
	ptr := func(o Opt[string]) *string {
		if !o.Set {
			return nil
		}
		v := o.Value
		return &v
	}
	n.Name, n.Type, n.URL, n.Secret = ptr(in.Name), ptr(in.Type), ptr(in.URL), ptr(in.Secret)
	if in.Events.Set {
		evs := append([]string{}, in.Events.Value...)
		n.Events = &evs
	}
	if in.Enabled.Set {
		b := in.Enabled.Value
		n.Enabled = &b
	}
	if in.CooldownSeconds.Set {
		c := int(max(min(in.CooldownSeconds.Value, notify.MaxCooldownSec+1), -1))
		n.CooldownSeconds = &c
	}
	return n
}

// channelFault turns events/notify's field errors into the admin's: the
// first invalid field (in field order), its message prefixed by its name.
func channelFault(err error) error {
	var fe notify.FieldErrors
	if errors.As(err, &fe) && len(fe) > 0 {
		return fault.InvalidField(fe[0].Field, fe[0].Field+" "+fe[0].Message)
	}
	return err
}

func (s *Service) notifyOptions() notify.Options {
	return notify.Options{AllowPrivate: s.cfg.NotifyAllowPrivate}
}

// ListChannels returns a page of channels, newest first, and how many
// match.
func (s *Service) ListChannels(ctx context.Context, q ListQuery) ([]ChannelItem, int, error) {
	views, total, err := s.store.ListChannels(ctx, store.ListQuery{Offset: q.Offset, Limit: q.Limit, Search: q.Search, IncludeDeleted: q.IncludeDeleted})
	if err != nil {
		return nil, 0, err
	}
	items := make([]ChannelItem, len(views))
	for i, v := range views {
		items[i] = channelItem(v)
	}
	return items, total, nil
}

// Channel returns channel id (a deleted one too, marked so).
func (s *Service) Channel(ctx context.Context, id string) (ChannelItem, error) {
	v, err := s.loadChannel(ctx, id)
	if err != nil {
		return ChannelItem{}, err
	}
	return channelItem(v), nil
}

// CreateChannel creates a channel from in. Name, type and url are required;
// a webhook needs a secret.
func (s *Service) CreateChannel(ctx context.Context, who Actor, in ChannelInput) (ChannelItem, error) {
	now := time.Now()
	ch, err := notify.Create(events.NewID(now), notifyInput(in), s.box, s.notifyOptions())
	if err != nil {
		return ChannelItem{}, channelFault(err)
	}
	env, err := events.New(events.NotificationCreated, now, who.Username, who.RequestID, ch)
	if err != nil {
		return ChannelItem{}, err
	}
	none := uint64(0)
	if _, err := s.writeConfig(ctx, events.NotificationSubject(ch.ID), env, &none); err != nil {
		return ChannelItem{}, err
	}
	return s.Channel(ctx, ch.ID)
}

// UpdateChannel changes the fields set in in. expect is the version the
// change was made on (nil: the version read now); another admin's change
// since answers a conflict.
func (s *Service) UpdateChannel(ctx context.Context, who Actor, id string, expect *uint64, in ChannelInput) (ChannelItem, error) {
	old, err := s.liveChannel(ctx, id)
	if err != nil {
		return ChannelItem{}, err
	}
	version := expected(expect, old.Seq)
	data, _, err := notify.Update(old.Channel, notifyInput(in), s.box, s.notifyOptions())
	if err != nil {
		return ChannelItem{}, channelFault(err)
	}
	if string(data.Changes) == "{}" {
		if version != old.Seq {
			return ChannelItem{}, fault.New(fault.Conflict, "the channel was changed by someone else since it was read; read it again and retry")
		}
		return channelItem(old), nil
	}
	return s.writeChannel(ctx, who, id, events.NotificationUpdated, data, version)
}

// DeleteChannel deletes the channel: nothing more is sent to it.
func (s *Service) DeleteChannel(ctx context.Context, who Actor, id string, expect *uint64) (ChannelItem, error) {
	old, err := s.liveChannel(ctx, id)
	if err != nil {
		return ChannelItem{}, err
	}
	return s.writeChannel(ctx, who, id, events.NotificationDeleted, events.ChannelDeletedData{ID: id}, expected(expect, old.Seq))
}

// TestChannel queues a test message for the channel (enabled or not, with
// no cooldown) and returns its delivery id: the X-Relay-Delivery of the
// request the notifier sends, and the id of its records in the delivery
// log. One test per channel per TestEvery: another answers rate limited.
func (s *Service) TestChannel(ctx context.Context, who Actor, id string) (string, error) {
	ch, err := s.liveChannel(ctx, id)
	if err != nil {
		return "", err
	}
	now := time.Now()
	free, err := s.store.Claim(ctx, store.ClaimName("admin-test", ch.ID), events.NewID(now), TestEvery)
	if err != nil {
		return "", err
	}
	if !free {
		e := fault.New(fault.RateLimited, "a test was sent to this channel less than "+TestEvery.String()+" ago; wait and send it again")
		e.RetryAfter = int(TestEvery / time.Second)
		return "", e
	}
	subject, env, err := notify.Test(ch.Channel, now, who.Username)
	if err != nil {
		return "", err
	}
	env.RequestID = who.RequestID
	if _, err := streams.Publish(ctx, s.js, subject, env, nil); err != nil {
		return "", err
	}
	s.published(env.Type)
	return env.ID, nil
}

// Deliveries returns up to limit (1 to MaxDeliveries; 0: DefaultDeliveries)
// of the channel's newest delivery records, newest first. A deleted
// channel's log stays readable until it expires.
func (s *Service) Deliveries(ctx context.Context, id string, limit int) ([]store.DeliveryRecord, error) {
	switch {
	case limit == 0:
		limit = DefaultDeliveries
	case limit < 1 || limit > MaxDeliveries:
		return nil, fault.InvalidField("limit", "limit must be an integer from 1 to "+strconv.Itoa(MaxDeliveries))
	}
	if _, err := s.loadChannel(ctx, id); err != nil {
		return nil, err
	}
	recs, err := s.store.Deliveries(ctx, id, limit)
	if recs == nil {
		recs = []store.DeliveryRecord{}
	}
	return recs, err
}

// writeChannel publishes one event about channel id expecting version
// expect and returns the channel as projected after it.
func (s *Service) writeChannel(ctx context.Context, who Actor, id, typ string, payload any, expect uint64) (ChannelItem, error) {
	env, err := events.New(typ, time.Now(), who.Username, who.RequestID, payload)
	if err != nil {
		return ChannelItem{}, err
	}
	if _, err := s.writeConfig(ctx, events.NotificationSubject(id), env, &expect); err != nil {
		return ChannelItem{}, err
	}
	return s.Channel(ctx, id)
}

// loadChannel reads channel id from the read model, deleted or not.
func (s *Service) loadChannel(ctx context.Context, id string) (projections.ChannelView, error) {
	if !events.ValidToken(id) {
		return projections.ChannelView{}, fault.New(fault.NotFound, "notification channel not found")
	}
	v, err := s.store.Channel(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && v.CreatedSeq == 0) {
		return v, fault.New(fault.NotFound, "notification channel not found")
	}
	return v, err
}

// liveChannel is loadChannel for a change: a deleted channel cannot be
// changed or tested.
func (s *Service) liveChannel(ctx context.Context, id string) (projections.ChannelView, error) {
	v, err := s.loadChannel(ctx, id)
	if err == nil && v.IsDeleted {
		return v, fault.New(fault.Conflict, "the notification channel is deleted")
	}
	return v, err
}

func channelItem(v projections.ChannelView) ChannelItem {
	return ChannelItem{ChannelPublic: v.Public(), Version: v.Seq}
}
