package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"relay/edge"
	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/events/streams"
	"relay/events/usagelog"
	"relay/store/redistest"
)

const opusModel = "claude-opus-4-1-20250805"

// usageExportEnv relays a mix of requests in two batches (keys, models,
// outcomes), and returns the env, the usage events of the first batch and
// of both, and a time between the batches.
func usageExportEnv(t *testing.T, b redistest.Backend) (e relayEnv, first, all []events.Usage, between time.Time) {
	t.Helper()
	e = newRelayEnv(t, b, 2)
	key2 := e.CreateKey(t, events.Key{ID: "key2", Name: "k2", IsActive: true})
	e.up.SetScript(func(r *upstreamtest.Request) (upstreamtest.Reply, bool) {
		if strings.Contains(string(r.Body), `"max_tokens":7`) {
			return upstreamtest.Reply{Status: http.StatusBadRequest}, true
		}
		return upstreamtest.Reply{Usage: upstreamtest.Usage{InputTokens: 100, OutputTokens: 20, CacheRead: 3}}, true
	})
	batch := func() {
		for i := range 6 {
			key, body := e.key, claudeBody
			if i%2 == 1 {
				key = key2
			}
			if i%3 == 1 {
				body = strings.Replace(body, "claude-sonnet-4-5-20250929", opusModel, 1)
			}
			if i == 4 {
				body = strings.Replace(body, `"max_tokens":100`, `"max_tokens":7`, 1) // an upstream error
			}
			post(t, e.Env, "/api/v1/messages", key, body)
		}
	}
	batch()
	first = e.WaitUsage(t, 6)
	between = time.Now()
	batch()
	all = e.WaitUsage(t, 12)
	return e, first, all, between
}

// get sends an admin GET and returns the response with its body read.
func get(t *testing.T, e *edgetest.Env, path, token string) edgetest.Response {
	t.Helper()
	return e.Do(t, http.MethodGet, path, token, nil)
}

