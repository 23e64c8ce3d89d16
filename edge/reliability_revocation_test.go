package edge_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/events/natstest"
	"relay/store/redistest"
)

// Property 17: a key deleted through the admin API of one edge stops
// working within 2 s on every edge sharing NATS and Redis (here a second
// edge-only process), and a freshly started edge refuses it too. Each edge
// is polled with GET /api/v1/models (authenticated, no upstream call)
// until it answers 401; then a relay request gets the same 401 as an
// unknown key.
func TestReliabilityRevokedKeyRefusedOnEveryEdgeWithin2s(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		ns := natstest.Start(t)
		e1 := relStart(t, b, 1, edgetest.Options{NATS: ns})
		e2 := edgetest.Start(t, b, edgetest.Options{NATS: ns, NoWorkers: true})
		relCatalogCaughtUp(t, e2)
		edges := []*edgetest.Env{e1.Env, e2}
		models := func(env *edgetest.Env) int {
			req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/api/v1/models", nil)
			req.Header.Set("x-api-key", e1.key)
			resp, err := env.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for i, env := range edges {
			if r := relDo(context.Background(), env.HTTP.Client(), env.HTTP.URL, e1.key, relBody); !r.complete {
				t.Fatalf("edge %d before the delete: %d %s", i+1, r.status, r.body)
			}
		}
		unknown := relDo(context.Background(), e1.HTTP.Client(), e1.HTTP.URL, "cr_"+strings.Repeat("0", 64), relBody)

		tok := e1.AdminToken(t)
		deleted := time.Now()
		if r := e1.Do(t, http.MethodDelete, "/api/v2/keys/key1", tok, nil); r.Status != http.StatusOK {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		answered := time.Since(deleted)
		for i, env := range edges {
			var took time.Duration
			for {
				if models(env) == http.StatusUnauthorized {
					took = time.Since(deleted)
					break
				}
				if time.Since(deleted) > 2*time.Second {
					t.Fatalf("property 17 (revocation within 2 s on every edge): edge %d still accepts the key %v after the delete", i+1, time.Since(deleted))
				}
				time.Sleep(5 * time.Millisecond)
			}
			r := relDo(context.Background(), env.HTTP.Client(), env.HTTP.URL, e1.key, relBody)
			if r.status != http.StatusUnauthorized || string(r.body) != string(unknown.body) {
				t.Fatalf("edge %d after the delete: %d %s (unknown key: %s)", i+1, r.status, r.body, unknown.body)
			}
			t.Logf("edge %d refuses the deleted key %v after the delete was sent (the delete answered after %v)", i+1, took.Round(time.Millisecond), answered.Round(time.Millisecond))
		}
		// A restarted edge folds CONFIG from the start: still refused.
		e3 := edgetest.Start(t, b, edgetest.Options{NATS: ns, NoWorkers: true})
		if r := relDo(context.Background(), e3.HTTP.Client(), e3.HTTP.URL, e1.key, relBody); r.status != http.StatusUnauthorized || string(r.body) != string(unknown.body) {
			t.Fatalf("property 17: a restarted edge answers the deleted key with %d %s", r.status, r.body)
		}
		if got := e1.up.Total(); got != 2 {
			t.Fatalf("%d upstream calls, want the 2 before the delete", got)
		}
	})
}
