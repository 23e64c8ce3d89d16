//go:build cluster

package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"relay/events"
	"relay/events/streams"
)

// client talks to the edges. No timeout on the client: every request it
// sends is bounded by a context instead, as long streams would be.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// requestTimeout bounds one HTTP exchange of the tests.
const requestTimeout = 30 * time.Second

func get(url string) (int, []byte, error) { return getWithToken(url, "") }

// metricsToken is the edges' METRICS_TOKEN: it opens /metrics on their main
// port.
const metricsToken = "clustertest-metrics-token"

// getWithToken is get with a Bearer token, when token is set.
func getWithToken(url, token string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// answer is one finished HTTP exchange.
type answer struct {
	edge      string
	status    int
	requestID string // X-Request-Id: relay's id, also the usage event's
	header    http.Header
	body      []byte
	took      time.Duration
	err       error
}

// call sends method path with a JSON body and the given headers.
func call(edge *proc, method, path string, body any, header map[string]string) answer {
	start := time.Now()
	a := answer{edge: edge.name}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.err = err
			return a
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, edge.base+path, rd)
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	a.status, a.requestID, a.header = resp.StatusCode, resp.Header.Get("X-Request-Id"), resp.Header
	a.body, a.err = io.ReadAll(resp.Body)
	a.took = time.Since(start)
	return a
}

// admin is a logged-in admin on one edge.
type admin struct {
	edge  *proc
	token string
}

func login(t *testing.T, edge *proc) admin {
	t.Helper()
	a := call(edge, http.MethodPost, "/api/v2/auth/admin/login", map[string]string{"username": adminUser, "password": adminPassword}, nil)
	var out struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if a.err != nil || a.status != http.StatusOK || json.Unmarshal(a.body, &out) != nil {
		t.Fatalf("login on %s: %d %v %s", edge.name, a.status, a.err, a.body)
	}
	return admin{edge: edge, token: out.Data.Token}
}

// do sends an admin request and decodes data into out (when not nil).
func (ad admin) do(t *testing.T, method, path string, body, out any) {
	t.Helper()
	a := call(ad.edge, method, path, body, map[string]string{"Authorization": "Bearer " + ad.token})
	if a.err != nil || a.status >= 300 {
		t.Fatalf("%s %s on %s: %d %v %s", method, path, ad.edge.name, a.status, a.err, a.body)
	}
	if out == nil {
		return
	}
	env := struct {
		Data any `json:"data"`
	}{Data: out}
	if err := json.Unmarshal(a.body, &env); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, a.body)
	}
}

// createKey creates an API key through the admin API and returns its id
// and secret.
func (ad admin) createKey(t *testing.T, fields map[string]any) (id, secret string) {
	t.Helper()
	var out struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	ad.do(t, http.MethodPost, "/api/v2/keys", fields, &out)
	if out.ID == "" || out.Key == "" {
		t.Fatalf("create key: no id or secret")
	}
	return out.ID, out.Key
}

// createAccount creates a claude-console account through the admin API.
func (ad admin) createAccount(t *testing.T, fields map[string]any) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	ad.do(t, http.MethodPost, "/api/v2/accounts/claude-console", fields, &out)
	if out.ID == "" {
		t.Fatalf("create account: no id")
	}
	return out.ID
}

// overview is the part of GET /api/v2/stats/overview the tests read: the
// usage counters projected into Redis, and the edge's in-memory catalog.
type overview struct {
	Total struct {
		Requests     int64 `json:"requests"`
		Refused      int64 `json:"refused"`
		InputTokens  int64 `json:"inputTokens"`
		OutputTokens int64 `json:"outputTokens"`
	} `json:"total"`
	Accounts struct {
		Total int `json:"total"`
	} `json:"accounts"`
	Keys struct {
		Total int `json:"total"`
	} `json:"keys"`
}

func (ad admin) overview(t *testing.T) overview {
	t.Helper()
	var o overview
	ad.do(t, http.MethodGet, "/api/v2/stats/overview", nil, &o)
	return o
}

// sendMessage sends one Claude Messages request with key. content makes
// the request's session (relay hashes the first message when no session
// id is sent); session, when set, is Claude Code's session header.
func sendMessage(edge *proc, key, content, session string) answer {
	body := map[string]any{
		"model": "claude-sonnet-4-5-20250929", "max_tokens": 64, "stream": true,
		"messages": []map[string]string{{"role": "user", "content": content}},
	}
	h := map[string]string{"x-api-key": key, "anthropic-version": "2023-06-01"}
	if session != "" {
		h["X-Claude-Code-Session-Id"] = session
	}
	return call(edge, http.MethodPost, "/api/v1/messages", body, h)
}

// ledger remembers every relay answer of the test: each one from an
// authenticated key must have exactly one usage event in USAGE.
type ledger struct {
	mu      sync.Mutex // mu protects answers
	answers []answer
}

func (l *ledger) add(a answer) answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, a)
	return a
}

