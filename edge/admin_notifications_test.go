package edge_test

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
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/secrets"
	"relay/events"
	"relay/store/redistest"
	"relay/workers"
)

// apiChannel is a notification channel as answers show it.
type apiChannel struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Type            string     `json:"type"`
	URL             string     `json:"url"`
	HasSecret       bool       `json:"hasSecret"`
	Events          []string   `json:"events"`
	Enabled         bool       `json:"enabled"`
	CooldownSeconds int        `json:"cooldownSeconds"`
	IsDeleted       bool       `json:"isDeleted"`
	DeletedAt       *time.Time `json:"deletedAt"`
	Version         uint64     `json:"version"`
}

type apiDelivery struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Attempt    int    `json:"attempt"`
	StatusCode int    `json:"statusCode"`
	Outcome    string `json:"outcome"`
	Error      string `json:"error"`
}

// notifyEnv starts relay with channels to private addresses allowed or not
// (NOTIFY_ALLOW_PRIVATE): the test receivers listen on 127.0.0.1.
func notifyEnv(t *testing.T, b redistest.Backend, allowPrivate bool, logs io.Writer) *edgetest.Env {
	t.Helper()
	return edgetest.Start(t, b, edgetest.Options{Log: logs, Edge: func(c *edge.Config) { c.NotifyAllowPrivate = allowPrivate }})
}

// hookReceiver is a local webhook receiver recording every request.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex // mu protects got
	got []hookRequest
}

type hookRequest struct {
	path   string
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{path: r.URL.RequestURI(), header: r.Header.Clone(), body: body})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// runNotifier runs the workers' notifier on env's streams until the test
// ends, deliveries to private addresses allowed as the receivers need.
func runNotifier(t *testing.T, env *edgetest.Env) {
	t.Helper()
	box, err := secrets.NewBox([]byte(edgetest.EncryptionKey))
	if err != nil {
		t.Fatal(err)
	}
	cfg := workers.NotifyDefaults()
	cfg.AllowPrivate, cfg.Timeout, cfg.RetryBase, cfg.RetryMax = true, 2*time.Second, 50*time.Millisecond, 200*time.Millisecond
	n := workers.NewNotifier(env.JS, env.Store, box, zerolog.Nop(), nil, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("notifier not ready")
	}
}

func channelPath(id, rest string) string { return "/api/v2/notifications/" + id + rest }

