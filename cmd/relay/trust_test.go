package main

// The trust boundary (GitHub issue 13, DESIGN.md section 10), tried as a
// hostile neighbour would: a process on the same machine without relay's
// secrets, and one holding only the analyst's.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"relay/edge/secrets"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
)

// authNATS is an embedded server as `relay serve` runs it (users and
// permissions from its DATA_DIR), in the test process.
type authNATS struct {
	dataDir, addr string
	emb           *embeddedNATS
}

func startAuthNATS(t *testing.T) *authNATS {
	t.Helper()
	dir := t.TempDir()
	users, _, err := embeddedNATSUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := startEmbeddedNATS(dir, "127.0.0.1:-1", 0, users)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.stop)
	a := &authNATS{dataDir: dir, addr: strings.TrimPrefix(emb.loopbackURL(), "nats://"), emb: emb}
	_, js := a.connect(t, natsRelayUser)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Defaults()); err != nil {
		t.Fatal(err)
	}
	return a
}

// connect connects as role with the password from the DATA_DIR.
func (a *authNATS) connect(t *testing.T, role string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return trustConnect(t, "nats://"+a.addr, a.dataDir, role)
}

// trustConnect connects to url as role ("" for no credentials) with the
// password a relay serve generated under dataDir.
func trustConnect(t *testing.T, url, dataDir, role string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	// Quiet: the refusals the tests provoke are expected.
	opts := []nats.Option{nats.Timeout(5 * time.Second), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	if role != "" {
		auth, err := localNATSAuth(dataDir, role)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, auth)
	}
	if role == natsAnalystUser {
		opts = append(opts, nats.CustomInboxPrefix(analystInbox))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect as %q: %v", role, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// trustNoCredentials asserts that a client without credentials is refused.
func trustNoCredentials(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err == nil {
		nc.Close()
		t.Fatalf("a NATS client without credentials connected to %s", url)
	}
	if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("no credentials: %v; want an authorization violation", err)
	}
}

// trustAnalystRefusals runs what the analyst's credentials must not do, and
// checks that each is refused and changed nothing; relay's js (full
// rights) looks at the result.
func trustAnalystRefusals(t *testing.T, analyst, relay jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	before := map[string]uint64{}
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		s, err := relay.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = s.CachedInfo().State.Msgs
	}
	try := func(what string, fn func(ctx context.Context) error) {
		t.Helper()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := fn(cctx); err == nil {
			t.Errorf("analyst credentials: %s succeeded", what)
		}
	}
	forged := func(subject, typ string, data any) func(context.Context) error {
		return func(ctx context.Context) error {
			env, err := events.New(typ, time.Now(), "admin:admin", "", data)
			if err != nil {
				return nil // not refused: fails the check
			}
			_, err = streams.Publish(ctx, analyst, subject, env, nil)
			return err
		}
	}
	try("publish key.created on relay.config.>", forged(events.KeySubject("forged"), events.KeyCreated,
		events.Key{ID: "forged", Name: "forged", KeyHash: secrets.HashKey("cr_forged"), Permissions: "all", IsActive: true}))
	try("publish admin.created on relay.config.>", forged(events.AdminSubject("mallory"), events.AdminCreated, events.AdminCreatedData{Username: "mallory", PasswordHash: "x"}))
	try("publish usage.recorded on relay.usage.>", forged(events.UsageSubject(events.PlatformClaudeConsole, "victim"), events.UsageRecorded, events.Usage{ID: "forged-usage", KeyID: "victim", CostMicros: 1 << 40}))
	try("publish on relay.control.generation", func(ctx context.Context) error {
		return trustAsync(analyst.Conn(), func(nc *nats.Conn) error { return nc.Publish("relay.control.generation", []byte("99")) })
	})
	for _, name := range []string{events.StreamConfig, events.StreamUsage, events.StreamState} {
		try("delete stream "+name, func(ctx context.Context) error { return analyst.DeleteStream(ctx, name) })
		try("purge stream "+name, func(ctx context.Context) error {
			s, err := analyst.Stream(ctx, name)
			if err != nil {
				return err
			}
			return s.Purge(ctx)
		})
	}
	try("update stream USAGE", func(ctx context.Context) error {
		cfg := streams.Defaults().Configs()[1]
		cfg.MaxAge = time.Second
		_, err := analyst.UpdateStream(ctx, cfg)
		return err
	})
	try("create stream EVIL", func(ctx context.Context) error {
		_, err := analyst.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"relay.config.>"}})
		return err
	})
	for _, name := range []string{events.StreamConfig, events.StreamState} {
		try("create a consumer on "+name, func(ctx context.Context) error {
			_, err := analyst.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{})
			return err
		})
		try("read "+name, func(ctx context.Context) error {
			_, err := analyst.Conn().RequestWithContext(ctx, "$JS.API.DIRECT.GET."+name, []byte(`{"seq":1}`))
			return err
		})
	}
	for _, d := range usageDurables {
		try("redefine relay's durable consumer "+d, func(ctx context.Context) error {
			_, err := analyst.CreateOrUpdateConsumer(ctx, events.StreamUsage, jetstream.ConsumerConfig{Durable: d, FilterSubject: "relay.usage.nothing.>", AckPolicy: jetstream.AckExplicitPolicy})
			return err
		})
		try("pull from relay's durable consumer "+d, func(ctx context.Context) error {
			_, err := analyst.Conn().RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT."+events.StreamUsage+"."+d, []byte(`{"batch":1,"no_wait":true}`))
			return err
		})
		try("delete relay's durable consumer "+d, func(ctx context.Context) error {
			return analyst.DeleteConsumer(ctx, events.StreamUsage, d)
		})
	}
	try("subscribe to relay.>", func(ctx context.Context) error {
		return trustSubscribe(analyst.Conn(), "relay.>")
	})
	try("subscribe to relay's inboxes", func(ctx context.Context) error {
		return trustSubscribe(analyst.Conn(), "_INBOX.>")
	})
	for name, n := range before {
		s, err := relay.Stream(ctx, name)
		if err != nil {
			t.Fatalf("after the analyst's attempts, stream %s: %v", name, err)
		}
		if got := s.CachedInfo().State.Msgs; got != n {
			t.Errorf("after the analyst's attempts, stream %s holds %d messages, before %d", name, got, n)
		}
	}
	if _, err := relay.Stream(ctx, "EVIL"); err == nil {
		t.Error("the analyst created a stream")
	}
}

