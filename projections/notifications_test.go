package projections_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/projections"
)

func channelHistory(t *testing.T) []events.Envelope {
	t.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var seq uint64
	mk := func(typ string, p any) events.Envelope {
		seq++
		env, err := events.New(typ, at.Add(time.Duration(seq)*time.Second), "admin", "", p)
		if err != nil {
			t.Fatal(err)
		}
		env.Seq, env.Subject = seq, events.NotificationSubject("c1")
		return env
	}
	return []events.Envelope{
		mk(events.NotificationCreated, events.Channel{ID: "c1", Name: "ops", Type: events.ChannelWebhook, URLSealed: "u", Events: []string{events.NotifyKeyExpiring, events.NotifyKeyLimit}, Enabled: true}),
		mk(events.NotificationUpdated, events.ChannelUpdatedData{ID: "c1", Changes: json.RawMessage(`{"events":["account.unavailable"],"cooldownSeconds":60}`)}),
		mk(events.NotificationUpdated, events.ChannelUpdatedData{ID: "c1", Changes: json.RawMessage(`{"enabled":false}`)}),
	}
}

func TestApplyChannelFoldsUpdatesAndReplacesEvents(t *testing.T) {
	var v projections.ChannelView
	for _, env := range channelHistory(t) {
		var err error
		if v, err = projections.ApplyChannel(v, env); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(v.Events, []string{events.NotifyAccountUnavailable}) || v.Enabled || v.CooldownSeconds != 60 || v.Seq != 3 || !v.Exists() {
		t.Fatalf("view = %+v", v)
	}
	if v.Cooldown() != time.Minute {
		t.Fatalf("cooldown = %v", v.Cooldown())
	}
}

func TestApplyChannelWithDuplicatesEqualsOnce(t *testing.T) {
	h := channelHistory(t)
	var once, dup projections.ChannelView
	for _, env := range h {
		once, _ = projections.ApplyChannel(once, env)
	}
	for _, env := range []events.Envelope{h[0], h[1], h[0], h[2], h[1], h[2]} {
		dup, _ = projections.ApplyChannel(dup, env)
	}
	if !reflect.DeepEqual(once, dup) {
		t.Fatalf("with duplicates %+v, once %+v", dup, once)
	}
	deleted, err := events.New(events.NotificationDeleted, time.Now(), "admin", "", events.ChannelDeletedData{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	deleted.Seq = 4
	if v, _ := projections.ApplyChannel(once, deleted); v.Exists() || v.DeletedAt == nil {
		t.Fatalf("deleted view = %+v", v)
	}
}

// A catalog that meets a channel event still counts its sequence, so an
// edge waiting for CONFIG's last event at start gets ready.
func TestCatalogCountsChannelEventSequences(t *testing.T) {
	c := projections.NewCatalog()
	for _, env := range channelHistory(t) {
		if err := c.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	if c.ConfigSeq != 3 {
		t.Fatalf("ConfigSeq = %d, want 3", c.ConfigSeq)
	}
}

func TestChannelPublicShowsNoSealedValue(t *testing.T) {
	v := projections.ChannelView{Channel: events.Channel{ID: "c1", Name: "ops", Type: events.ChannelSlack, URLSealed: "v1:SEALEDURL", URLMask: "https://hooks.slack.com/****abcd", SecretSealed: "v1:SEALEDSECRET"}}
	b, err := json.Marshal(v.Public())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "SEALED") || !strings.Contains(s, `"url":"https://hooks.slack.com/****abcd"`) || !strings.Contains(s, `"hasSecret":true`) || !strings.Contains(s, `"cooldownSeconds":600`) || !strings.Contains(s, `"events":[]`) {
		t.Fatalf("public view %s", s)
	}
}