func TestNotificationChannelLifecycle(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := notifyEnv(t, b, true, nil)
		tok := env.AdminToken(t)
		rcv := newHookReceiver(t)
		hook := rcv.URL + "/hooks/PATHTOKEN-7f3e9a1c?token=QUERYTOKEN-5d6e8f"

		created, r := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, map[string]any{
			"name": "  ops  ", "type": "webhook", "url": hook, "secret": "whsec-lifecycle-0a1b2c",
			"events": []string{"account.recovered", "account.unavailable", "account.unavailable"},
		})
		u, _ := url.Parse(rcv.URL)
		// The URL shows as a mask: scheme, host and the last 4 characters.
		want := apiChannel{ID: created.ID, Name: "ops", Type: "webhook", URL: "http://" + u.Host + "/****" + hook[len(hook)-4:], HasSecret: true,
			Events: []string{"account.unavailable", "account.recovered"}, Enabled: true, CooldownSeconds: 600, Version: created.Version}
		if created.ID == "" || created.Version == 0 || fmt.Sprint(created) != fmt.Sprint(want) {
			t.Fatalf("created\n got %+v\nwant %+v", created, want)
		}
		if r.Header.Get("ETag") != `"`+strconv.FormatUint(created.Version, 10)+`"` {
			t.Fatalf("ETag %q, version %d", r.Header.Get("ETag"), created.Version)
		}

		// Read-your-writes: the answer of the write is what a read shows at
		// once, one by one and in the list.
		read, r := call[apiChannel](t, env, http.StatusOK, http.MethodGet, channelPath(created.ID, ""), tok, nil)
		if fmt.Sprint(read) != fmt.Sprint(want) || r.Header.Get("ETag") == "" {
			t.Fatalf("read %+v", read)
		}
		list, _ := call[page[apiChannel]](t, env, http.StatusOK, http.MethodGet, "/api/v2/notifications?search=OPS", tok, nil)
		if list.Total != 1 || len(list.Items) != 1 || fmt.Sprint(list.Items[0]) != fmt.Sprint(want) || list.Page != 1 || list.PageSize != 20 {
			t.Fatalf("list %+v", list)
		}

		// A partial update changes the fields sent and only those.
		updated, _ := call[apiChannel](t, env, http.StatusOK, http.MethodPut, channelPath(created.ID, ""), tok, map[string]any{
			"name": "ops-renamed", "events": []string{"key.expiring"}, "cooldownSeconds": 60, "enabled": false,
		})
		want.Name, want.Events, want.CooldownSeconds, want.Enabled = "ops-renamed", []string{"key.expiring"}, 60, false
		want.Version = updated.Version
		if updated.Version <= created.Version || fmt.Sprint(updated) != fmt.Sprint(want) {
			t.Fatalf("updated\n got %+v\nwant %+v", updated, want)
		}
		if read, _ := call[apiChannel](t, env, http.StatusOK, http.MethodGet, channelPath(created.ID, ""), tok, nil); fmt.Sprint(read) != fmt.Sprint(want) {
			t.Fatalf("read after update %+v", read)
		}
		// An empty update changes nothing and publishes nothing.
		same, _ := call[apiChannel](t, env, http.StatusOK, http.MethodPut, channelPath(created.ID, ""), tok, map[string]any{})
		if same.Version != updated.Version {
			t.Fatalf("empty update moved the version %d -> %d", updated.Version, same.Version)
		}
		// A webhook keeps needing its secret.
		wantInvalid(t, do(t, env, http.MethodPut, channelPath(created.ID, ""), tok, map[string]any{"secret": nil}, nil), "secret")
		// Switching to Slack: a new URL, and the secret removed.
		slack, _ := call[apiChannel](t, env, http.StatusOK, http.MethodPut, channelPath(created.ID, ""), tok, map[string]any{
			"type": "slack", "url": rcv.URL + "/services/T000/B000/SLACKTOKEN", "secret": "",
		})
		if slack.Type != "slack" || slack.HasSecret || strings.Contains(slack.URL, "SLACKTOKEN") || !strings.HasPrefix(slack.URL, "http://"+u.Host+"/****") {
			t.Fatalf("slack %+v", slack)
		}

		deleted, _ := call[apiChannel](t, env, http.StatusOK, http.MethodDelete, channelPath(created.ID, ""), tok, nil)
		if !deleted.IsDeleted || deleted.DeletedAt == nil {
			t.Fatalf("deleted %+v", deleted)
		}
		if read, _ := call[apiChannel](t, env, http.StatusOK, http.MethodGet, channelPath(created.ID, ""), tok, nil); !read.IsDeleted {
			t.Fatalf("read after delete %+v", read)
		}
		if list, _ := call[page[apiChannel]](t, env, http.StatusOK, http.MethodGet, "/api/v2/notifications", tok, nil); list.Total != 0 {
			t.Fatalf("list after delete %+v", list)
		}
		if list, _ := call[page[apiChannel]](t, env, http.StatusOK, http.MethodGet, "/api/v2/notifications?includeDeleted=true", tok, nil); list.Total != 1 {
			t.Fatalf("list with deleted %+v", list)
		}
		for _, r := range []edgetest.Response{
			do(t, env, http.MethodPut, channelPath(created.ID, ""), tok, map[string]any{"name": "x"}, nil),
			do(t, env, http.MethodDelete, channelPath(created.ID, ""), tok, nil, nil),
			do(t, env, http.MethodPost, channelPath(created.ID, "/test"), tok, nil, nil),
		} {
			wantStatus(t, r, http.StatusConflict, "conflict")
		}
	})
}

