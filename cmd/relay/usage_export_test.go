package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// relay serve hands its edge the analyst's connection: the usage export
// answers 503 without analyst credentials and streams what relay replay
// does with them, and an open live feed's consumer is a subscription of
// the analyst's connection (the one TestAnalystConnectionCannotPublish
// shows cannot write), not of relay's.
func TestServeUsageExportReadsAsTheAnalyst(t *testing.T) {
	a := startAuthNATS(t)
	_, relayJS := a.connect(t, natsRelayUser)
	evs := replayPublish(t, relayJS, 5)
	secret := func(name string) string {
		b, err := os.ReadFile(filepath.Join(a.dataDir, "secrets", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	env := func(more ...string) map[string]string {
		m := map[string]string{
			"NATS_URL": "nats://" + a.addr, "NATS_USER": natsRelayUser, "NATS_PASSWORD": secret(secretNATSRelay),
			"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "LOG_LEVEL": "warn", "ADMIN_PASSWORD": chaosAdminPassword,
		}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	login := func(p *serveProcess) string {
		_, body := p.do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": chaosAdminPassword})
		return token(t, body)
	}
	exportReq := func(p *serveProcess, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v2/usage/export?format=ndjson", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	t.Run("without analyst credentials: off", func(t *testing.T) {
		p := startServe(t, env())
		if status, body := exportReq(p, login(p)); status != http.StatusServiceUnavailable || !strings.Contains(body, "NATS_ANALYST_USER") {
			t.Fatalf("export: %d %s; want 503", status, body)
		}
		p.stop(t)
	})

	t.Run("with analyst credentials", func(t *testing.T) {
		p := startServe(t, env("NATS_ANALYST_USER", natsAnalystUser, "NATS_ANALYST_PASSWORD", secret(secretNATSAnalyst)))
		tok := login(p)
		analystSubs := func() (subs int, found bool) {
			cz, err := a.emb.Connz(&server.ConnzOptions{Username: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cz.Conns {
				if c.Name == "relay-serve-analyst" {
					if c.AuthorizedUser != natsAnalystUser {
						t.Fatalf("the edge's analyst connection is user %q", c.AuthorizedUser)
					}
					subs, found = subs+int(c.NumSubs), true
				}
			}
			return subs, found
		}
		before, found := analystSubs()
		if !found {
			t.Fatal("no relay-serve-analyst connection on the server")
		}
		// The live feed first, while nothing else has used the analyst's
		// connection: its subscriptions are the feed's.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v2/usage/live", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != http.StatusOK || err != nil || !strings.HasPrefix(line, ": following USAGE") {
			t.Fatalf("live: %d %q %v", resp.StatusCode, line, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if n, _ := analystSubs(); n > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the open live feed added no subscription to the analyst's connection (%d)", before)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if status, body := exportReq(p, tok); status != http.StatusOK || body != ndjson(evs) {
			t.Fatalf("export: %d\n%s\nwant\n%s", status, body, ndjson(evs))
		}
		p.stop(t)
	})
}
