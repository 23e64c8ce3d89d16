package notify_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/events/notify"
)

// fakeSeal marks what it sealed, so a test can tell sealed from plain.
type fakeSeal struct{}

func (fakeSeal) Seal(p string) (string, error) { return "sealed(" + p + ")", nil }

func ptr[T any](v T) *T { return &v }

func TestCreateValidatesEachFieldByName(t *testing.T) {
	good := func() notify.Input {
		return notify.Input{Name: ptr("ops"), Type: ptr("webhook"), URL: ptr("https://hooks.example.com/relay"), Secret: ptr("s3cret"), Events: ptr([]string{"account.unavailable"})}
	}
	cases := []struct {
		name  string
		edit  func(*notify.Input)
		field string
	}{
		{"missing name", func(in *notify.Input) { in.Name = nil }, "name"},
		{"blank name", func(in *notify.Input) { in.Name = ptr("  ") }, "name"},
		{"long name", func(in *notify.Input) { in.Name = ptr(strings.Repeat("n", 101)) }, "name"},
		{"missing type", func(in *notify.Input) { in.Type = nil }, "type"},
		{"unknown type", func(in *notify.Input) { in.Type = ptr("email") }, "type"},
		{"missing url", func(in *notify.Input) { in.URL = nil }, "url"},
		{"ftp url", func(in *notify.Input) { in.URL = ptr("ftp://example.com/x") }, "url"},
		{"relative url", func(in *notify.Input) { in.URL = ptr("/hook") }, "url"},
		{"user in url", func(in *notify.Input) { in.URL = ptr("https://u:p@example.com/x") }, "url"},
		{"loopback url", func(in *notify.Input) { in.URL = ptr("http://127.0.0.1:8080/hook") }, "url"},
		{"localhost url", func(in *notify.Input) { in.URL = ptr("http://localhost/hook") }, "url"},
		{"metadata url", func(in *notify.Input) { in.URL = ptr("http://169.254.169.254/latest") }, "url"},
		{"private v6 url", func(in *notify.Input) { in.URL = ptr("http://[fd00::1]/x") }, "url"},
		{"mapped loopback", func(in *notify.Input) { in.URL = ptr("http://[::ffff:127.0.0.1]/x") }, "url"},
		{"webhook without secret", func(in *notify.Input) { in.Secret = nil }, "secret"},
		{"secret on slack", func(in *notify.Input) { in.Type = ptr("slack") }, "secret"},
		{"two-line secret", func(in *notify.Input) { in.Secret = ptr("a\nb") }, "secret"},
		{"unknown event", func(in *notify.Input) { in.Events = ptr([]string{"key.deleted"}) }, "events"},
		{"test is not subscribable", func(in *notify.Input) { in.Events = ptr([]string{"test"}) }, "events"},
		{"negative cooldown", func(in *notify.Input) { in.CooldownSeconds = ptr(-1) }, "cooldownSeconds"},
		{"cooldown over a day", func(in *notify.Input) { in.CooldownSeconds = ptr(86401) }, "cooldownSeconds"},
		{"telegram without chat", func(in *notify.Input) {
			in.Type, in.Secret, in.URL = ptr("telegram"), nil, ptr("https://api.telegram.org/bot1:x/sendMessage")
		}, "url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := good()
			c.edit(&in)
			_, err := notify.Create("c1", in, fakeSeal{}, notify.Options{})
			var fe notify.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want FieldErrors", err)
			}
			if len(fe) == 0 || fe[0].Field != c.field {
				t.Fatalf("field errors = %v, want first on %q", fe, c.field)
			}
		})
	}
	ch, err := notify.Create("c1", good(), fakeSeal{}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ch.URLSealed != "sealed(https://hooks.example.com/relay)" || ch.SecretSealed != "sealed(s3cret)" || !ch.Enabled {
		t.Fatalf("channel = %+v", ch)
	}
	if strings.Contains(ch.URLMask, "relay") {
		t.Fatalf("mask %q shows the path", ch.URLMask)
	}
}

func TestCreateAllowsPrivateWithTheOptIn(t *testing.T) {
	in := notify.Input{Name: ptr("local"), Type: ptr("slack"), URL: ptr("http://127.0.0.1:9/x")}
	if _, err := notify.Create("c1", in, fakeSeal{}, notify.Options{AllowPrivate: true}); err != nil {
		t.Fatalf("with opt-in: %v", err)
	}
	if _, err := notify.Create("c1", in, fakeSeal{}, notify.Options{}); err == nil {
		t.Fatal("without opt-in: accepted")
	}
}

func TestUpdateCarriesOnlyChangedFields(t *testing.T) {
	old, err := notify.Create("c1", notify.Input{Name: ptr("ops"), Type: ptr("webhook"), URL: ptr("https://a.example.com/h"), Secret: ptr("k"), Events: ptr([]string{"key.expiring"})}, fakeSeal{}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, ch, err := notify.Update(old, notify.Input{Enabled: ptr(false), Events: ptr([]string{"key.limit_reached", "account.unavailable"})}, fakeSeal{}, notify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var changes map[string]any
	if err := json.Unmarshal(d.Changes, &changes); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes["enabled"] != false {
		t.Fatalf("changes = %v", changes)
	}
	if ch.Enabled || ch.Events[0] != "account.unavailable" || ch.URLSealed != old.URLSealed {
		t.Fatalf("channel = %+v", ch)
	}
	// A webhook cannot lose its secret; a type change needs the URL again.
	for _, in := range []notify.Input{{Secret: ptr("")}, {Type: ptr("slack")}} {
		if _, _, err := notify.Update(old, in, fakeSeal{}, notify.Options{}); err == nil {
			t.Fatalf("update %+v accepted", in)
		}
	}
}

func TestBlockedAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fc00::1": true, "::ffff:10.0.0.1": true,
		"224.0.0.1": true, "8.8.8.8": false, "1.1.1.1": false, "2606:4700::1111": false,
	} {
		if got := notify.Blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestTestQueuesATestNotification(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	subject, env, err := notify.Test(events.Channel{ID: "c1", Name: "ops"}, at, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if subject != "relay.notify.c1" || env.Type != events.NotificationQueued {
		t.Fatalf("subject %q type %q", subject, env.Type)
	}
	v, err := events.Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	n := v.(*events.Notification)
	if n.ID != env.ID || n.Type != events.NotifyTest || n.ChannelID != "c1" {
		t.Fatalf("notification = %+v", n)
	}
}

func TestMaskURLHidesTheCredential(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX": "https://hooks.slack.com/****XXXX",
		"https://example.com/":   "https://example.com/",
		"https://example.com/ab": "https://example.com/****",
	} {
		if got := notify.MaskURL(raw); got != want {
			t.Errorf("MaskURL(%s) = %s, want %s", raw, got, want)
		}
	}
}