func TestNotificationListPaging(t *testing.T) {
	env := notifyEnv(t, redistest.Embedded(t), true, nil)
	tok := env.AdminToken(t)
	rcv := newHookReceiver(t)
	var ids []string
	for i := range 3 {
		c, _ := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, map[string]any{
			"name": fmt.Sprintf("team-%d", i), "type": "slack", "url": rcv.URL + "/s/" + strconv.Itoa(i),
		})
		ids = append(ids, c.ID)
	}
	p, _ := call[page[apiChannel]](t, env, http.StatusOK, http.MethodGet, "/api/v2/notifications?page=2&pageSize=2", tok, nil)
	// Newest first: the second page holds the oldest.
	if p.Total != 3 || p.Page != 2 || p.PageSize != 2 || len(p.Items) != 1 || p.Items[0].ID != ids[0] {
		t.Fatalf("page 2: %+v", p)
	}
	wantInvalid(t, do(t, env, http.MethodGet, "/api/v2/notifications?pageSize=0", tok, nil, nil), "pageSize")
}

func TestNotificationValidationNamesTheField(t *testing.T) {
	env := notifyEnv(t, redistest.Embedded(t), false, nil)
	tok := env.AdminToken(t)
	ok := map[string]any{"name": "ops", "type": "webhook", "url": "https://hooks.example.com/relay", "secret": "whsec-1"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k2, v2 := range ok {
			m[k2] = v2
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"unknown type", with("type", "email"), "type"},
		{"type not a string", with("type", 5), "type"},
		{"missing name", with("name", nil), "name"},
		{"blank name", with("name", "  "), "name"},
		{"missing url", with("url", nil), "url"},
		{"url not http", with("url", "ftp://hooks.example.com/x"), "url"},
		{"url not absolute", with("url", "hooks.example.com/x"), "url"},
		{"url with credentials", with("url", "https://user:pw@hooks.example.com/x"), "url"},
		{"loopback refused without the opt-in", with("url", "http://127.0.0.1:9/hook"), "url"},
		{"private refused without the opt-in", with("url", "http://10.1.2.3/hook"), "url"},
		{"localhost refused without the opt-in", with("url", "http://localhost:8080/hook"), "url"},
		{"metadata service refused", with("url", "http://169.254.169.254/latest"), "url"},
		{"webhook without secret", with("secret", nil), "secret"},
		{"slack with a secret", map[string]any{"name": "s", "type": "slack", "url": "https://hooks.slack.com/services/x", "secret": "s"}, "secret"},
		{"telegram without chat_id", map[string]any{"name": "t", "type": "telegram", "url": "https://api.telegram.org/botX/sendMessage"}, "url"},
		{"unknown event type", with("events", []string{"account.unavailable", "account.exploded"}), "events"},
		{"events not a list", with("events", "account.unavailable"), "events"},
		{"negative cooldown", with("cooldownSeconds", -1), "cooldownSeconds"},
		{"cooldown over a day", with("cooldownSeconds", 86401), "cooldownSeconds"},
		{"cooldown beyond int64", with("cooldownSeconds", json.RawMessage("99999999999999999999")), "cooldownSeconds"},
		{"cooldown huge", with("cooldownSeconds", int64(1)<<40), "cooldownSeconds"},
		{"cooldown not an integer", with("cooldownSeconds", "60"), "cooldownSeconds"},
		{"enabled not a bool", with("enabled", "yes"), "enabled"},
		{"unknown field", with("headers", map[string]string{}), "headers"},
		{"read-only field", with("hasSecret", true), "hasSecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantInvalid(t, do(t, env, http.MethodPost, "/api/v2/notifications", tok, tc.body, nil), tc.field)
		})
	}
	r := do(t, env, http.MethodPost, "/api/v2/notifications", tok, with("url", "http://127.0.0.1:9/hook"), nil)
	if !strings.Contains(string(r.Body), "NOTIFY_ALLOW_PRIVATE") {
		t.Fatalf("the refusal does not name the opt-in: %s", r.Body)
	}
	// Nothing was created by the refusals; a valid channel is.
	if p, _ := call[page[apiChannel]](t, env, http.StatusOK, http.MethodGet, "/api/v2/notifications?includeDeleted=true", tok, nil); p.Total != 0 {
		t.Fatalf("refused inputs created channels: %+v", p)
	}
	c, _ := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, ok)
	// An update is checked the same way.
	wantInvalid(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"url": "http://192.168.1.1/"}, nil), "url")
	wantInvalid(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"type": "slack"}, nil), "url")
	wantInvalid(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"events": []string{"test"}}, nil), "events")
	wantInvalid(t, do(t, env, http.MethodGet, channelPath(c.ID, "/deliveries?limit=0"), tok, nil, nil), "limit")
	wantInvalid(t, do(t, env, http.MethodGet, channelPath(c.ID, "/deliveries?limit=201"), tok, nil, nil), "limit")
}