// trustSubscribe subscribes and reports the server's permission refusal,
// which arrives asynchronously.
func trustSubscribe(nc *nats.Conn, subject string) error {
	return trustAsync(nc, func(nc *nats.Conn) error {
		_, err := nc.SubscribeSync(subject)
		return err
	})
}

// trustAsync runs op and returns the error the server reports for it
// (permission violations arrive asynchronously), or nil after a flush
// and a second without one.
func trustAsync(nc *nats.Conn, op func(*nats.Conn) error) error {
	errc := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errc <- err:
		default:
		}
	})
	defer nc.SetErrorHandler(nil)
	if err := op(nc); err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Second):
		return nil
	}
}

// The embedded server's roles, checked one by one: no credentials, no
// connection; the analyst reads USAGE (as relay replay does, from the
// DATA_DIR's password) and nothing else.
func TestTrustEmbeddedNATSRoles(t *testing.T) {
	a := startAuthNATS(t)
	trustNoCredentials(t, "nats://"+a.addr)
	_, relay := a.connect(t, natsRelayUser)
	evs := replayPublish(t, relay, 6)
	_, analyst := a.connect(t, natsAnalystUser)
	trustAnalystRefusals(t, analyst, relay)
	code, out, errs := runRelay(map[string]string{"NATS_LISTEN": a.addr, "DATA_DIR": a.dataDir}, "replay")
	if code != 0 || out != ndjson(evs) {
		t.Fatalf("relay replay with the analyst's password: exit %d, stderr %q, stdout\n%s", code, errs, out)
	}
	// Without the DATA_DIR's secrets, replay says where credentials come from.
	code, _, errs = runRelay(map[string]string{"NATS_LISTEN": a.addr, "DATA_DIR": t.TempDir()}, "replay")
	if code == 0 || !strings.Contains(errs, "NATS_USER") {
		t.Fatalf("replay without credentials: exit %d, stderr %q", code, errs)
	}
	// The environment's credentials are used when given.
	pass, err := os.ReadFile(filepath.Join(a.dataDir, "secrets", secretNATSAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = runRelay(map[string]string{"NATS_URL": "nats://" + a.addr, "NATS_USER": natsAnalystUser, "NATS_PASSWORD": strings.TrimSpace(string(pass))}, "replay")
	if code != 0 || out != ndjson(evs) {
		t.Fatalf("relay replay with NATS_USER/NATS_PASSWORD: exit %d, stderr %q", code, errs)
	}
	if code, _, errs = runRelay(map[string]string{"NATS_URL": "nats://" + a.addr, "NATS_USER": natsAnalystUser, "NATS_PASSWORD": "wrong"}, "replay"); code == 0 || !strings.Contains(errs, "uthorization") {
		t.Fatalf("relay replay with a wrong password: exit %d, stderr %q", code, errs)
	}
}

// Every durable consumer relay creates on USAGE is one the analyst may not
// redefine or pull from (usageDurables): started here as the workers do.
func TestTrustUsageDurablesAreProtected(t *testing.T) {
	a := startAuthNATS(t)
	_, relay := a.connect(t, natsRelayUser)
	startServeOn(t, a)
	ctx := context.Background()
	s, err := relay.Stream(ctx, events.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	chaosWait(t, 30*time.Second, "the workers' durable consumer on USAGE", func() bool {
		names = nil
		for n := range s.ConsumerNames(ctx).Name() {
			if c, err := s.Consumer(ctx, n); err == nil && c.CachedInfo().Config.Durable != "" {
				names = append(names, n)
			}
		}
		return len(names) > 0
	})
	for _, n := range names {
		protected := false
		for _, d := range usageDurables {
			protected = protected || d == n
		}
		if !protected {
			t.Errorf("durable consumer %s on USAGE is not in usageDurables: the analyst could redefine it", n)
		}
	}
}

// startServeOn runs the workers of `relay serve` in-process against a's
// server as an external NATS (relay's credentials from the environment),
// with an embedded Redis.
func startServeOn(t *testing.T, a *authNATS) *serveProcess {
	t.Helper()
	pass, err := os.ReadFile(filepath.Join(a.dataDir, "secrets", secretNATSRelay))
	if err != nil {
		t.Fatal(err)
	}
	return startServe(t, map[string]string{
		"NATS_URL": "nats://" + a.addr, "NATS_USER": natsRelayUser, "NATS_PASSWORD": strings.TrimSpace(string(pass)),
		"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "LOG_LEVEL": "warn", "ADMIN_PASSWORD": chaosAdminPassword,
	})
}

var trustRedisAddr = regexp.MustCompile(`"addr":"([0-9.:]+)"[^\n]*"message":"embedded Redis`)

// The hostile neighbour against a real `relay serve` process: its embedded
// NATS listens on loopback and its embedded Redis on a loopback port, as
// they do by default.
func TestTrustHostileNeighbourAgainstServe(t *testing.T) {
	chaosLong(t)
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage})
	dir := t.TempDir()
	natsAddr := "127.0.0.1:" + strconv.Itoa(chaosFreePort(t))
	env := map[string]string{"DATA_DIR": dir, "HOST": "127.0.0.1", "PORT": "0", "NATS_LISTEN": natsAddr,
		"ADMIN_PASSWORD": chaosAdminPassword, "LOG_LEVEL": "info"}
	p := chaosStart(t, "serve", "serve", env)
	p.awaitListening(t)
	p.awaitReady(t, 60*time.Second)
	url := "nats://" + natsAddr

	// The secrets are the owner's only.
	for _, f := range []string{"", secretNATSRelay, secretNATSAnalyst} {
		fi, err := os.Stat(filepath.Join(dir, "secrets", f))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if f == "" {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", fi.Name(), fi.Mode().Perm(), want)
		}
	}

	t.Run("a NATS client without credentials is refused", func(t *testing.T) {
		trustNoCredentials(t, url)
		// The forged key.created of the issue cannot even be sent: its
		// secret never works.
		secret, err := secrets.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if nc, err := nats.Connect(url); err == nil {
			js, _ := jetstream.New(nc)
			env, _ := events.New(events.KeyCreated, time.Now(), "admin:admin", "", events.Key{ID: "forged", Name: "forged", KeyHash: secrets.HashKey(secret), Permissions: "all", IsActive: true})
			_, _ = streams.Publish(context.Background(), js, events.KeySubject("forged"), env, nil)
			_ = js.DeleteStream(context.Background(), events.StreamConfig)
			nc.Close()
			t.Error("connected without credentials")
		}
		if r := chaosDo(p.base, secret); r.status != http.StatusUnauthorized {
			t.Fatalf("a key forged without credentials answered %d, want 401", r.status)
		}
	})

	_, relay := trustConnect(t, url, dir, natsRelayUser)
	_, key := chaosLogin(t, p.base).setup(t, up.URL, 1)
	r := chaosDo(p.base, key)
	if !r.complete {
		t.Fatalf("relay request: %d %v", r.status, r.err)
	}

	t.Run("the analyst can read USAGE and nothing else", func(t *testing.T) {
		_, analyst := trustConnect(t, url, dir, natsAnalystUser)
		trustAnalystRefusals(t, analyst, relay)
		secret := "cr_forged"
		if r := chaosDo(p.base, secret); r.status != http.StatusUnauthorized {
			t.Fatalf("the key the analyst tried to forge answered %d", r.status)
		}
		code, out, errs := runRelay(map[string]string{"NATS_LISTEN": natsAddr, "DATA_DIR": dir}, "replay")
		if code != 0 || !strings.Contains(out, r.id) {
			t.Fatalf("relay replay (analyst): exit %d, stderr %q, stdout %q; want request %s", code, errs, out, r.id)
		}
	})

	t.Run("a Redis client without the password gets NOAUTH", func(t *testing.T) {
		m := trustRedisAddr.FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Fatalf("no embedded Redis address in the log:\n%s", chaosLastLines(p.stderr.String(), 10))
		}
		for _, pw := range []string{"", "guess"} {
			rdb := redis.NewClient(&redis.Options{Addr: m[1], Password: pw, MaxRetries: -1})
			err := rdb.Set(context.Background(), "relay:v1:hostile", "1", 0).Err()
			rdb.Close()
			if err == nil || !(strings.Contains(err.Error(), "NOAUTH") || strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), "invalid password")) {
				t.Fatalf("Redis at %s with password %q: %v; want NOAUTH or a wrong password", m[1], pw, err)
			}
		}
	})

	t.Run("ready is 503 while a stream is missing", func(t *testing.T) {
		if err := relay.DeleteStream(context.Background(), events.StreamConfig); err != nil {
			t.Fatal(err)
		}
		var body string
		chaosWait(t, 10*time.Second, "/ready 503 naming CONFIG", func() bool {
			resp, err := http.Get(p.base + "/ready")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			body = string(b[:n])
			return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "CONFIG is missing")
		})
	})

	t.Run("a restart refuses to recreate CONFIG empty", func(t *testing.T) {
		p.term(t, 30*time.Second)
		again := chaosStart(t, "serve", "serve-again", env)
		select {
		case <-again.exited:
		case <-time.After(60 * time.Second):
			t.Fatal("serve started over a lost CONFIG stream")
		}
		if again.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(again.stderr.String(), "stream CONFIG is missing") {
			t.Fatalf("restart: exit %d, stderr %s", again.cmd.ProcessState.ExitCode(), again.stderr.String())
		}
		users, _, err := embeddedNATSUsers(dir)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := startEmbeddedNATS(dir, "127.0.0.1:-1", 0, users)
		if err != nil {
			t.Fatal(err)
		}
		defer emb.stop()
		_, js := trustConnect(t, emb.loopbackURL(), dir, natsRelayUser)
		if _, err := js.Stream(context.Background(), events.StreamConfig); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatalf("CONFIG after the refused start: %v; want still missing", err)
		}
	})
}

