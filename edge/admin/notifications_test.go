package admin_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"relay/edge/admin"
	"relay/edge/edgetest"
	"relay/edge/fault"
	"relay/edge/secrets"
)

// newChannelActions is newActions with the box that seals channel URLs and
// secrets, and channels to private addresses allowed or not.
func newChannelActions(t *testing.T, allowPrivate bool) (*admin.Service, *edgetest.Env, *secrets.Box) {
	t.Helper()
	_, env := newActions(t, nil)
	box, err := secrets.NewBox([]byte(edgetest.EncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	s := admin.New(admin.Config{WriteWait: 10 * time.Second, NotifyAllowPrivate: allowPrivate},
		admin.Deps{JS: env.JS, Store: env.Store, Catalog: env.Edge.Catalog(), Box: box, Log: zerolog.Nop()})
	return s, env, box
}

func TestNotificationActionsSealURLAndSecret(t *testing.T) {
	s, env, box := newChannelActions(t, true)
	const hook, secret = "http://127.0.0.1:9/hooks/TOKEN-abcdef123456", "whsec-actions"
	who := admin.Actor{Username: "admin"}
	c, err := s.CreateChannel(t.Context(), who, admin.ChannelInput{
		Name: admin.Some("ops"), Type: admin.Some("webhook"), URL: admin.Some(hook), Secret: admin.Some(secret),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "http://127.0.0.1:9/****3456" || !c.HasSecret || c.Version == 0 || !c.Enabled {
		t.Fatalf("created %+v", c)
	}
	// The read model holds both sealed, and they open to what was sent.
	v, err := env.Store.Channel(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for sealed, want := range map[string]string{v.URLSealed: hook, v.SecretSealed: secret} {
		if strings.Contains(sealed, want) {
			t.Fatalf("stored in clear: %q", sealed)
		}
		if got, err := box.Open(sealed); err != nil || got != want {
			t.Fatalf("open %q: %q %v", sealed, got, err)
		}
	}
	// A stale version is a conflict, not an overwrite.
	stale := c.Version
	if _, err := s.UpdateChannel(t.Context(), who, c.ID, nil, admin.ChannelInput{Name: admin.Some("ops2")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateChannel(t.Context(), who, c.ID, &stale, admin.ChannelInput{Name: admin.Some("ops3")})
	wantKind(t, err, fault.Conflict)
}

func TestNotificationActionsFieldErrors(t *testing.T) {
	s, _, _ := newChannelActions(t, false)
	who := admin.Actor{Username: "admin"}
	base := func() admin.ChannelInput {
		return admin.ChannelInput{Name: admin.Some("ops"), Type: admin.Some("slack"), URL: admin.Some("https://hooks.slack.com/services/T/B/x")}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*admin.ChannelInput)
		field string
	}{
		{"private address without the opt-in", func(in *admin.ChannelInput) { in.URL = admin.Some("http://[::1]:8080/x") }, "url"},
		{"cooldown beyond int range", func(in *admin.ChannelInput) { in.CooldownSeconds = admin.Some(int64(math.MaxInt64)) }, "cooldownSeconds"},
		{"cooldown far below zero", func(in *admin.ChannelInput) { in.CooldownSeconds = admin.Some(int64(math.MinInt64)) }, "cooldownSeconds"},
		{"unknown event", func(in *admin.ChannelInput) { in.Events = admin.Some([]string{"key.stolen"}) }, "events"},
		{"missing type", func(in *admin.ChannelInput) { in.Type = admin.Opt[string]{} }, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(&in)
			_, err := s.CreateChannel(t.Context(), who, in)
			wantField(t, err, tc.field)
		})
	}
	c, err := s.CreateChannel(t.Context(), who, base())
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{-1, admin.MaxDeliveries + 1} {
		_, err := s.Deliveries(t.Context(), c.ID, limit)
		wantField(t, err, "limit")
	}
	if recs, err := s.Deliveries(t.Context(), c.ID, 0); err != nil || recs == nil || len(recs) != 0 {
		t.Fatalf("deliveries %v %v", recs, err)
	}
	_, err = s.Deliveries(t.Context(), "nope", 10)
	wantKind(t, err, fault.NotFound)
	_, err = s.TestChannel(t.Context(), who, "nope")
	wantKind(t, err, fault.NotFound)
}