// replayBytes is what `relay replay --format f` writes for the window
// and filter: the same usagelog.Replay and sink the command runs.
func replayBytes(t *testing.T, e *edgetest.Env, from, to time.Time, f usagelog.Filter, format usagelog.Format) []byte {
	t.Helper()
	var out bytes.Buffer
	sink := usagelog.NewEventSink(&out, format)
	if _, err := usagelog.Replay(context.Background(), e.JS, usagelog.Query{Since: from, Until: to, Filter: f}, sink.Add); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// The export of each window and filter is byte for byte what relay replay
// writes for it, a download; its CSV parses with encoding/csv and its
// NDJSON lines decode, and each holds exactly the requests the test's own
// filter keeps.
func TestUsageExportEqualsReplay(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e, first, all, between := usageExportEnv(t, b)
		token := e.AdminToken(t)
		at := between.UTC().Format(time.RFC3339Nano)
		ids := func(us []events.Usage, keep func(events.Usage) bool) []string {
			var out []string
			for _, u := range us {
				if keep(u) {
					out = append(out, u.ID)
				}
			}
			slices.Sort(out)
			return out
		}
		inFirst := map[string]bool{}
		for _, u := range first {
			inFirst[u.ID] = true
		}
		cases := []struct {
			name   string
			query  url.Values
			from   time.Time
			to     time.Time
			filter usagelog.Filter
			keep   func(events.Usage) bool
		}{
			{"everything", url.Values{}, time.Time{}, time.Time{}, usagelog.Filter{}, func(events.Usage) bool { return true }},
			{"to", url.Values{"to": {at}}, time.Time{}, between, usagelog.Filter{}, func(u events.Usage) bool { return inFirst[u.ID] }},
			{"from", url.Values{"from": {at}}, between, time.Time{}, usagelog.Filter{}, func(u events.Usage) bool { return !inFirst[u.ID] }},
			{"keyId", url.Values{"keyId": {"key2"}}, time.Time{}, time.Time{}, usagelog.Filter{Keys: []string{"key2"}},
				func(u events.Usage) bool { return u.KeyID == "key2" }},
			{"accountId", url.Values{"accountId": {"acct1"}}, time.Time{}, time.Time{}, usagelog.Filter{Accounts: []string{"acct1"}},
				func(u events.Usage) bool { return u.AccountID == "acct1" }},
			{"model", url.Values{"model": {opusModel}}, time.Time{}, time.Time{}, usagelog.Filter{Models: []string{opusModel}},
				func(u events.Usage) bool { return u.Model == opusModel }},
			{"platform", url.Values{"platform": {usagelog.PlatformClaude}}, time.Time{}, time.Time{},
				usagelog.Filter{Platforms: []string{usagelog.PlatformClaude}}, func(u events.Usage) bool { return u.Platform == usagelog.PlatformClaude }},
			{"platform none", url.Values{"platform": {events.PlatformCodex}}, time.Time{}, time.Time{},
				usagelog.Filter{Platforms: []string{events.PlatformCodex}}, func(u events.Usage) bool { return false }},
			{"outcome", url.Values{"outcome": {events.OutcomeUpstreamError}}, time.Time{}, time.Time{},
				usagelog.Filter{Outcomes: []string{events.OutcomeUpstreamError}}, func(u events.Usage) bool { return u.Outcome == events.OutcomeUpstreamError }},
			{"window and filters", url.Values{"from": {at}, "keyId": {"key1,key2"}, "model": {opusModel}, "outcome": {"ok", "upstream_error"}},
				between, time.Time{}, usagelog.Filter{Keys: []string{"key1", "key2"}, Models: []string{opusModel}, Outcomes: []string{"ok", "upstream_error"}},
				func(u events.Usage) bool { return !inFirst[u.ID] && u.Model == opusModel }},
		}
		for _, tc := range cases {
			want := ids(all, tc.keep)
			keepsAll := tc.name == "everything" || tc.name == "platform"
			if (len(want) == 0) != (tc.name == "platform none") || (len(want) == len(all)) != keepsAll {
				t.Fatalf("%s: the fixture keeps %d of %d requests: the case tests nothing", tc.name, len(want), len(all))
			}
			for _, format := range []usagelog.Format{usagelog.CSV, usagelog.NDJSON} {
				t.Run(tc.name+"/"+string(format), func(t *testing.T) {
					q := url.Values{}
					for k, v := range tc.query {
						q[k] = v
					}
					if format == usagelog.NDJSON {
						q.Set("format", "ndjson")
					}
					r := get(t, e.Env, "/api/v2/usage/export?"+q.Encode(), token)
					if r.Status != http.StatusOK {
						t.Fatalf("status %d: %s", r.Status, r.Body)
					}
					if rep := replayBytes(t, e.Env, tc.from, tc.to, tc.filter, format); !bytes.Equal(r.Body, rep) {
						t.Fatalf("export differs from replay:\nexport:\n%s\nreplay:\n%s", r.Body, rep)
					}
					disp, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
					if err != nil || disp != "attachment" || !strings.HasPrefix(params["filename"], "usage-") || !strings.HasSuffix(params["filename"], "."+string(format)) {
						t.Fatalf("Content-Disposition %q", r.Header.Get("Content-Disposition"))
					}
					var got []string
					if format == usagelog.CSV {
						if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
							t.Fatalf("Content-Type %q", ct)
						}
						rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
						if err != nil || len(rows) == 0 || !slices.Equal(rows[0], usagelog.CSVColumns) {
							t.Fatalf("CSV: %v, %q", err, r.Body)
						}
						for _, row := range rows[1:] {
							got = append(got, row[0])
						}
					} else {
						if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
							t.Fatalf("Content-Type %q", ct)
						}
						for line := range strings.Lines(string(r.Body)) {
							var u events.Usage
							if err := json.Unmarshal([]byte(line), &u); err != nil || u.ID == "" {
								t.Fatalf("NDJSON line %q: %v", line, err)
							}
							got = append(got, u.ID)
						}
					}
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Fatalf("exported requests %v, want %v", got, want)
					}
				})
			}
		}
	})
}

// manyKeys is a comma list of n distinct key ids.
func manyKeys(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "k" + strconv.Itoa(i)
	}
	return strings.Join(ids, ",")
}

// errorOf decodes an admin error answer.
func errorOf(t *testing.T, r edgetest.Response) (code, field, message string) {
	t.Helper()
	var body struct {
		Success bool `json:"success"`
		Error   struct{ Code, Field, Message string }
	}
	r.JSON(t, &body)
	if body.Success {
		t.Fatalf("success in an error answer: %s", r.Body)
	}
	return body.Error.Code, body.Error.Field, body.Error.Message
}

