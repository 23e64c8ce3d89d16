package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"relay/events"
	"relay/events/streams"
	"relay/events/usagelog"
)

// The connection the usage export and live feed read with is the
// analyst's, on relay serve (password from DATA_DIR) and on an edge
// against a cluster (NATS_ANALYST_*): it reads USAGE, and every write is
// refused by the server.
func TestAnalystConnectionCannotPublish(t *testing.T) {
	a := startAuthNATS(t)
	_, relayJS := a.connect(t, natsRelayUser)
	evs := replayPublish(t, relayJS, 5)
	analystPass, err := os.ReadFile(filepath.Join(a.dataDir, "secrets", secretNATSAnalyst))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		emb  *embeddedNATS
	}{
		{"relay serve", map[string]string{"DATA_DIR": a.dataDir}, a.emb},
		{"relay edge with NATS_ANALYST_USER", map[string]string{"NATS_URL": "nats://" + a.addr,
			"NATS_ANALYST_USER": natsAnalystUser, "NATS_ANALYST_PASSWORD": strings.TrimSpace(string(analystPass))}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			nc, js, err := connectAnalyst(cfg, tc.emb, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if err != nil || nc == nil {
				t.Fatalf("connect: %v", err)
			}
			t.Cleanup(nc.Close)
			if u := nc.Opts.User; u != natsAnalystUser {
				t.Fatalf("connected as %q", u)
			}
			// A publish straight on a usage subject: a permission violation.
			err = trustAsync(nc, func(nc *nats.Conn) error {
				return nc.Publish(events.UsageSubject(events.PlatformClaudeConsole, "victim"), []byte(`{}`))
			})
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("publish on relay.usage: %v, want a permission violation", err)
			}
			// A JetStream publish of a well-formed event: refused, nothing stored.
			env, err := events.New(events.UsageRecorded, time.Now(), "key:victim", "", events.Usage{ID: "forged", KeyID: "victim", CostNanos: 1 << 40})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := streams.Publish(ctx, js, events.UsageSubject(events.PlatformClaudeConsole, "victim"), env, nil); err == nil {
				t.Fatal("a JetStream publish through the analyst connection succeeded")
			}
			dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
			defer dcancel()
			if err := js.DeleteStream(dctx, events.StreamUsage); err == nil {
				t.Fatal("the analyst connection deleted USAGE")
			}
			// (TestTrustEmbeddedNATSRoles tries the rest of what the role
			// must not do.) Nothing was stored.
			s, err := relayJS.Stream(context.Background(), events.StreamUsage)
			if err != nil || s.CachedInfo().State.Msgs != uint64(len(evs)) {
				t.Fatalf("USAGE after the attempts: %v, %+v", err, s.CachedInfo().State)
			}
			// And it reads: the export streams what relay published.
			var out bytes.Buffer
			st, err := usagelog.Export(context.Background(), js, usagelog.ExportRequest{Format: usagelog.NDJSON}, &out)
			if err != nil || out.String() != ndjson(evs) || st.Rows != uint64(len(evs)) {
				t.Fatalf("export: %v, %d rows:\n%s", err, st.Rows, out.String())
			}
		})
	}

	// NATS_LISTEN=off: the analyst connects in-process, and is still the
	// analyst.
	t.Run("relay serve with NATS_LISTEN=off", func(t *testing.T) {
		dir := t.TempDir()
		users, _, err := embeddedNATSUsers(dir)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := startEmbeddedNATS(dir, "off", 0, users)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emb.stop)
		cfg, err := loadConfig(func(k string) string { return map[string]string{"DATA_DIR": dir, "NATS_LISTEN": "off"}[k] })
		if err != nil {
			t.Fatal(err)
		}
		nc, _, err := connectAnalyst(cfg, emb, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil || nc == nil {
			t.Fatalf("connect: %v", err)
		}
		defer nc.Close()
		if nc.Opts.User != natsAnalystUser {
			t.Fatalf("connected as %q", nc.Opts.User)
		}
		err = trustAsync(nc, func(nc *nats.Conn) error { return nc.Publish("relay.usage.x.y", nil) })
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("publish in-process: %v, want a permission violation", err)
		}
	})

	t.Run("relay's credentials given as the analyst's", func(t *testing.T) {
		relayPass, err := os.ReadFile(filepath.Join(a.dataDir, "secrets", secretNATSRelay))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(func(k string) string {
			return map[string]string{"NATS_URL": "nats://" + a.addr, "NATS_ANALYST_USER": natsRelayUser, "NATS_ANALYST_PASSWORD": strings.TrimSpace(string(relayPass))}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		nc, _, err := connectAnalyst(cfg, nil)
		if err == nil || nc != nil || !strings.Contains(err.Error(), "may publish") {
			t.Fatalf("connect with relay's rights: %v; want refused", err)
		}
	})
	t.Run("a wrong password", func(t *testing.T) {
		cfg, _ := loadConfig(func(k string) string {
			return map[string]string{"NATS_URL": "nats://" + a.addr, "NATS_ANALYST_USER": natsAnalystUser, "NATS_ANALYST_PASSWORD": "wrong"}[k]
		})
		if nc, _, err := connectAnalyst(cfg, nil, nats.NoReconnect()); err == nil || nc != nil {
			t.Fatalf("connect with a wrong password: %v", err)
		}
	})
	t.Run("no analyst credentials against NATS_URL: off", func(t *testing.T) {
		cfg, _ := loadConfig(func(k string) string { return map[string]string{"NATS_URL": "nats://" + a.addr}[k] })
		if nc, js, err := connectAnalyst(cfg, nil); nc != nil || js != nil || err != nil {
			t.Fatalf("got %v %v %v; want nothing", nc, js, err)
		}
	})
}

// NATS_ANALYST_* are checked with the rest of the configuration.
func TestAnalystConfig(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "analyst.creds")
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env  map[string]string
		want string // "" accepted, else a part of the error
	}{
		{map[string]string{}, ""},
		{map[string]string{"NATS_ANALYST_USER": "analyst", "NATS_ANALYST_PASSWORD": "p"}, ""},
		{map[string]string{"NATS_ANALYST_CREDS": creds}, ""},
		{map[string]string{"NATS_ANALYST_USER": "analyst"}, "go together"},
		{map[string]string{"NATS_ANALYST_PASSWORD": "p"}, "go together"},
		{map[string]string{"NATS_ANALYST_CREDS": creds, "NATS_ANALYST_USER": "analyst", "NATS_ANALYST_PASSWORD": "p"}, "not both"},
		{map[string]string{"NATS_ANALYST_CREDS": creds + ".missing"}, "NATS_ANALYST_CREDS"},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(func(k string) string { return tc.env[k] })
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v; want %q", tc.env, err, tc.want)
		}
		if err == nil && tc.env["NATS_ANALYST_CREDS"] != "" {
			if o, err := analystAuth(config{NATSURL: "nats://x", NATSAnalystCreds: cfg.NATSAnalystCreds}); o == nil || err != nil {
				t.Errorf("creds: %v", err)
			}
		}
	}
}
