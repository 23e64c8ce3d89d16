package streams

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Every setting relay gives a stream is compared: a configuration that
// differs in any one of them is not up to date.
func TestUpToDateComparesEverySettingRelayMakes(t *testing.T) {
	for _, want := range Defaults().Configs() {
		v := reflect.ValueOf(want)
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				continue
			}
			have := want
			reflect.ValueOf(&have).Elem().Field(i).SetZero()
			if upToDate(have, want) {
				t.Errorf("%s: a stream without %s counts as up to date", want.Name, v.Type().Field(i).Name)
			}
		}
		if !upToDate(want, want) {
			t.Errorf("%s: its own configuration is not up to date", want.Name)
		}
	}
}

// A second start leaves the streams alone; changed options update them.
func TestProvisionUpdatesOnlyWhatChanged(t *testing.T) {
	_, js := startJetStream(t)
	ctx := context.Background()
	updates := make(chan *nats.Msg, 16)
	sub, err := js.Conn().ChanSubscribe("$JS.EVENT.ADVISORY.STREAM.UPDATED.>", updates)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := Provision(ctx, js, Defaults()); err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.UsageMaxAge = 30 * 24 * time.Hour
	if err := Provision(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-updates:
		if m.Subject != "$JS.EVENT.ADVISORY.STREAM.UPDATED.USAGE" {
			t.Fatalf("unchanged provisioning updated a stream: %s", m.Subject)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a changed retention did not update USAGE")
	}
	s, err := js.Stream(ctx, "USAGE")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != o.UsageMaxAge {
		t.Fatalf("USAGE keeps events %v, want %v", got, o.UsageMaxAge)
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-updates:
		t.Fatalf("one more update than the changed stream: %s", m.Subject)
	default:
	}
}

// Each stream takes its byte cap from the options (issue 13: every stream
// gets a byte cap setting), including streams created before the caps
// existed; at its cap USAGE drops its oldest events while CONFIG, the
// source of truth, refuses new ones.
func TestProvisionAppliesByteCaps(t *testing.T) {
	_, js := startJetStream(t) // provisioned with the defaults: no caps
	ctx := context.Background()
	for _, name := range []string{"CONFIG", "USAGE", "STATE"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != -1 {
			t.Fatalf("%s: default cap %d, want none (-1)", name, got)
		}
	}
	o := Defaults()
	o.ConfigMaxBytes, o.UsageMaxBytes, o.StateMaxBytes = 8<<10, 16<<10, 32<<10
	if err := Provision(ctx, js, o); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		bytes   int64
		discard jetstream.DiscardPolicy
	}{"CONFIG": {8 << 10, jetstream.DiscardNew}, "USAGE": {16 << 10, jetstream.DiscardOld}, "STATE": {32 << 10, jetstream.DiscardOld}}
	for name, w := range want {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.CachedInfo().Config; c.MaxBytes != w.bytes || c.Discard != w.discard {
			t.Fatalf("%s: cap %d discard %v, want %d %v", name, c.MaxBytes, c.Discard, w.bytes, w.discard)
		}
	}
	payload := make([]byte, 1<<10)
	var configRefused bool
	for i := range 64 {
		if _, err := js.Publish(ctx, "relay.usage.codex.k1", payload); err != nil {
			t.Fatalf("USAGE at its cap refused event %d: %v", i, err)
		}
		if _, err := js.Publish(ctx, "relay.config.key.k1", payload); err != nil {
			configRefused = true
		}
	}
	if !configRefused {
		t.Fatal("CONFIG took 64 KiB under a cap of 8 KiB")
	}
	for name, w := range want {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int64(info.State.Bytes) > w.bytes {
			t.Fatalf("%s holds %d bytes over its cap of %d", name, info.State.Bytes, w.bytes)
		}
		if name == "USAGE" && info.State.FirstSeq == 1 {
			t.Fatal("USAGE at its cap kept its oldest event")
		}
		if name == "CONFIG" && info.State.FirstSeq != 1 {
			t.Fatalf("CONFIG at its cap dropped its oldest events (first sequence %d)", info.State.FirstSeq)
		}
	}
}
