package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
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