func TestNotificationStaleUpdateConflicts(t *testing.T) {
	env := notifyEnv(t, redistest.Embedded(t), false, nil)
	tok := env.AdminToken(t)
	c, _ := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, map[string]any{
		"name": "ops", "type": "slack", "url": "https://hooks.slack.com/services/T/B/x",
	})
	v1 := strconv.FormatUint(c.Version, 10)
	next, _ := call[apiChannel](t, env, http.StatusOK, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"name": "first"}, "If-Match", `"`+v1+`"`)
	// A second admin still holding version 1 is told, not overwritten.
	wantStatus(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"name": "second"}, map[string]string{"If-Match": `"` + v1 + `"`}), http.StatusConflict, "conflict")
	wantStatus(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{}, map[string]string{"If-Match": `"` + v1 + `"`}), http.StatusConflict, "conflict")
	wantStatus(t, do(t, env, http.MethodDelete, channelPath(c.ID, ""), tok, nil, map[string]string{"If-Match": v1}), http.StatusConflict, "conflict")
	wantInvalid(t, do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"name": "x"}, map[string]string{"If-Match": "yesterday"}), "If-Match")
	if read, _ := call[apiChannel](t, env, http.StatusOK, http.MethodGet, channelPath(c.ID, ""), tok, nil); read.Name != "first" || read.Version != next.Version {
		t.Fatalf("after the conflicts: %+v", read)
	}
	call[apiChannel](t, env, http.StatusOK, http.MethodDelete, channelPath(c.ID, ""), tok, nil, "If-Match", `"`+strconv.FormatUint(next.Version, 10)+`"`)
}

