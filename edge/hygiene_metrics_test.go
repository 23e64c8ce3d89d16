package edge_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/store/redistest"
)

// scrape reads the edge's metrics from its metrics handler (what
// METRICS_LISTEN serves).
func scrape(t *testing.T, s *edge.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// series returns the label sets of metric name in a scrape.
func series(scraped, name string) []string {
	var out []string
	for _, line := range strings.Split(scraped, "\n") {
		if rest, ok := strings.CutPrefix(line, name+"{"); ok {
			out = append(out, rest[:strings.Index(rest, "}")])
		}
	}
	return out
}

// TestMetricsLabelsBounded sends requests with made-up methods, paths and
// unpriced model names, many more of each than any bound: the number of
// label sets of relay_http_requests_total and relay_unpriced_requests_total
// (and so the scrape's size) stays bounded, the made-up values collapsing
// into OTHER, unmatched and other. Before, every method and model became a
// series of its own.
func TestMetricsLabelsBounded(t *testing.T) {
	e := newRelayEnv(t, redistest.Embedded(t), 1)
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func() string { return fmt.Sprintf("%x", rnd.Uint64()) }
	const n = 200
	client := e.HTTP.Client()
	for i := range n {
		method := "X" + strings.ToUpper(word())
		path := []string{"/" + word(), "/api/v2/" + word(), "/docs/" + word(), "/health", "/api/v1/messages"}[i%5]
		req, _ := http.NewRequest(method, e.HTTP.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const models = 80 // more than the bound of distinct model labels
	for i := range models {
		body := strings.Replace(claudeBody, "claude-sonnet-4-5-20250929", "made-up-model-"+word(), 1)
		if resp, b := post(t, e.Env, "/api/v1/messages", e.key, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	// An upstream chooses the status relay passes on.
	e.up.Enqueue(upstreamtest.Reply{Status: 461})
	if resp, b := post(t, e.Env, "/api/v1/messages", e.key, claudeBody); resp.StatusCode != 461 {
		t.Fatalf("upstream's 461: %d %s", resp.StatusCode, b)
	}
	scraped := scrape(t, e.Edge)
	if strings.Contains(scraped, `status="461"`) || !strings.Contains(scraped, `route="/api/v1/messages",status="other"`) {
		t.Errorf("an unknown status became a label of its own:\n%s", strings.Join(series(scraped, "relay_http_requests_total"), "\n"))
	}
	reqs := series(scraped, "relay_http_requests_total")
	for _, ls := range reqs {
		if strings.Contains(ls, `method="X`) {
			t.Errorf("a made-up method became a label: %s", ls)
		}
		if strings.Contains(ls, `route="/api/v2/`+"0") || strings.Count(ls, "/") > 6 {
			t.Errorf("a made-up path became a label: %s", ls)
		}
	}
	if len(reqs) > 12 {
		t.Errorf("%d label sets of relay_http_requests_total after %d requests with made-up methods and paths:\n%s", len(reqs), n, strings.Join(reqs, "\n"))
	}
	for _, want := range []string{`method="OTHER",route="unmatched"`, `method="OTHER",route="/health"`} {
		if !strings.Contains(scraped, want) {
			t.Errorf("no series with %s:\n%s", want, strings.Join(reqs, "\n"))
		}
	}
	unpriced := series(scraped, "relay_unpriced_requests_total")
	if len(unpriced) > 51 || len(unpriced) < 50 {
		t.Errorf("%d label sets of relay_unpriced_requests_total after %d distinct unpriced models, want 50 and other", len(unpriced), models)
	}
	if !strings.Contains(scraped, `relay_unpriced_requests_total{model="other"} 30`) {
		t.Errorf("the 30 models beyond the bound are not counted under other:\n%s", strings.Join(unpriced, "\n"))
	}
	if len(scraped) > 64<<10 {
		t.Errorf("scrape of %d bytes", len(scraped))
	}
}

// TestMetricsNotPublicOnMainPort: /metrics on the main listener is a 404
// unless METRICS_TOKEN is set and presented; the metrics listener's handler
// answers.
func TestMetricsNotPublicOnMainPort(t *testing.T) {
	b := redistest.Embedded(t)
	t.Run("no token configured", func(t *testing.T) {
		env := edgetest.Start(t, b, edgetest.Options{NoWorkers: true})
		for _, tok := range []string{"", "anything"} {
			if r := env.Do(t, http.MethodGet, "/metrics", tok, nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "relay_") {
				t.Errorf("token %q: %d %.100s", tok, r.Status, r.Body)
			}
		}
		if !strings.Contains(scrape(t, env.Edge), "relay_http_requests_total") {
			t.Error("metrics handler does not serve the metrics")
		}
	})
	t.Run("token configured", func(t *testing.T) {
		env := edgetest.Start(t, b, edgetest.Options{NoWorkers: true, Edge: func(c *edge.Config) { c.MetricsToken = "scrape-secret-123" }})
		for tok, want := range map[string]int{"": 404, "scrape-secret-12": 404, "scrape-secret-1234": 404, "scrape-secret-123": 200} {
			r := env.Do(t, http.MethodGet, "/metrics", tok, nil)
			if r.Status != want || (want == 200) != strings.Contains(string(r.Body), "relay_") {
				t.Errorf("token %q: %d, want %d", tok, r.Status, want)
			}
		}
	})
}
