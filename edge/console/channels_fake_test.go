package console

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"relay/edge/admin"
	"relay/edge/fault"
	"relay/events"
	"relay/projections"
)

// fakeChannels is an in-memory Channels: its rules are the fake's, only
// there to drive the pages (an http(s) URL, a webhook needs a secret).
type fakeChannels struct {
	mu      sync.Mutex // protects everything below
	now     func() time.Time
	items   []*fakeChannel
	seq     uint64
	inputs  []admin.ChannelInput
	actors  []string
	tests   int
	tooSoon bool
	deleted []string
}

type fakeChannel struct {
	item   admin.ChannelItem
	url    string
	secret string
	log    []admin.DeliveryRecord
}

var _ Channels = (*fakeChannels)(nil)

func newFakeChannels(now time.Time) *fakeChannels {
	return &fakeChannels{now: func() time.Time { return now }}
}

func (f *fakeChannels) find(id string) (*fakeChannel, error) {
	for _, c := range f.items {
		if c.item.ID == id {
			return c, nil
		}
	}
	return nil, fault.New(fault.NotFound, "notification channel not found")
}

func (f *fakeChannels) ListChannels(_ context.Context, q admin.ListQuery) ([]admin.ChannelItem, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var match []admin.ChannelItem
	for _, c := range f.items {
		if !c.item.IsDeleted && (q.Search == "" || strings.Contains(c.item.Name, q.Search)) {
			match = append(match, c.item)
		}
	}
	from := min(q.Offset, len(match))
	to := min(from+q.Limit, len(match))
	return match[from:to], len(match), nil
}

func (f *fakeChannels) Channel(_ context.Context, id string) (admin.ChannelItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return admin.ChannelItem{}, err
	}
	return c.item, nil
}

func maskURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		host, _, _ := strings.Cut(rest, "/")
		return u[:i+3] + host + "/****"
	}
	return "****"
}

func (f *fakeChannels) apply(c *fakeChannel, in admin.ChannelInput) error {
	next := *c
	next.item.Events = slices.Clone(c.item.Events)
	if in.Name.Set {
		next.item.Name = strings.TrimSpace(in.Name.Value)
	}
	if in.Type.Set {
		next.item.Type = in.Type.Value
	}
	if in.URL.Set {
		next.url = in.URL.Value
	}
	if in.Secret.Set {
		next.secret = in.Secret.Value
	}
	if in.Events.Set {
		next.item.Events = in.Events.Value
	}
	if in.Enabled.Set {
		next.item.Enabled = in.Enabled.Value
	}
	if in.CooldownSeconds.Set {
		next.item.CooldownSeconds = int(in.CooldownSeconds.Value)
	}
	switch {
	case next.item.Name == "":
		return fault.InvalidField("name", "name is required")
	case !slices.Contains(events.ChannelTypes, next.item.Type):
		return fault.InvalidField("type", "type must be one of "+strings.Join(events.ChannelTypes, ", "))
	case !strings.HasPrefix(next.url, "https://") && !strings.HasPrefix(next.url, "http://"):
		return fault.InvalidField("url", "url must be an absolute http or https URL")
	case next.item.Type == events.ChannelWebhook && next.secret == "":
		return fault.InvalidField("secret", "secret is required for a webhook")
	case next.item.CooldownSeconds < 0 || next.item.CooldownSeconds > 86400:
		return fault.InvalidField("cooldownSeconds", "cooldownSeconds must be between 0 and 86400 seconds")
	}
	if next.item.CooldownSeconds == 0 {
		next.item.CooldownSeconds = 600
	}
	next.item.URL = maskURL(next.url)
	next.item.HasSecret = next.secret != ""
	f.seq++
	next.item.Version = f.seq
	*c = next
	return nil
}

func (f *fakeChannels) CreateChannel(_ context.Context, who admin.Actor, in admin.ChannelInput) (admin.ChannelItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	f.actors = append(f.actors, who.Username)
	c := &fakeChannel{item: admin.ChannelItem{ChannelPublic: projections.ChannelPublic{
		ID: fmt.Sprintf("ch-%03d", len(f.items)+1), Enabled: true, Events: []string{}, CreatedAt: f.now(),
	}}}
	if err := f.apply(c, in); err != nil {
		return admin.ChannelItem{}, err
	}
	f.items = append(f.items, c)
	return c.item, nil
}

func (f *fakeChannels) UpdateChannel(_ context.Context, who admin.Actor, id string, expect *uint64, in admin.ChannelInput) (admin.ChannelItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	f.actors = append(f.actors, who.Username)
	c, err := f.find(id)
	if err != nil {
		return admin.ChannelItem{}, err
	}
	if c.item.IsDeleted {
		return admin.ChannelItem{}, fault.New(fault.Conflict, "the notification channel is deleted")
	}
	if expect != nil && *expect != c.item.Version {
		return admin.ChannelItem{}, fault.New(fault.Conflict, "the channel was changed by someone else")
	}
	if err := f.apply(c, in); err != nil {
		return admin.ChannelItem{}, err
	}
	return c.item, nil
}

func (f *fakeChannels) DeleteChannel(_ context.Context, who admin.Actor, id string, expect *uint64) (admin.ChannelItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return admin.ChannelItem{}, err
	}
	if expect != nil && *expect != c.item.Version {
		return admin.ChannelItem{}, fault.New(fault.Conflict, "the channel was changed by someone else")
	}
	c.item.IsDeleted = true
	f.deleted = append(f.deleted, id+" by "+who.Username)
	return c.item, nil
}

func (f *fakeChannels) TestChannel(_ context.Context, _ admin.Actor, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return "", err
	}
	if f.tooSoon {
		e := fault.New(fault.RateLimited, "a test was sent to this channel less than 2s ago")
		e.RetryAfter = 2
		return "", e
	}
	f.tests++
	delivery := fmt.Sprintf("dlv-test-%d", f.tests)
	// The fake's notifier answers at once: one failed attempt, then a
	// delivered one.
	c.log = append([]admin.DeliveryRecord{
		{ID: delivery, Type: events.NotifyTest, Time: f.now(), Attempt: 2, StatusCode: 200, Outcome: "delivered", DurationMs: 84},
		{ID: delivery, Type: events.NotifyTest, Time: f.now().Add(-3 * time.Second), Attempt: 1, StatusCode: 502, Outcome: "retrying", Error: "receiver answered 502 Bad Gateway", DurationMs: 1210},
	}, c.log...)
	return delivery, nil
}

func (f *fakeChannels) Deliveries(_ context.Context, id string, limit int) ([]admin.DeliveryRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.log[:min(limit, len(c.log))]), nil
}

// add puts a channel straight into the fake.
func (f *fakeChannels) add(name, typ, rawURL, secret string, log ...admin.DeliveryRecord) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeChannel{item: admin.ChannelItem{ChannelPublic: projections.ChannelPublic{
		ID: fmt.Sprintf("ch-%03d", len(f.items)+1), Enabled: true, Events: []string{events.NotifyAccountUnavailable, events.NotifyKeyLimit},
	}}}
	if err := f.apply(c, admin.ChannelInput{Name: admin.Some(name), Type: admin.Some(typ), URL: admin.Some(rawURL), Secret: admin.Some(secret)}); err != nil {
		panic(err)
	}
	c.log = log
	f.items = append(f.items, c)
	return c.item.ID
}