func TestNotificationTestSendsOneSignedDelivery(t *testing.T) {
	env := notifyEnv(t, redistest.Embedded(t), true, nil)
	tok := env.AdminToken(t)
	runNotifier(t, env)
	rcv := newHookReceiver(t)
	const secret = "whsec-test-delivery-4b5c6d"
	c, _ := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, map[string]any{
		"name": "ops", "type": "webhook", "url": rcv.URL + "/hook", "secret": secret, "enabled": false,
	})
	if d, _ := call[struct {
		Items []apiDelivery `json:"items"`
	}](t, env, http.StatusOK, http.MethodGet, channelPath(c.ID, "/deliveries"), tok, nil); d.Items == nil || len(d.Items) != 0 {
		t.Fatalf("deliveries before any: %+v", d)
	}

	sent, _ := call[struct {
		DeliveryID string `json:"deliveryId"`
		ChannelID  string `json:"channelId"`
	}](t, env, http.StatusAccepted, http.MethodPost, channelPath(c.ID, "/test"), tok, nil)
	if sent.DeliveryID == "" || sent.ChannelID != c.ID {
		t.Fatalf("test answer %+v", sent)
	}
	// A second test right after is refused: tests are throttled per channel.
	again := do(t, env, http.MethodPost, channelPath(c.ID, "/test"), tok, nil, nil)
	wantStatus(t, again, http.StatusTooManyRequests, "rate_limited")
	if again.Header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", again.Header.Get("Retry-After"))
	}
	// A disabled channel still gets its test; the log shows it delivered.
	var log []apiDelivery
	edgetest.WaitFor(t, 10*time.Second, func() bool {
		d, _ := call[struct {
			Items []apiDelivery `json:"items"`
		}](t, env, http.StatusOK, http.MethodGet, channelPath(c.ID, "/deliveries?limit=10"), tok, nil)
		log = d.Items
		return len(log) > 0
	})
	if want := (apiDelivery{ID: sent.DeliveryID, Type: "test", Attempt: 1, StatusCode: 200, Outcome: "delivered"}); len(log) != 1 || log[0] != want {
		t.Fatalf("deliveries %+v, want [%+v]", log, want)
	}
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	req := got[0]
	if req.path != "/hook" || req.header.Get("X-Relay-Delivery") != sent.DeliveryID || req.header.Get("X-Relay-Event") != "test" {
		t.Fatalf("request %s %v", req.path, req.header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(req.header.Get("X-Relay-Timestamp") + "." + string(req.body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(req.header.Get("X-Relay-Signature")), []byte(want)) {
		t.Fatalf("signature %q does not verify", req.header.Get("X-Relay-Signature"))
	}
	if !strings.Contains(string(req.body), `"id":"`+sent.DeliveryID+`"`) || !strings.Contains(string(req.body), `"type":"test"`) {
		t.Fatalf("body %s", req.body)
	}
}

func TestNotificationSecretsNeverShown(t *testing.T) {
	logs := &edgetest.LogBuffer{}
	env := notifyEnv(t, redistest.Embedded(t), true, logs)
	tok := env.AdminToken(t)
	runNotifier(t, env)
	rcv := newHookReceiver(t)
	leaks := []string{"LEAKSECRET-sign-one-7a8b", "LEAKSECRET-sign-two-9c0d", "LEAKPATH-1f2e3d4c5b", "LEAKQUERY-6a7b8c9d0e", "LEAKPATH-rotated-11aa22bb"}
	var answers []string
	record := func(r edgetest.Response) { answers = append(answers, string(r.Body)) }

	c, r := call[apiChannel](t, env, http.StatusCreated, http.MethodPost, "/api/v2/notifications", tok, map[string]any{
		"name": "leaky", "type": "webhook", "url": rcv.URL + "/" + leaks[2] + "/x?k=" + leaks[3] + "&z=1", "secret": leaks[0],
	})
	record(r)
	_, r = call[apiChannel](t, env, http.StatusOK, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"secret": leaks[1], "url": rcv.URL + "/" + leaks[4] + "/hook-end"})
	record(r)
	// A refused input carrying secrets does not echo them.
	r = do(t, env, http.MethodPut, channelPath(c.ID, ""), tok, map[string]any{"secret": leaks[0], "url": "gopher://" + leaks[2]}, nil)
	wantInvalid(t, r, "url")
	record(r)
	_, r = call[map[string]string](t, env, http.StatusAccepted, http.MethodPost, channelPath(c.ID, "/test"), tok, nil)
	record(r)
	edgetest.WaitFor(t, 10*time.Second, func() bool { return len(rcv.requests()) == 1 })
	for _, path := range []string{"/api/v2/notifications", channelPath(c.ID, ""), channelPath(c.ID, "/deliveries")} {
		record(do(t, env, http.MethodGet, path, tok, nil, nil))
	}
	_, r = call[apiChannel](t, env, http.StatusOK, http.MethodDelete, channelPath(c.ID, ""), tok, nil)
	record(r)

	// The audit log shows the channel's events, under its entity, without
	// the sealed values.
	audit, r := call[page[struct {
		Type   string `json:"type"`
		Entity struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		} `json:"entity"`
		Data map[string]any `json:"data"`
	}]](t, env, http.StatusOK, http.MethodGet, "/api/v2/audit?entity=notification:"+c.ID, tok, nil)
	record(r)
	var types []string
	for _, e := range audit.Items {
		types = append(types, e.Type)
		if e.Entity.Kind != "notification" || e.Entity.ID != c.ID {
			t.Fatalf("audit entity %+v", e.Entity)
		}
		if strings.Contains(fmt.Sprint(e.Data), "Sealed") {
			t.Fatalf("audit shows a sealed field: %v", e.Data)
		}
	}
	if want := []string{events.NotificationDeleted, events.NotificationUpdated, events.NotificationCreated}; !slices.Equal(types, want) {
		t.Fatalf("audit types %v, want %v", types, want)
	}
	byType, _ := call[page[struct {
		Type string `json:"type"`
	}]](t, env, http.StatusOK, http.MethodGet, "/api/v2/audit?type=notification.updated", tok, nil)
	if byType.Total != 1 {
		t.Fatalf("audit by type %+v", byType)
	}

	check := func(where, text string) {
		t.Helper()
		for _, s := range leaks {
			if strings.Contains(text, s) {
				t.Errorf("%s holds a secret (%s...)", where, s[:14])
			}
		}
	}
	for i, a := range answers {
		check(fmt.Sprintf("answer %d", i), a)
	}
	for _, name := range []string{events.StreamConfig, events.StreamNotify} {
		for seq, text := range rawStream(t, env, name) {
			check(fmt.Sprintf("%s event %d", name, seq), text)
		}
	}
	for key, text := range redisContents(t, env.Redis.Client) {
		check("redis "+key, text)
	}
	if !strings.Contains(logs.String(), `/api/v2/notifications`) {
		t.Fatal("no logs were captured")
	}
	check("logs", logs.String())
}

