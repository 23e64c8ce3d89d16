package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"relay/edge/edgetest"
)

// serveProcess is one `relay serve` run in-process.
type serveProcess struct {
	base   string
	stdout *edgetest.LogBuffer
	stderr *edgetest.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

// listenLine matches the welcome text once it is complete: its last line
// ("log in:") comes after the address and the admin's password.
var listenLine = regexp.MustCompile(`(?s)relay is listening on [^\n]*?(http://\S+).*log in:`)

func startServe(t *testing.T, env map[string]string) *serveProcess {
	t.Helper()
	p := &serveProcess{stdout: &edgetest.LogBuffer{}, stderr: &edgetest.LogBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	getenv := func(k string) string {
		if v, ok := env[k]; ok || k != "METRICS_LISTEN" {
			return v
		}
		return "127.0.0.1:0" // tests run side by side: no fixed port
	}
	go func() { p.done <- runServer(ctx, "serve", nil, getenv, p.stdout, p.stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listenLine.FindStringSubmatch(p.stdout.String()); m != nil {
			p.base = m[1]
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited: %v\nstderr: %s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stderr: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *serveProcess) stop(t *testing.T) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("serve did not stop within 30s of its context ending")
	}
}

func (p *serveProcess) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func token(t *testing.T, body map[string]any) string {
	t.Helper()
	data, _ := body["data"].(map[string]any)
	tok, _ := data["token"].(string)
	if tok == "" {
		t.Fatalf("no token in %v", body)
	}
	return tok
}

// A restart on the same DATA_DIR rebuilds the embedded Redis from the
// streams: the admin and a changed password survive, and the original
// ADMIN_PASSWORD in the environment does not reset the change.
func TestServeRestartKeepsTheChangedPassword(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off", "ADMIN_PASSWORD": "first-password", "LOG_LEVEL": "warn"}
	p := startServe(t, env)
	if !strings.Contains(p.stdout.String(), "admin created") {
		t.Fatalf("first start did not create the admin: %s", p.stdout.String())
	}
	for _, path := range []string{"/health", "/ready"} {
		if st, _ := p.do(t, http.MethodGet, path, "", nil); st != http.StatusOK {
			t.Fatalf("%s: %d", path, st)
		}
	}
	st, body := p.do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "first-password"})
	if st != http.StatusOK {
		t.Fatalf("login %d %v", st, body)
	}
	before := token(t, body)
	st, body = p.do(t, http.MethodPost, "/api/v2/auth/change-password", before, map[string]string{"currentPassword": "first-password", "newPassword": "second-password"})
	if st != http.StatusOK {
		t.Fatalf("change %d %v", st, body)
	}
	after := token(t, body)
	p.stop(t)

	p = startServe(t, env)
	if st, _ := p.do(t, http.MethodGet, "/ready", "", nil); st != http.StatusOK {
		t.Fatalf("ready after restart: %d", st)
	}
	if st, _ := p.do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "first-password"}); st != http.StatusUnauthorized {
		t.Fatalf("ADMIN_PASSWORD reset the changed password: %d", st)
	}
	if st, _ := p.do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "second-password"}); st != http.StatusOK {
		t.Fatalf("changed password lost: %d", st)
	}
	if st, _ := p.do(t, http.MethodGet, "/api/v2/auth/me", before, nil); st != http.StatusUnauthorized {
		t.Fatalf("token from before the change works after restart: %d", st)
	}
	if st, _ := p.do(t, http.MethodGet, "/api/v2/auth/me", after, nil); st != http.StatusOK {
		t.Fatalf("token from after the change refused after restart: %d", st)
	}
}

func TestServeRefusesASharedDataDir(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATA_DIR": dir, "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off", "LOG_LEVEL": "warn"}
	p := startServe(t, env)
	if !strings.Contains(p.stdout.String(), "generated password") {
		t.Fatalf("no generated password printed: %s", p.stdout.String())
	}
	err := runServer(context.Background(), "serve", nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second serve on one DATA_DIR: %v", err)
	}
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	env := map[string]string{"PORT": "x", "LOG_LEVEL": "loud", "USAGE_RETENTION": "forever", "NATS_LISTEN": "nowhere"}
	var stderr bytes.Buffer
	code := run([]string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"PORT", "LOG_LEVEL", "USAGE_RETENTION", "NATS_LISTEN"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("error lacks %s: %s", want, stderr.String())
		}
	}
	if code := run([]string{"edge"}, func(string) string { return "" }, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "NATS_URL is required") {
		t.Fatalf("edge without NATS_URL: %d %s", code, stderr.String())
	}
	if code := run([]string{"bogus"}, func(string) string { return "" }, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("unknown command: %d", code)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"400d": 400 * 24 * time.Hour, "15d": 15 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "xd", "-1d", "1d1x"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNATSSyncSetting(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "always": 0, "100ms": 100 * time.Millisecond, "1s": time.Second} {
		cfg, err := loadConfig(func(k string) string {
			if k == "NATS_SYNC" {
				return in
			}
			return ""
		})
		if err != nil || cfg.NATSSync != want {
			t.Errorf("NATS_SYNC=%q: %v %v", in, cfg.NATSSync, err)
		}
	}
	for _, bad := range []string{"never", "-1s", "2m"} {
		if _, err := loadConfig(func(k string) string {
			if k == "NATS_SYNC" {
				return bad
			}
			return ""
		}); err == nil || !strings.Contains(err.Error(), "NATS_SYNC") {
			t.Errorf("NATS_SYNC=%q accepted: %v", bad, err)
		}
	}
}

// USAGE_MAX_BYTES, STATE_MAX_BYTES and CONFIG_MAX_BYTES read sizes with
// units, default to no cap, and refuse what is not a size.
func TestStreamByteCapSettings(t *testing.T) {
	env := map[string]string{"USAGE_MAX_BYTES": "10GB", "STATE_MAX_BYTES": "512MiB", "CONFIG_MAX_BYTES": "1048576"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UsageMaxBytes != 10e9 || cfg.StateMaxBytes != 512<<20 || cfg.ConfigMaxBytes != 1<<20 {
		t.Fatalf("caps %d %d %d", cfg.UsageMaxBytes, cfg.StateMaxBytes, cfg.ConfigMaxBytes)
	}
	if cfg, err := loadConfig(func(string) string { return "" }); err != nil || cfg.UsageMaxBytes != 0 || cfg.StateMaxBytes != 0 || cfg.ConfigMaxBytes != 0 {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	for _, bad := range []string{"-1", "lots", "10XB", "1.5GB", "99999999999TB"} {
		_, err := loadConfig(func(k string) string {
			if k == "USAGE_MAX_BYTES" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "USAGE_MAX_BYTES") {
			t.Errorf("USAGE_MAX_BYTES=%q: %v", bad, err)
		}
	}
}
