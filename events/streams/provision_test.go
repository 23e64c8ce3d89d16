package streams

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