// rawStream returns every stored message of stream name (headers and data)
// by sequence.
func rawStream(t *testing.T, env *edgetest.Env, name string) map[uint64]string {
	t.Helper()
	s, err := env.JS.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(t.Context(), seq); err == nil {
			out[seq] = fmt.Sprint(m.Header) + string(m.Data)
		}
	}
	return out
}

func TestNotificationRoutesNeedAdminAndKnownIDs(t *testing.T) {
	env := notifyEnv(t, redistest.Embedded(t), false, nil)
	tok := env.AdminToken(t)
	routes := []struct{ method, path string }{
		{http.MethodGet, "/api/v2/notifications"},
		{http.MethodPost, "/api/v2/notifications"},
		{http.MethodGet, "/api/v2/notifications/x1"},
		{http.MethodPut, "/api/v2/notifications/x1"},
		{http.MethodDelete, "/api/v2/notifications/x1"},
		{http.MethodPost, "/api/v2/notifications/x1/test"},
		{http.MethodGet, "/api/v2/notifications/x1/deliveries"},
	}
	for _, rt := range routes {
		for _, bad := range []string{"", "not-a-token"} {
			wantStatus(t, do(t, env, rt.method, rt.path, bad, map[string]any{"name": "x"}, nil), http.StatusUnauthorized, "unauthorized")
		}
	}
	for _, rt := range routes[2:] {
		wantStatus(t, do(t, env, rt.method, rt.path, tok, map[string]any{"name": "x"}, nil), http.StatusNotFound, "not_found")
	}
	wantStatus(t, do(t, env, http.MethodGet, "/api/v2/notifications/a.b", tok, nil, nil), http.StatusNotFound, "not_found")
}