// relay never creates CONFIG afresh over read models that applied its
// events: with CONFIG gone and the config checkpoint at 5 in Redis, `relay
// worker` exits 1 naming the stream, and CONFIG stays missing.
func TestTrustStartRefusedWhenConfigLostOverReadModels(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	ctx := context.Background()
	if err := js.DeleteStream(ctx, events.StreamConfig); err != nil {
		t.Fatal(err)
	}
	b := redistest.NewServer(t).Backend(t)
	if err := store.New(b.Client, "").StartCheckpoint(ctx, store.ProjectionConfig, 6); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runRelay(map[string]string{"NATS_URL": ns.ClientURL(), "REDIS_URL": b.URL(), "PORT": "0", "HOST": "127.0.0.1", "LOG_LEVEL": "warn"}, "worker")
	if code != 1 || !strings.Contains(errs, "stream CONFIG is missing") || !strings.Contains(errs, "applied 5") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := js.Stream(ctx, events.StreamConfig); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("CONFIG after the refused start: %v", err)
	}
}

// The banner prints the address really bound: on HOST=0.0.0.0, all
// interfaces, and the URL to use on this machine.
func TestWelcomeSaysWhatIsBound(t *testing.T) {
	for _, tc := range []struct{ addr, want, not string }{
		{"0.0.0.0:3000", "relay is listening on 0.0.0.0:3000 (all interfaces); on this machine: http://127.0.0.1:3000", ""},
		{"[::]:3000", "relay is listening on [::]:3000 (all interfaces)", ""},
		{"127.0.0.1:3000", "relay is listening on http://127.0.0.1:3000\n", "all interfaces"},
	} {
		var b strings.Builder
		printWelcome(&b, tc.addr, "off", config{AdminUsername: "admin", NATSListen: "off"}, nil, false, "")
		if !strings.Contains(b.String(), tc.want) || (tc.not != "" && strings.Contains(b.String(), tc.not)) {
			t.Errorf("%s: %q", tc.addr, b.String())
		}
	}
}

