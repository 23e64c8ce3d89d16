package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"relay/events"
	"relay/events/natstest"
	"relay/events/streams"
)

// Startup work several processes share is idempotent and never fatal
// (issue 13, cluster reliability): an edge started against a fresh cluster
// before any worker runs records the first admin, cannot see it in the read
// models yet (nobody projects it), and must start anyway, printing the
// admin's password, rather than exit with "recorded but not visible yet".
// Once a worker runs, the admin logs in.
func TestEdgeStartsWhenTheFirstAdminIsNotVisibleYet(t *testing.T) {
	chaosLong(t)
	_, _, env := chaosSplit(t)
	delete(env, "ADMIN_PASSWORD")
	edge := chaosStart(t, "edge", "edge", env)
	edge.awaitListening(t)
	out := edge.stdout.String()
	i := strings.Index(out, "generated password ")
	if i < 0 {
		t.Fatalf("the edge did not print the admin it created:\n%s", out)
	}
	password := strings.Fields(out[i+len("generated password "):])[0]
	chaosStart(t, "worker", "worker", env)
	var status int
	chaosWait(t, 30*time.Second, "the admin logs in once a worker projects it", func() bool {
		resp, err := http.Post(edge.base+"/api/v2/auth/admin/login", "application/json",
			strings.NewReader(`{"username":"admin","password":"`+password+`"}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return status == http.StatusOK
	})
}

// NATS_REPLICAS unset means "as the cluster allows" (streams.AutoReplicas),
// not 1; set, it is taken as it is.
func TestNATSReplicasDefaultsToTheCluster(t *testing.T) {
	for in, want := range map[string]int{"": streams.AutoReplicas, "3": 3, "1": 1} {
		cfg, err := loadConfig(func(k string) string {
			if k == "NATS_REPLICAS" {
				return in
			}
			return ""
		})
		if err != nil || cfg.NATSReplicas != want {
			t.Errorf("NATS_REPLICAS=%q: %d %v; want %d", in, cfg.NATSReplicas, err, want)
		}
	}
}

// The readiness checks: a missing stream makes relay not ready ("streams");
// a stream with fewer replicas than the cluster could give is reported
// ("replicas", advisory).
func TestStreamsReadyChecks(t *testing.T) {
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	ctx := context.Background()
	missing, thin := checkStreams(ctx, js, streams.Placement{Want: 1})
	if missing != nil || thin != nil {
		t.Fatalf("all streams present: %v / %v", missing, thin)
	}
	if _, thin = checkStreams(ctx, js, streams.Placement{Want: 3}); thin == nil || !strings.Contains(thin.Error(), "USAGE has 1 replica(s), the cluster could give it 3") {
		t.Fatalf("replicas: %v", thin)
	}
	checks := streamsReadyChecks(js, streams.Placement{Want: 1})
	if checks[0].Name != "streams" || checks[0].Advisory || checks[1].Name != "replicas" || !checks[1].Advisory {
		t.Fatalf("checks %+v", checks)
	}
	if err := js.DeleteStream(ctx, events.StreamState); err != nil {
		t.Fatal(err)
	}
	if missing, _ = checkStreams(ctx, js, streams.Placement{Want: 1}); missing == nil || !strings.Contains(missing.Error(), "STATE is missing") {
		t.Fatalf("STATE deleted: %v", missing)
	}
}

var workerAddr = regexp.MustCompile(`"addr":"([0-9.:]+)"[^\n]*"message":"worker started"`)

// A worker's /ready is 503 naming the stream while one relay needs is
// missing (deleted under it), as the edge's is.
func TestWorkerNotReadyWhileAStreamIsMissing(t *testing.T) {
	chaosLong(t)
	js, _, env := chaosSplit(t)
	env["LOG_LEVEL"] = "info"
	w := chaosStart(t, "worker", "worker", env)
	var base string
	chaosWait(t, 60*time.Second, "the worker listening", func() bool {
		if m := workerAddr.FindStringSubmatch(w.stderr.String()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return w.done()
	})
	if base == "" {
		t.Fatalf("worker exited: %s", chaosLastLines(w.stderr.String(), 10))
	}
	w.base = base
	w.awaitReady(t, 60*time.Second)
	if err := js.DeleteStream(context.Background(), events.StreamState); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	chaosWait(t, 10*time.Second, "worker /ready 503 naming STATE", func() bool {
		resp, err := http.Get(base + "/ready")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body = nil
		_ = json.NewDecoder(resp.Body).Decode(&body)
		problems, _ := body["problems"].(map[string]any)
		s, _ := problems["streams"].(string)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(s, "STATE is missing")
	})
}
