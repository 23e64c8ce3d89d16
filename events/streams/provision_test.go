package streams

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
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

// startCluster starts n JetStream servers routed to each other on loopback
// and returns a client of every node once the cluster has a meta leader.
func startCluster(t *testing.T, n int) ([]*server.Server, jetstream.JetStream) {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	var servers []*server.Server
	var urls []string
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
			NoLog: true, NoSigs: true, Routes: routes,
			Cluster: server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: ports[i]},
		}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		urls = append(urls, s.ClientURL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return servers, js
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With AutoReplicas (NATS_REPLICAS unset) a stream gets one replica on a
// server that is not clustered, and 3 on a 3-node cluster, including a
// stream created earlier with the old default of 1 (scaled up, never
// down).
func TestProvisionAutoReplicasFollowTheCluster(t *testing.T) {
	ctx := context.Background()
	auto := Defaults()
	auto.Replicas = AutoReplicas

	_, single := startJetStream(t)
	p, err := ProvisionPlaced(ctx, single, auto)
	if err != nil {
		t.Fatal(err)
	}
	if p.Clustered || p.Want != 1 || p.Got[events.StreamUsage] != 1 {
		t.Fatalf("single server: %+v; want 1 replica", p)
	}

	_, js := startCluster(t, 3)
	var last error
	provision := func(o Options) Placement {
		t.Helper()
		// A young cluster may still be electing stream leaders: retry as
		// relay's start does.
		deadline := time.Now().Add(30 * time.Second)
		for {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			p, err := ProvisionPlaced(pctx, js, o)
			cancel()
			if err == nil {
				return p
			}
			last = err
			if time.Now().After(deadline) {
				t.Fatalf("provision: %v", last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	one := Defaults() // the old default: 1 replica
	provision(one)
	p = provision(auto)
	if !p.Clustered || p.Want != 3 {
		t.Fatalf("3-node cluster: %+v; want 3 replicas", p)
	}
	for _, cfg := range auto.Configs() {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 || p.Got[cfg.Name] != 3 {
			t.Errorf("%s: %d replicas (reported %d); want 3", cfg.Name, r, p.Got[cfg.Name])
		}
	}
	// An explicit count is honoured, even a lower one.
	if p := provision(one); p.Want != 1 || p.Got[events.StreamUsage] != 1 {
		t.Fatalf("explicit 1 replica: %+v", p)
	}
	// Back on auto, the cluster gets its 3 replicas again.
	if p := provision(auto); p.Got[events.StreamUsage] != 3 {
		t.Fatalf("auto after explicit 1: %+v", p)
	}
}

// On a cluster too small for 3 replicas, AutoReplicas refuses to create a
// stream with fewer until StepDown allows it (a young cluster's peers may
// still be joining), and keeps an existing stream it cannot scale up.
func TestProvisionAutoReplicasStepDownOnlyWhenAllowed(t *testing.T) {
	ctx := context.Background()
	_, js := startCluster(t, 2)
	auto := Defaults()
	auto.Replicas = AutoReplicas
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := ProvisionPlaced(pctx, js, auto)
	cancel()
	if err == nil {
		t.Fatal("a 2-node cluster got 3-replica streams, or fewer without StepDown")
	}
	if _, err := js.Stream(ctx, events.StreamConfig); err == nil {
		t.Fatal("CONFIG created with fewer replicas without StepDown")
	}
	auto.StepDown = true
	var p Placement
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p, err = ProvisionPlaced(pctx, js, auto)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || p.Got[events.StreamUsage] != 2 || p.Want != 2 {
		t.Fatalf("StepDown on 2 nodes: %+v %v; want 2 replicas", p, err)
	}
	auto.StepDown = false
	if p, err = ProvisionPlaced(ctx, js, auto); err != nil || p.Got[events.StreamConfig] != 2 {
		t.Fatalf("existing 2-replica streams on 2 nodes: %+v %v; want them kept", p, err)
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