// nats.conf (the cluster's users) gives the relay and analyst roles exactly
// the permissions relay serve gives its embedded server, takes their
// passwords from the environment, and does not load without them.
func TestNATSConfRolesMatchTheEmbeddedServer(t *testing.T) {
	t.Setenv("NODE_NAME", "nats-1")
	t.Setenv("RELAY_NATS_PASSWORD", "relay-pass")
	t.Setenv("ANALYST_NATS_PASSWORD", "analyst-pass")
	opts, err := server.ProcessConfigFile("../../nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	sorted := func(p *server.Permissions) string {
		var parts []string
		for name, sp := range map[string]*server.SubjectPermission{"publish": p.Publish, "subscribe": p.Subscribe} {
			if sp == nil {
				parts = append(parts, name+": none")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s allow %v deny %v", name, slices.Sorted(slices.Values(sp.Allow)), slices.Sorted(slices.Values(sp.Deny))))
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	}
	want := map[string]struct {
		pass  string
		perms *server.Permissions
	}{
		natsRelayUser:   {"relay-pass", relayPermissions()},
		natsAnalystUser: {"analyst-pass", analystPermissions()},
	}
	if len(opts.Users) != len(want) || opts.NoAuthUser != "" || opts.Authorization != "" {
		t.Fatalf("nats.conf: %d users, no_auth_user %q, token set %v; want exactly relay and analyst", len(opts.Users), opts.NoAuthUser, opts.Authorization != "")
	}
	for _, u := range opts.Users {
		w, ok := want[u.Username]
		switch {
		case !ok:
			t.Errorf("nats.conf: unexpected user %q", u.Username)
		case u.Password != w.pass:
			t.Errorf("nats.conf: user %s does not take its password from the environment", u.Username)
		case u.Permissions == nil || sorted(u.Permissions) != sorted(w.perms):
			t.Errorf("nats.conf: user %s has permissions\n  %v\nrelay serve's embedded server gives\n  %v", u.Username, sorted(u.Permissions), sorted(w.perms))
		}
	}
	os.Unsetenv("RELAY_NATS_PASSWORD")
	if _, err := server.ProcessConfigFile("../../nats.conf"); err == nil {
		t.Error("nats.conf loads without RELAY_NATS_PASSWORD")
	}
}
