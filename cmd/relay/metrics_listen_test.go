package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

var metricsLine = regexp.MustCompile(`metrics: (http://\S+/metrics) \(METRICS_LISTEN\)`)

// TestServeMetricsOnTheirOwnListener: `relay serve` answers /metrics on
// METRICS_LISTEN (loopback by default), and on the main port only to a
// scraper presenting METRICS_TOKEN.
func TestServeMetricsOnTheirOwnListener(t *testing.T) {
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const token = "metrics-token-0123456789"
	p := startServe(t, map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off",
		"METRICS_LISTEN": "127.0.0.1:0", "METRICS_TOKEN": token, "LOG_LEVEL": "warn"})
	m := metricsLine.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("the banner does not name the metrics listener: %s", p.stdout.String())
	}
	get(p.base+"/health", "")
	if code, body := get(m[1], ""); code != http.StatusOK || !strings.Contains(body, "relay_http_requests_total") {
		t.Fatalf("metrics listener: %d %.200s", code, body)
	}
	if code, body := get(p.base+"/metrics", ""); code != http.StatusNotFound || strings.Contains(body, "relay_") {
		t.Fatalf("main port without the token: %d %.200s", code, body)
	}
	if code, body := get(p.base+"/metrics", token); code != http.StatusOK || !strings.Contains(body, "relay_http_requests_total") {
		t.Fatalf("main port with the token: %d %.200s", code, body)
	}

	off := startServe(t, map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off",
		"METRICS_LISTEN": "off", "LOG_LEVEL": "warn"})
	if !strings.Contains(off.stdout.String(), "metrics: off") {
		t.Fatalf("METRICS_LISTEN=off: banner %s", off.stdout.String())
	}
	if code, _ := get(off.base+"/metrics", ""); code != http.StatusNotFound {
		t.Fatalf("METRICS_LISTEN=off, main port: %d", code)
	}
}

func TestMetricsConfigValidated(t *testing.T) {
	for _, env := range []map[string]string{{"METRICS_LISTEN": "nowhere"}, {"METRICS_TOKEN": "short"}} {
		var stderr bytes.Buffer
		if code := run([]string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d %s", env, code, stderr.String())
		}
		for k := range env {
			if !strings.Contains(stderr.String(), k) {
				t.Errorf("%v: error does not name %s: %s", env, k, stderr.String())
			}
		}
	}
}

// TestWorkerMetricsOnMainPortNeedTheToken: a worker's /metrics on PORT
// (its ops port, on HOST) answers only METRICS_TOKEN as a Bearer token; the
// metrics themselves go to METRICS_LISTEN.
func TestWorkerMetricsOnMainPortNeedTheToken(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "relay_usage_cost_usd_total 1\n") })
	for _, tc := range []struct {
		token, sent string
		want        int
	}{
		{"", "", 404}, {"", "anything", 404},
		{"worker-metrics-token", "", 404}, {"worker-metrics-token", "worker-metrics-toke", 404},
		{"worker-metrics-token", "worker-metrics-token", 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.sent != "" {
			req.Header.Set("Authorization", "Bearer "+tc.sent)
		}
		withMetricsToken(tc.token, inner).ServeHTTP(rec, req)
		if rec.Code != tc.want || (tc.want == 404) == strings.Contains(rec.Body.String(), "relay_") {
			t.Errorf("token %q, sent %q: %d %q", tc.token, tc.sent, rec.Code, rec.Body.String())
		}
	}
	if addr, err := startMetrics(t.Context(), "off", inner, zerolog.Nop()); err != nil || addr != "off" {
		t.Errorf("METRICS_LISTEN=off: %q %v", addr, err)
	}
}