// send is sendMessage recorded in the ledger.
func (l *ledger) send(edge *proc, key, content, session string) answer {
	return l.add(sendMessage(edge, key, content, session))
}

// expected returns the request ids that must have a usage event: every
// answer but the 401s (an unknown or deleted key is refused before relay
// knows whose request it is) and transport errors.
func (l *ledger) expected(t *testing.T) map[string]answer {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]answer{}
	for _, a := range l.answers {
		if a.err != nil || a.status == http.StatusUnauthorized {
			continue
		}
		if a.requestID == "" {
			t.Fatalf("answer %d from %s without X-Request-Id", a.status, a.edge)
		}
		if _, dup := out[a.requestID]; dup {
			t.Fatalf("request id %s answered twice", a.requestID)
		}
		out[a.requestID] = a
	}
	return out
}

// usageScan reads USAGE events on a subject by direct get, which any
// replica answers, so it keeps working while a node is down (an ordered
// consumer's pull request can meet "no responders" while its consumer
// moves). Each read continues after the last event seen.
type usageScan struct {
	js      jetstream.JetStream
	subject string
	next    uint64
	got     []events.Usage
	// counts are the counts of refused requests read (not in got).
	counts []events.RefusalsCounted
}

func newUsageScan(js jetstream.JetStream, subject string) *usageScan {
	return &usageScan{js: js, subject: subject, next: 1}
}

// read appends every event stored after the last one read.
func (u *usageScan) read(ctx context.Context) error {
	s, err := u.js.Stream(ctx, events.StreamUsage)
	if err != nil {
		return err
	}
	for {
		m, err := s.GetMsg(ctx, u.next, jetstream.WithGetMsgSubject(u.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ev, c, ok, err := decodeUsage(m)
		if err != nil {
			return err
		}
		if ok {
			u.got = append(u.got, ev)
		} else {
			u.counts = append(u.counts, c)
		}
		u.next = m.Sequence + 1
	}
}

// atLeast reads until n usage events are in, or fails t after 30s.
func (u *usageScan) atLeast(t *testing.T, n int) []events.Usage {
	t.Helper()
	var last error
	if !poll(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		last = u.read(ctx)
		return len(u.got) >= n
	}) {
		t.Fatalf("%s: %d of %d usage events (last error: %v)", u.subject, len(u.got), n, last)
	}
	return u.got
}

// usageEvents reads the whole USAGE stream: as many events as its leader
// says it holds. It returns the usage events and the counts of refusals.
func usageEvents(t *testing.T, js jetstream.JetStream) ([]events.Usage, []events.RefusalsCounted) {
	t.Helper()
	sc := newUsageScan(js, events.UsageSubjects)
	msgs := int(streamInfo(t, js, events.StreamUsage).State.Msgs)
	if !poll(30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return sc.read(ctx) == nil && len(sc.got)+len(sc.counts) >= msgs
	}) {
		t.Fatalf("USAGE: read %d usage events and %d counts of %d messages", len(sc.got), len(sc.counts), msgs)
	}
	return sc.got, sc.counts
}

// decodeUsage decodes a message of USAGE: a usage event (ok true), or a
// count of refusals (ok false, c set).
func decodeUsage(m *jetstream.RawStreamMsg) (u events.Usage, c events.RefusalsCounted, ok bool, err error) {
	env, err := streams.FromRaw(m)
	if err != nil {
		return u, c, false, err
	}
	p, err := events.Decode(env)
	if err != nil {
		return u, c, false, err
	}
	switch v := p.(type) {
	case *events.Usage:
		return *v, c, true, nil
	case *events.RefusalsCounted:
		return u, *v, false, nil
	}
	return u, c, false, fmt.Errorf("USAGE holds a %s event at %d", env.Type, env.Seq)
}

// byID indexes usage events by request id; a second event for one id
// fails the test.
func byID(t *testing.T, us []events.Usage) map[string]events.Usage {
	t.Helper()
	out := map[string]events.Usage{}
	for _, u := range us {
		if _, dup := out[u.ID]; dup {
			t.Fatalf("USAGE holds request %s twice", u.ID)
		}
		out[u.ID] = u
	}
	return out
}

// poll calls cond until it holds or total passes, backing off from 1ms to
// 25ms; it reports whether cond held.
func poll(total time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(total)
	for delay := time.Millisecond; ; delay = min(2*delay, 25*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
}

// waitFor is poll that fails the test.
func waitFor(t *testing.T, total time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(total, cond) {
		t.Fatalf("%s: not reached within %v", what, total)
	}
}

// count counts answers by status.
func count(as []answer) map[int]int {
	out := map[int]int{}
	for _, a := range as {
		if a.err != nil {
			out[-1]++
			continue
		}
		out[a.status]++
	}
	return out
}

func describe(as []answer) string {
	var b bytes.Buffer
	for _, a := range as {
		fmt.Fprintf(&b, "%s %d %v %.200s\n", a.edge, a.status, a.err, a.body)
	}
	return b.String()
}