// A bad parameter answers 400 naming it, before anything is read; without
// the admin token, 401; on an edge without the analyst's connection, 503.
func TestUsageExportAndLiveErrors(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := edgetest.Start(t, b, edgetest.Options{})
		token := e.AdminToken(t)
		bad := []struct{ path, field string }{
			{"/api/v2/usage/export?format=xml", "format"},
			{"/api/v2/usage/export?from=yesterday", "from"},
			{"/api/v2/usage/export?from=2026-02-01&to=2026-01-01", "to"},
			{"/api/v2/usage/export?platform=gemini", "platform"},
			{"/api/v2/usage/export?outcome=fine", "outcome"},
			{"/api/v2/usage/export?kyeId=key1", "kyeId"},
			{"/api/v2/usage/export?keyId=" + manyKeys(usagelog.MaxFilterValues+1), "keyId"},
			{"/api/v2/usage/live?format=csv", "format"},
			{"/api/v2/usage/live?from=24h", "from"},
			{"/api/v2/usage/live?outcome=fine", "outcome"},
		}
		for _, tc := range bad {
			r := get(t, e, tc.path, token)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: %d %s", tc.path, r.Status, r.Body)
			}
			if code, field, msg := errorOf(t, r); code != "validation_error" || field != tc.field || !strings.Contains(msg, tc.field) {
				t.Fatalf("%s: code %q field %q message %q; want %s named", tc.path, code, field, msg, tc.field)
			}
		}
		for _, path := range []string{"/api/v2/usage/export", "/api/v2/usage/live"} {
			for _, tok := range []string{"", "not-a-token"} {
				r := get(t, e, path, tok)
				if code, _, _ := errorOf(t, r); r.Status != http.StatusUnauthorized || code != "unauthorized" {
					t.Fatalf("%s with token %q: %d %s", path, tok, r.Status, r.Body)
				}
			}
		}

		off := edgetest.Start(t, b, edgetest.Options{NATS: e.NATS, NoAnalyst: true, NoWorkers: true})
		offToken := off.AdminToken(t)
		for _, path := range []string{"/api/v2/usage/export", "/api/v2/usage/live"} {
			r := get(t, off, path, offToken)
			code, _, msg := errorOf(t, r)
			if r.Status != http.StatusServiceUnavailable || code != "unavailable" || !strings.Contains(msg, "NATS_ANALYST_USER") {
				t.Fatalf("%s without the analyst: %d %s", path, r.Status, r.Body)
			}
		}
		// Parameters are checked first: a bad one is a 400 everywhere.
		if r := get(t, off, "/api/v2/usage/export?format=xml", offToken); r.Status != http.StatusBadRequest {
			t.Fatalf("bad parameter without the analyst: %d", r.Status)
		}
	})
}

// sseEvent is one server-sent event, or a comment.
type sseEvent struct {
	id, name, data, comment string
}

// liveFeed opens GET /api/v2/usage/live?query at base and returns its
// events, in order, on a channel closed when the stream ends.
func liveFeed(t *testing.T, ctx context.Context, client *http.Client, base, query, token string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v2/usage/live?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			}
		}
	}()
	return resp, ch
}

// next returns the next event or fails after within.
func next(t *testing.T, ch <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the live feed ended")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return sseEvent{}
}

// A request relayed after the live feed opened arrives as an SSE event
// within 2 s, with the usage event's JSON; the filters apply; a quiet feed
// sends heartbeats.
func TestUsageLiveFeed(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnvWith(t, b, 1, edgetest.Options{Edge: func(c *edge.Config) { c.LiveHeartbeat = 100 * time.Millisecond }})
		key2 := e.CreateKey(t, events.Key{ID: "key2", Name: "k2", IsActive: true})
		e.up.SetDefault(upstreamtest.Reply{Usage: upstreamtest.Usage{InputTokens: 10, OutputTokens: 2}})
		token := e.AdminToken(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, all := liveFeed(t, ctx, e.HTTP.Client(), e.HTTP.URL, "", token)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("live: %d %v", resp.StatusCode, resp.Header)
		}
		if ev := next(t, all, 2*time.Second); ev.comment != "following USAGE" {
			t.Fatalf("first event %+v", ev)
		}
		_, only2 := liveFeed(t, ctx, e.HTTP.Client(), e.HTTP.URL, "keyId=key2", token)
		if ev := next(t, only2, 2*time.Second); ev.comment != "following USAGE" {
			t.Fatalf("first event %+v", ev)
		}

		// Quiet: heartbeats.
		if ev := next(t, all, 2*time.Second); ev.comment != "heartbeat" {
			t.Fatalf("quiet feed sent %+v, want a heartbeat", ev)
		}

		start := time.Now()
		r1, _ := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		r2, _ := post(t, e.Env, "/api/v1/messages", key2, claudeBody)
		want := []string{r1.Header.Get("X-Request-Id"), r2.Header.Get("X-Request-Id")}
		usageOf := func(ch <-chan sseEvent) events.Usage {
			t.Helper()
			for {
				ev := next(t, ch, 2*time.Second-time.Since(start))
				if ev.comment != "" {
					continue
				}
				var u events.Usage
				if ev.name != usagelog.SSEUsage || ev.id == "" || json.Unmarshal([]byte(ev.data), &u) != nil {
					t.Fatalf("event %+v", ev)
				}
				return u
			}
		}
		for _, id := range want {
			if u := usageOf(all); u.ID != id || u.InputTokens != 10 {
				t.Fatalf("live event %+v, want request %s", u, id)
			}
		}
		if u := usageOf(only2); u.ID != want[1] || u.KeyID != "key2" {
			t.Fatalf("filtered live event %+v, want key2's request %s", u, want[1])
		}
	})
}

