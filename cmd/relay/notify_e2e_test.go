package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"relay/edge/edgetest"
	"relay/edge/secrets"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/notify"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// An upstream 429 seen by the edge reaches a webhook, signed, within 2 s of
// the request; reset-rate-limit sends account.recovered.
func TestNotifyEndToEndUpstream429AndReset(t *testing.T) {
	env := edgetest.Start(t, redistest.Real(t), edgetest.Options{})
	up := upstreamtest.New(t)
	for i := range 2 {
		env.CreateAccount(t, events.Account{ID: fmt.Sprintf("acct%d", i), Name: fmt.Sprintf("account %d", i), APIURL: up.URL, IsActive: true, Schedulable: true}, fmt.Sprintf("sk-ant-upstream-%d", i))
	}
	key := env.CreateKey(t, events.Key{ID: "key1", Name: "k", IsActive: true})

	type hit struct {
		at     time.Time
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var hits []hit
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{time.Now(), r.Header.Clone(), b})
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	got := func() []hit { mu.Lock(); defer mu.Unlock(); return append([]hit(nil), hits...) }

	box, err := secrets.NewBox([]byte(edgetest.EncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "e2e-webhook-secret"
	name, typ, url, sec := "ops", "webhook", rcv.URL, secret
	evs := []string{events.NotifyAccountUnavailable, events.NotifyAccountRecovered}
	ch, err := notify.Create("ops", notify.Input{Name: &name, Type: &typ, URL: &url, Secret: &sec, Events: &evs}, box, notify.Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	cenv, _ := events.New(events.NotificationCreated, time.Now(), "admin", "", ch)
	seq, err := streams.Publish(context.Background(), env.JS, events.NotificationSubject(ch.ID), cenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.Store.WaitCheckpoint(wctx, store.ProjectionConfig, seq); err != nil {
		t.Fatal(err)
	}
	cfg := workers.NotifyDefaults()
	cfg.AllowPrivate = true
	n := workers.NewNotifier(env.JS, env.Store, box, zerolog.Nop(), nil, cfg)
	nctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(nctx) }()
	t.Cleanup(func() { stop(); <-done })
	<-n.Ready()

	up.Enqueue(upstreamtest.RateLimited(90*time.Second, time.Time{}))
	req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+"/api/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5-20250929","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", key)
	resp, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sent := time.Now()
	edgetest.WaitFor(t, 2*time.Second, func() bool { return len(got()) >= 1 })
	h := got()[0]
	t.Logf("webhook %v after the request", h.at.Sub(sent).Round(time.Millisecond))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(h.header.Get("X-Relay-Timestamp") + "." + string(h.body)))
	if h.header.Get("X-Relay-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Fatal("signature does not verify")
	}
	var body struct {
		Type string                        `json:"type"`
		Data events.AccountUnavailableData `json:"data"`
	}
	if err := json.Unmarshal(h.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != events.NotifyAccountUnavailable || body.Data.Status != 429 || body.Data.State != events.StateRateLimited || body.Data.AccountName == "" {
		t.Fatalf("body %s", h.body)
	}

	r := env.Do(t, http.MethodPost, "/api/v2/accounts/claude-console/"+body.Data.AccountID+"/reset-rate-limit", env.AdminToken(t), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("reset-rate-limit: %d %s", r.Status, r.Body)
	}
	edgetest.WaitFor(t, 5*time.Second, func() bool { return len(got()) >= 2 })
	if ev := got()[1].header.Get("X-Relay-Event"); ev != events.NotifyAccountRecovered {
		t.Fatalf("second notification %q", ev)
	}
}
