package workers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/events"
	"relay/events/natstest"
	"relay/events/notify"
	"relay/events/streams"
	"relay/store"
	"relay/store/redistest"
	"relay/workers"
)

// testBox seals reversibly, as edge/secrets.Box does (workers may not
// import it).
type testBox struct{}

func (testBox) Seal(p string) (string, error) {
	return "sealed:" + base64.StdEncoding.EncodeToString([]byte(p)), nil
}

func (testBox) Open(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, "sealed:")
	if !ok {
		return "", errors.New("not sealed")
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	return string(b), err
}

// received is one request a test receiver got.
type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a local HTTP endpoint that records every request and answers
// with status(i) for the i-th (0-based).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status func(i int) int
	delay  time.Duration
	// hold, when set, keeps the i-th request unanswered until gate closes.
	hold func(i int) bool
	gate chan struct{}
}

func newReceiver(t *testing.T, status func(i int) int) *receiver {
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.delay > 0 {
			time.Sleep(r.delay) // a slow receiver, not synchronisation
		}
		r.mu.Lock()
		i := len(r.got)
		r.got = append(r.got, received{at: time.Now(), header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		if r.hold != nil && r.hold(i) {
			select {
			case <-r.gate:
			case <-req.Context().Done():
			}
		}
		code := http.StatusOK
		if r.status != nil {
			code = r.status(i)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type notifyEnv struct {
	ns *natstest.Server
	js jetstream.JetStream
	st *store.Store
}

// newNotifyEnv runs NATS, a real Redis (cooldowns expire on its clock) and
// the projectors.
func newNotifyEnv(t *testing.T) *notifyEnv {
	t.Helper()
	ns := natstest.Start(t)
	_, js := ns.Connect(t)
	b := redistest.Real(t)
	st := store.New(b.Client, "")
	runGroup(t, js, st)
	return &notifyEnv{ns: ns, js: js, st: st}
}

func testNotifyConfig() workers.NotifyConfig {
	cfg := workers.NotifyDefaults()
	cfg.AllowPrivate = true
	cfg.Timeout = 2 * time.Second
	cfg.AckWait = 3 * time.Second
	cfg.RetryBase, cfg.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	return cfg
}

// startNotifier runs a notifier on its own NATS connection until the test
// ends (or stop is called) and waits until its consumers exist.
func (e *notifyEnv) startNotifier(t *testing.T, cfg workers.NotifyConfig) (stop func(), abort func()) {
	t.Helper()
	return e.startNotifierWith(t, cfg, nil)
}

func (e *notifyEnv) startNotifierWith(t *testing.T, cfg workers.NotifyConfig, reg prometheus.Registerer) (stop func(), abort func()) {
	t.Helper()
	nc, js := e.ns.Connect(t)
	n := workers.NewNotifier(js, e.st, testBox{}, zerolog.Nop(), reg, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("notifier not ready")
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	// abort is a crash: the connection goes away with deliveries in
	// flight and unacknowledged, then the process's loops end.
	abort = func() { once.Do(func() { nc.Close(); cancel(); <-done }) }
	t.Cleanup(stop)
	return stop, abort
}

var channelSeq int

// addChannel creates a channel through the admin action's builder and
// waits until it is projected.
func (e *notifyEnv) addChannel(t *testing.T, in notify.Input) events.Channel {
	t.Helper()
	channelSeq++
	id := fmt.Sprintf("ch%d", channelSeq)
	ch, err := notify.Create(id, in, testBox{}, notify.Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	seq := publish(t, e.js, events.NotificationSubject(id), events.NotificationCreated, ch)
	waitCheckpoint(t, e.st, store.ProjectionConfig, seq)
	return ch
}

func ptr[T any](v T) *T { return &v }

// settled waits until the notifier has nothing left: every trigger event
// acknowledged and the delivery queue empty.
func (e *notifyEnv) settled(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, 15*time.Second, "notifier to settle", func() bool {
		for stream, durable := range map[string]string{events.StreamState: workers.NotifyStateDurable, events.StreamUsage: workers.NotifyUsageDurable, events.StreamNotify: workers.NotifyDeliverDurable} {
			c, err := e.js.Consumer(ctx, stream, durable)
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		s, err := e.js.Stream(ctx, events.StreamNotify)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

func verifySignature(t *testing.T, secret string, r received) {
	t.Helper()
	ts := r.header.Get("X-Relay-Timestamp")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.header.Get("X-Relay-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

func TestNotifyAccountUnavailableAndRecoveredWebhooks(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	const secret = "whsec-test"
	e.addChannel(t, notify.Input{Name: ptr("ops"), Type: ptr("webhook"), URL: ptr(rcv.URL + "/hook"), Secret: ptr(secret),
		Events: ptr([]string{events.NotifyAccountUnavailable, events.NotifyAccountRecovered})})
	e.startNotifier(t, testNotifyConfig())
	publish(t, e.js, events.AccountSubject("a1"), events.AccountCreated, events.Account{ID: "a1", Name: "primary", Platform: events.PlatformClaudeConsole})

	// What the edge publishes on an upstream 429.
	marked := time.Now()
	until := marked.Add(30 * time.Minute).UTC().Truncate(time.Second)
	publish(t, e.js, events.AccountStateSubject("a1"), events.AccountStateMarked, events.AccountStateMarkedData{
		AccountID: "a1", State: events.StateRateLimited, Until: until, Status: 429, Reason: "upstream 429"})
	waitFor(t, 2*time.Second, "account.unavailable within 2 s", func() bool { return len(rcv.requests()) >= 1 })
	r := rcv.requests()[0]
	verifySignature(t, secret, r)
	var body struct {
		ID   string                        `json:"id"`
		Type string                        `json:"type"`
		Time time.Time                     `json:"time"`
		Data events.AccountUnavailableData `json:"data"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != events.NotifyAccountUnavailable || r.header.Get("X-Relay-Event") != body.Type || r.header.Get("X-Relay-Delivery") != body.ID {
		t.Fatalf("headers %v body %+v", r.header, body)
	}
	if body.Data.AccountID != "a1" || body.Data.State != events.StateRateLimited || body.Data.Status != 429 || !body.Data.Until.Equal(until) {
		t.Fatalf("data = %+v", body.Data)
	}

	// What reset-rate-limit publishes.
	publish(t, e.js, events.AccountStateSubject("a1"), events.AccountStateCleared, events.AccountStateClearedData{AccountID: "a1"})
	waitFor(t, 5*time.Second, "account.recovered", func() bool { return len(rcv.requests()) >= 2 })
	e.settled(t)
	got := rcv.requests()
	if len(got) != 2 || got[1].header.Get("X-Relay-Event") != events.NotifyAccountRecovered {
		t.Fatalf("got %d requests, second %q", len(got), got[len(got)-1].header.Get("X-Relay-Event"))
	}
	verifySignature(t, secret, got[1])
}

func TestNotifyCooldownHoldsUnderFlapping(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	e.addChannel(t, notify.Input{Name: ptr("chat"), Type: ptr("slack"), URL: ptr(rcv.URL),
		Events: ptr([]string{events.NotifyAccountUnavailable, events.NotifyAccountRecovered})})
	e.startNotifier(t, testNotifyConfig())
	for range 10 {
		publish(t, e.js, events.AccountStateSubject("a1"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a1", State: events.StateOverloaded, Until: time.Now().Add(10 * time.Minute)})
		publish(t, e.js, events.AccountStateSubject("a1"), events.AccountStateCleared, events.AccountStateClearedData{AccountID: "a1"})
	}
	// Another account is not held back by a1's cooldown.
	publish(t, e.js, events.AccountStateSubject("a2"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a2", State: events.StateUnauthorized, Until: time.Now().Add(10 * time.Minute)})
	e.settled(t)
	texts := map[string]int{}
	for _, r := range rcv.requests() {
		var m struct{ Text string }
		_ = json.Unmarshal(r.body, &m)
		switch {
		case strings.Contains(m.Text, "a1 is unavailable"):
			texts["a1 unavailable"]++
		case strings.Contains(m.Text, "a1 has recovered"):
			texts["a1 recovered"]++
		case strings.Contains(m.Text, "a2 is unavailable"):
			texts["a2 unavailable"]++
		default:
			texts[m.Text]++
		}
	}
	want := map[string]int{"a1 unavailable": 1, "a1 recovered": 1, "a2 unavailable": 1}
	if fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Fatalf("messages %v, want %v", texts, want)
	}
}

func TestNotifyKeyCrossingDailyLimitSendsOneMessageAt80AndAt100(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	e.addChannel(t, notify.Input{Name: ptr("owner"), Type: ptr("webhook"), URL: ptr(rcv.URL), Secret: ptr("k"),
		Events: ptr([]string{events.NotifyKeyLimit})})
	seq := publish(t, e.js, events.KeySubject("k1"), events.KeyCreated, events.Key{ID: "k1", Name: "ci", KeyHash: strings.Repeat("a", 64), IsActive: true, DailyCostLimitMicros: 10_000_000})
	waitCheckpoint(t, e.st, store.ProjectionConfig, seq)
	e.startNotifier(t, testNotifyConfig())
	spend := func(nanos int64) {
		now := time.Now()
		u := events.Usage{ID: events.NewID(now), Time: now, KeyID: "k1", AccountID: "a1", Platform: events.PlatformClaudeConsole, Model: "m", Status: 200, Outcome: events.OutcomeOK, CostNanos: nanos, Priced: true}
		env, err := events.NewWithID(u.ID, events.UsageRecorded, now, "", u.ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(context.Background(), e.js, events.UsageSubject(u.Platform, u.KeyID), env, nil); err != nil {
			t.Fatal(err)
		}
	}
	thresholds := func() []int {
		var out []int
		for _, r := range rcv.requests() {
			var b struct{ Data events.KeyLimitData }
			_ = json.Unmarshal(r.body, &b)
			out = append(out, b.Data.Threshold)
		}
		return out
	}
	spend(5_000_000_000) // $5 of $10: 50%
	spend(3_500_000_000) // 85%
	waitFor(t, 5*time.Second, "80% message", func() bool { return len(rcv.requests()) >= 1 })
	spend(500_000_000)   // 90%: nothing new
	spend(2_000_000_000) // 110%
	waitFor(t, 5*time.Second, "100% message", func() bool { return len(rcv.requests()) >= 2 })
	spend(1_000_000_000) // still over: nothing new
	e.settled(t)
	if got := fmt.Sprint(thresholds()); got != "[80 100]" {
		t.Fatalf("thresholds %s, want [80 100]", got)
	}
	var b struct{ Data events.KeyLimitData }
	_ = json.Unmarshal(rcv.requests()[1].body, &b)
	if b.Data.Kind != events.LimitDailyCost || b.Data.LimitNanos != 10_000_000_000 || b.Data.UsedNanos < 10_000_000_000 || b.Data.KeyName != "ci" {
		t.Fatalf("100%% data = %+v", b.Data)
	}
}

func TestNotifyAccountDailyQuotaReachedOnce(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	e.addChannel(t, notify.Input{Name: ptr("ops"), Type: ptr("wecom"), URL: ptr(rcv.URL + "/cgi-bin/webhook/send?key=x"), Events: ptr([]string{events.NotifyAccountQuota})})
	seq := publish(t, e.js, events.AccountSubject("a1"), events.AccountCreated, events.Account{ID: "a1", Name: "main", Platform: events.PlatformCodex, DailyQuotaMicros: 1_000_000})
	waitCheckpoint(t, e.st, store.ProjectionConfig, seq)
	e.startNotifier(t, testNotifyConfig())
	for range 4 {
		now := time.Now()
		u := events.Usage{ID: events.NewID(now), Time: now, KeyID: "k1", AccountID: "a1", Platform: events.PlatformCodex, Model: "m", Status: 200, Outcome: events.OutcomeOK, CostNanos: 400_000_000, Priced: true}
		env, _ := events.NewWithID(u.ID, events.UsageRecorded, now, "", u.ID, u)
		if _, err := streams.Publish(context.Background(), e.js, events.UsageSubject(u.Platform, u.KeyID), env, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "quota message", func() bool { return len(rcv.requests()) >= 1 })
	e.settled(t)
	got := rcv.requests()
	if len(got) != 1 || !strings.Contains(string(got[0].body), "reached its daily quota") {
		t.Fatalf("%d messages: %s", len(got), got[0].body)
	}
}

func TestNotifyRetriesWithTheSameDeliveryID(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, func(i int) int {
		if i < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	ch := e.addChannel(t, notify.Input{Name: ptr("flaky"), Type: ptr("webhook"), URL: ptr(rcv.URL), Secret: ptr("k")})
	reg := prometheus.NewRegistry()
	e.startNotifierWith(t, testNotifyConfig(), reg)
	subject, env, err := notify.Test(ch, time.Now(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(context.Background(), e.js, subject, env, nil); err != nil {
		t.Fatal(err)
	}
	e.settled(t)
	got := rcv.requests()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	for i, r := range got {
		if id := r.header.Get("X-Relay-Delivery"); id != env.ID {
			t.Fatalf("request %d delivery id %q, want %q", i, id, env.ID)
		}
		if i > 0 && !r.at.After(got[i-1].at) {
			t.Fatalf("request %d not after %d", i, i-1)
		}
	}
	recs, err := e.st.Deliveries(context.Background(), ch.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for i := len(recs) - 1; i >= 0; i-- {
		outcomes = append(outcomes, fmt.Sprintf("%d:%s:%d", recs[i].Attempt, recs[i].Outcome, recs[i].StatusCode))
	}
	if want := "[1:retrying:500 2:retrying:500 3:retrying:500 4:delivered:204]"; fmt.Sprint(outcomes) != want {
		t.Fatalf("log %v, want %s", outcomes, want)
	}
	metrics := gatherCounts(t, reg)
	if metrics["relay_notify_deliveries_total{channel_type=webhook,outcome=retrying}"] != 3 || metrics["relay_notify_deliveries_total{channel_type=webhook,outcome=delivered}"] != 1 {
		t.Fatalf("metrics %v", metrics)
	}
	if _, ok := metrics["relay_notify_queue_depth{}"]; !ok {
		t.Fatalf("no queue depth gauge in %v", metrics)
	}
}

// gatherCounts flattens reg's counters and gauges to "name{l=v,...}" -> value.
func gatherCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func TestNotifyWorkersShareDeliveriesWithoutDuplicates(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	ch := e.addChannel(t, notify.Input{Name: ptr("shared"), Type: ptr("webhook"), URL: ptr(rcv.URL), Secret: ptr("k")})
	e.startNotifier(t, testNotifyConfig())
	e.startNotifier(t, testNotifyConfig())
	for range 60 {
		subject, env, _ := notify.Test(ch, time.Now(), "admin")
		if _, err := streams.Publish(context.Background(), e.js, subject, env, nil); err != nil {
			t.Fatal(err)
		}
	}
	e.settled(t)
	seen := map[string]int{}
	for _, r := range rcv.requests() {
		seen[r.header.Get("X-Relay-Delivery")]++
	}
	if len(seen) != 60 || len(rcv.requests()) != 60 {
		t.Fatalf("%d distinct deliveries in %d requests, want 60 in 60", len(seen), len(rcv.requests()))
	}
}

func TestNotifyGivesUpAfterTheRetryPeriod(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, func(int) int { return http.StatusBadGateway })
	ch := e.addChannel(t, notify.Input{Name: ptr("down"), Type: ptr("slack"), URL: ptr(rcv.URL)})
	cfg := testNotifyConfig()
	cfg.GiveUpAfter = 300 * time.Millisecond
	e.startNotifier(t, cfg)
	subject, env, _ := notify.Test(ch, time.Now(), "admin")
	if _, err := streams.Publish(context.Background(), e.js, subject, env, nil); err != nil {
		t.Fatal(err)
	}
	e.settled(t)
	recs, _ := e.st.Deliveries(context.Background(), ch.ID, 100)
	if len(recs) < 2 || recs[0].Outcome != store.DeliveryFailed || recs[1].Outcome != store.DeliveryRetrying {
		t.Fatalf("log = %+v", recs)
	}
	if n := len(rcv.requests()); n != len(recs) {
		t.Fatalf("%d requests, %d records", n, len(recs))
	}
}

func TestNotifyWorkerKilledMidBurstStillDeliversEveryOne(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	rcv.delay = 2 * time.Millisecond
	// From the 20th request on, the first worker's requests hang: it dies
	// with deliveries in the middle of their HTTP exchange.
	rcv.gate = make(chan struct{})
	var killed sync.Once
	var dead atomic.Bool
	rcv.hold = func(i int) bool { return i >= 20 && !dead.Load() }
	ch := e.addChannel(t, notify.Input{Name: ptr("burst"), Type: ptr("webhook"), URL: ptr(rcv.URL), Secret: ptr("k")})
	cfg := testNotifyConfig()
	cfg.Timeout, cfg.AckWait = 500*time.Millisecond, time.Second
	cfg.Parallel = 4
	_, abort := e.startNotifier(t, cfg)
	want := map[string]bool{}
	for range 100 {
		subject, env, err := notify.Test(ch, time.Now(), "admin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(context.Background(), e.js, subject, env, nil); err != nil {
			t.Fatal(err)
		}
		want[env.ID] = true
	}
	waitFor(t, 10*time.Second, "deliveries in flight", func() bool { return len(rcv.requests()) >= 20+cfg.Parallel })
	killed.Do(func() {
		abort()
		dead.Store(true)
		close(rcv.gate)
	})
	killedAt := len(rcv.requests())
	inFlight := map[string]bool{}
	for _, r := range rcv.requests()[20:] {
		inFlight[r.header.Get("X-Relay-Delivery")] = true
	}
	e.startNotifier(t, cfg)
	seen := func() map[string]int {
		m := map[string]int{}
		for _, r := range rcv.requests() {
			m[r.header.Get("X-Relay-Delivery")]++
		}
		return m
	}
	waitFor(t, 30*time.Second, "every delivery", func() bool { return len(seen()) >= len(want) })
	for id := range seen() {
		if !want[id] {
			t.Fatalf("unknown delivery id %q", id)
		}
	}
	if killedAt >= 100 {
		t.Fatalf("the first worker delivered all %d before it was killed: the test proves nothing", killedAt)
	}
	// Each delivery cut off by the crash came again, with the same id.
	counts := seen()
	for id := range inFlight {
		if counts[id] < 2 {
			t.Fatalf("delivery %s, in flight at the crash, was seen %d times", id, counts[id])
		}
	}
	t.Logf("killed after %d deliveries; %d requests in all for 100 notifications", killedAt, len(rcv.requests()))
}

func TestNotifyRefusesLoopbackWithoutTheOptIn(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	// The channel names the receiver by a host name that resolves to
	// loopback: only the check at connection time can refuse it.
	url := strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1)
	ch := e.addChannel(t, notify.Input{Name: ptr("internal"), Type: ptr("slack"), URL: ptr(url)})
	cfg := testNotifyConfig()
	cfg.AllowPrivate = false
	e.startNotifier(t, cfg)
	subject, env, _ := notify.Test(ch, time.Now(), "admin")
	if _, err := streams.Publish(context.Background(), e.js, subject, env, nil); err != nil {
		t.Fatal(err)
	}
	e.settled(t)
	if n := len(rcv.requests()); n != 0 {
		t.Fatalf("receiver on loopback got %d requests", n)
	}
	recs, _ := e.st.Deliveries(context.Background(), ch.ID, 10)
	if len(recs) != 1 || recs[0].Outcome != store.DeliveryFailed || !strings.Contains(recs[0].Error, "private address") {
		t.Fatalf("log = %+v", recs)
	}
	if strings.Contains(recs[0].Error, url) || strings.Contains(recs[0].Error, "localhost") {
		t.Fatalf("the log shows the URL: %q", recs[0].Error)
	}
	// The validation refuses a loopback literal up front.
	if _, err := notify.Create("x", notify.Input{Name: ptr("x"), Type: ptr("slack"), URL: ptr(rcv.URL)}, testBox{}, notify.Options{}); err == nil {
		t.Fatal("a channel on 127.0.0.1 was accepted without the opt-in")
	}
}

func TestNotifyKeyExpiringOnceAcrossWorkers(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	e.addChannel(t, notify.Input{Name: ptr("owner"), Type: ptr("webhook"), URL: ptr(rcv.URL), Secret: ptr("k"), Events: ptr([]string{events.NotifyKeyExpiring})})
	soon, later := time.Now().Add(48*time.Hour), time.Now().Add(5*24*time.Hour)
	publish(t, e.js, events.KeySubject("k1"), events.KeyCreated, events.Key{ID: "k1", Name: "soon", KeyHash: strings.Repeat("b", 64), IsActive: true, ExpiresAt: &soon})
	seq := publish(t, e.js, events.KeySubject("k2"), events.KeyCreated, events.Key{ID: "k2", Name: "later", KeyHash: strings.Repeat("c", 64), IsActive: true, ExpiresAt: &later})
	waitCheckpoint(t, e.st, store.ProjectionConfig, seq)
	cfg := testNotifyConfig()
	cfg.ExpiringEvery = 200 * time.Millisecond
	e.startNotifier(t, cfg)
	e.startNotifier(t, cfg)
	waitFor(t, 5*time.Second, "key.expiring", func() bool { return len(rcv.requests()) >= 1 })
	// Several periods pass with both workers checking.
	deadline := time.Now().Add(time.Second)
	waitFor(t, 5*time.Second, "a few check periods", func() bool { return time.Now().After(deadline) })
	e.settled(t)
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("%d key.expiring messages, want 1", len(got))
	}
	var b struct{ Data events.KeyExpiringData }
	_ = json.Unmarshal(got[0].body, &b)
	if b.Data.KeyID != "k1" {
		t.Fatalf("data = %+v", b.Data)
	}
}

func TestNotifyRecoveredWhenAStateEndsByItself(t *testing.T) {
	e := newNotifyEnv(t)
	rcv := newReceiver(t, nil)
	e.addChannel(t, notify.Input{Name: ptr("ops"), Type: ptr("slack"), URL: ptr(rcv.URL),
		Events: ptr([]string{events.NotifyAccountUnavailable, events.NotifyAccountRecovered})})
	cfg := testNotifyConfig()
	cfg.RecoveryEvery = 100 * time.Millisecond
	e.startNotifier(t, cfg)
	e.startNotifier(t, cfg) // two workers: still one message each
	publish(t, e.js, events.AccountStateSubject("a1"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a1", State: events.StateError, Until: time.Now().Add(400 * time.Millisecond)})
	// a2 is marked again before its first state ends: not recovered.
	publish(t, e.js, events.AccountStateSubject("a2"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a2", State: events.StateError, Until: time.Now().Add(400 * time.Millisecond)})
	seq := publish(t, e.js, events.AccountStateSubject("a2"), events.AccountStateMarked, events.AccountStateMarkedData{AccountID: "a2", State: events.StateOverloaded, Until: time.Now().Add(time.Hour)})
	waitCheckpoint(t, e.st, store.ProjectionState, seq)
	texts := func() []string {
		var out []string
		for _, r := range rcv.requests() {
			var m struct{ Text string }
			_ = json.Unmarshal(r.body, &m)
			out = append(out, m.Text)
		}
		return out
	}
	waitFor(t, 5*time.Second, "a1 recovered", func() bool {
		for _, s := range texts() {
			if strings.Contains(s, "a1 has recovered") {
				return true
			}
		}
		return false
	})
	// A few more check periods: nothing else comes.
	after := time.Now().Add(500 * time.Millisecond)
	waitFor(t, 5*time.Second, "more check periods", func() bool { return time.Now().After(after) })
	e.settled(t)
	got := map[string]int{}
	for _, s := range texts() {
		got[strings.SplitN(s, ":", 2)[0]]++
	}
	want := map[string]int{"[relay] Account a1 is unavailable": 1, "[relay] Account a1 has recovered and is schedulable again": 1, "[relay] Account a2 is unavailable": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
}