// Shutting the edge down ends its open live feeds at once: the server
// stops well within its grace, not at its end.
func TestUsageLiveEndsAtShutdown(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := edgetest.Start(t, b, edgetest.Options{Edge: func(c *edge.Config) { c.ShutdownGrace = 20 * time.Second }})
		token := e.AdminToken(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		served := make(chan error, 1)
		go func() { served <- e.Edge.Serve(ctx, ln) }()
		_, ch := liveFeed(t, context.Background(), &http.Client{}, "http://"+ln.Addr().String(), "", token)
		if ev := next(t, ch, 2*time.Second); ev.comment != "following USAGE" {
			t.Fatalf("first event %+v", ev)
		}
		begin := time.Now()
		stop()
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve still running 5 s after shutdown began: the live feed held it")
		}
		for range ch { // the feed ended
		}
		t.Logf("shutdown with an open live feed took %v", time.Since(begin))
	})
}

// An export cut after its first bytes (here: the client hangs up in the
// middle of a long download) aborts the response, logged as aborted,
// never as a finished export.
func TestUsageExportCutIsAborted(t *testing.T) {
	logs := &edgetest.LogBuffer{}
	e := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{Log: logs})
	token := e.AdminToken(t)
	ctx := context.Background()
	const n = 1000 // about 4 MB of CSV: more than the socket buffers take
	for i := range n {
		env, err := events.New(events.UsageRecorded, time.Now(), "key:k", "", events.Usage{
			ID: events.NewID(time.Now()), KeyID: "k", AccountID: "a", Platform: usagelog.PlatformClaude,
			Model: strings.Repeat("m", 4000), Status: 200, Outcome: events.OutcomeOK, Attempts: i,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := streams.Publish(ctx, e.JS, events.UsageSubject(usagelog.PlatformClaude, "k"), env, nil); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.HTTP.URL+"/api/v2/usage/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTP.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %v %v", resp, err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the client is gone
	edgetest.WaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(logs.String(), `"message":"usage export cut"`) && strings.Contains(logs.String(), `"route":"/api/v2/usage/export"`)
	})
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"route":"/api/v2/usage/export"`) && !strings.Contains(line, `"aborted":true`) {
			t.Fatalf("the cut export was logged as finished: %s", line)
		}
		if strings.Contains(line, `"message":"usage export"`) {
			t.Fatalf("the cut export was logged as complete: %s", line)
		}
	}
}

// A live reader that stops reading is dropped once it is more than its
// buffer behind: the edge never holds a growing backlog for it, and the
// stream ends (aborted) instead of hanging.
func TestUsageLiveDropsASlowReader(t *testing.T) {
	logs := &edgetest.LogBuffer{}
	e := edgetest.Start(t, redistest.Embedded(t), edgetest.Options{Log: logs, Edge: func(c *edge.Config) { c.LiveBuffer = 4 }})
	token := e.AdminToken(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.HTTP.URL+"/api/v2/usage/live", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, ": following USAGE") {
		t.Fatalf("live: %q %v", line, err)
	}
	const total = 192
	// 12 MB of events, far more than the socket buffers and the feed's
	// buffer of 4 hold, while the client reads nothing.
	big := strings.Repeat("m", 64<<10)
	for range total {
		env, err := events.New(events.UsageRecorded, time.Now(), "key:k", "", events.Usage{
			ID: events.NewID(time.Now()), KeyID: "k", Platform: usagelog.PlatformClaude, Model: "m", SessionHash: big, Status: 200, Outcome: events.OutcomeOK,
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := streams.Msg(events.UsageSubject(usagelog.PlatformClaude, "k"), env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.JS.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.JS.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("publish did not complete")
	}
	edgetest.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "the reader fell behind and is dropped") })
	// What reached the socket can still be read; then the stream ends with
	// an error, not a clean end, and well before all the events.
	got := 0
	done := make(chan error, 1)
	go func() {
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "event: ") {
				got++
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err == io.EOF || got >= total {
			t.Fatalf("the dropped feed ended with %v after %d events; want an aborted stream", err, got)
		}
		t.Logf("the dropped reader got %d of %d events, then %v", got, total, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the dropped feed did not end")
	}
}
