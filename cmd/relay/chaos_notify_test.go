package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"relay/edge/secrets"
	"relay/events"
	"relay/events/notify"
	"relay/events/streams"
	"relay/store"
	"relay/workers"
)

// A `relay worker` SIGKILLed in the middle of a burst of 100 notifications,
// with deliveries cut off mid-request: another worker delivers every one,
// and each cut-off delivery comes again with the same X-Relay-Delivery id.
func TestChaosNotifyWorkerSIGKILLedMidBurstDeliversEveryOne(t *testing.T) {
	chaosLong(t)
	js, rb, env := chaosSplit(t)
	env["NOTIFY_ALLOW_PRIVATE"] = "true"
	st := store.New(rb.Client, "")

	var mu sync.Mutex
	var ids []string
	var dead atomic.Bool
	gate := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		i := len(ids)
		ids = append(ids, r.Header.Get("X-Relay-Delivery"))
		mu.Unlock()
		if i >= 20 && !dead.Load() {
			// The first worker's deliveries from the 20th on hang until it
			// is killed.
			select {
			case <-gate:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(rcv.Close)
	seen := func() (all []string, distinct map[string]int) {
		mu.Lock()
		defer mu.Unlock()
		distinct = map[string]int{}
		for _, id := range ids {
			distinct[id]++
		}
		return append([]string(nil), ids...), distinct
	}

	key, err := secrets.ParseKey(chaosEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	name, typ, url, secret := "burst", "webhook", rcv.URL, "chaos-secret"
	ch, err := notify.Create("burst", notify.Input{Name: &name, Type: &typ, URL: &url, Secret: &secret}, box, notify.Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cenv, _ := events.New(events.NotificationCreated, time.Now(), "admin", "", ch)
	seq, err := streams.Publish(ctx, js, events.NotificationSubject(ch.ID), cenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := chaosStart(t, "worker", "worker1", env)
	chaosWait(t, 60*time.Second, "the channel projected and the delivery consumer created", func() bool {
		cp, _ := st.Checkpoint(ctx, store.ProjectionConfig)
		_, err := js.Consumer(ctx, events.StreamNotify, workers.NotifyDeliverDurable)
		return cp >= seq && err == nil
	})
	want := map[string]bool{}
	for range 100 {
		subject, env, err := notify.Test(ch, time.Now(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, js, subject, env, nil); err != nil {
			t.Fatal(err)
		}
		want[env.ID] = true
	}
	chaosWait(t, 60*time.Second, "deliveries hanging in the first worker", func() bool { all, _ := seen(); return len(all) >= 24 })
	first.kill()
	dead.Store(true)
	close(gate)
	all, _ := seen()
	cut := map[string]bool{}
	for _, id := range all[20:] {
		cut[id] = true
	}
	t.Logf("worker SIGKILLed with %d requests received, %d of them cut off", len(all), len(cut))
	chaosStart(t, "worker", "worker2", env)
	// The cut-off deliveries wait out their AckWait (30 s) before the
	// second worker gets them.
	chaosWait(t, 90*time.Second, "every notification delivered", func() bool { _, d := seen(); return len(d) >= len(want) })
	_, distinct := seen()
	for id := range distinct {
		if !want[id] {
			t.Fatalf("unknown delivery id %q", id)
		}
	}
	for id := range cut {
		if distinct[id] < 2 {
			t.Fatalf("delivery %s was cut off by the kill but came %d times", id, distinct[id])
		}
	}
}
