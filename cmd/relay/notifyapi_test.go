package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"relay/edge/edgetest"
)

// `relay serve` passes NOTIFY_ALLOW_PRIVATE to the admin API: without it a
// channel to 127.0.0.1 is refused when saved; with it the channel is saved
// and a test message reaches the local receiver through the notifier serve
// runs.
func TestServeNotificationChannelsFollowAllowPrivate(t *testing.T) {
	var mu sync.Mutex
	var deliveries []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		deliveries = append(deliveries, r.Header.Get("X-Relay-Delivery"))
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	channel := map[string]any{"name": "ops", "type": "webhook", "url": rcv.URL + "/hook", "secret": "serve-secret"}
	for _, allow := range []string{"", "true"} {
		t.Run("NOTIFY_ALLOW_PRIVATE="+allow, func(t *testing.T) {
			p := startServe(t, map[string]string{"DATA_DIR": t.TempDir(), "PORT": "0", "HOST": "127.0.0.1", "NATS_LISTEN": "off",
				"ADMIN_PASSWORD": "notify-password", "LOG_LEVEL": "warn", "NOTIFY_ALLOW_PRIVATE": allow})
			_, body := p.do(t, http.MethodPost, "/api/v2/auth/admin/login", "", map[string]string{"username": "admin", "password": "notify-password"})
			tok := token(t, body)
			st, body := p.do(t, http.MethodPost, "/api/v2/notifications", tok, channel)
			if allow == "" {
				e, _ := body["error"].(map[string]any)
				if st != http.StatusBadRequest || e["field"] != "url" {
					t.Fatalf("private channel without the opt-in: %d %v", st, body)
				}
				return
			}
			if st != http.StatusCreated {
				t.Fatalf("create: %d %v", st, body)
			}
			id, _ := body["data"].(map[string]any)["id"].(string)
			st, body = p.do(t, http.MethodPost, "/api/v2/notifications/"+id+"/test", tok, nil)
			if st != http.StatusAccepted {
				t.Fatalf("test: %d %v", st, body)
			}
			want, _ := body["data"].(map[string]any)["deliveryId"].(string)
			edgetest.WaitFor(t, 15*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(deliveries) > 0
			})
			mu.Lock()
			defer mu.Unlock()
			if len(deliveries) != 1 || deliveries[0] != want {
				t.Fatalf("deliveries %v, want [%s]", deliveries, want)
			}
		})
	}
}
