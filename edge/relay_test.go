package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

const claudeBody = `{"model":"claude-sonnet-4-5-20250929","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`

// post sends a relay request with key and returns the response (body read).
func post(t *testing.T, env *edgetest.Env, path, key, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

type relayEnv struct {
	*edgetest.Env
	up  *upstreamtest.Server
	key string
}

func newRelayEnv(t *testing.T, b redistest.Backend, accounts int) relayEnv {
	t.Helper()
	return newRelayEnvWith(t, b, accounts, edgetest.Options{})
}

func newRelayEnvWith(t *testing.T, b redistest.Backend, accounts int, o edgetest.Options) relayEnv {
	t.Helper()
	env := edgetest.Start(t, b, o)
	up := upstreamtest.New(t)
	for i := range accounts {
		env.CreateAccount(t, events.Account{ID: fmt.Sprintf("acct%d", i), Name: "a", APIURL: up.URL, IsActive: true, Schedulable: true}, fmt.Sprintf("sk-ant-upstream-secret-%d", i))
	}
	key := env.CreateKey(t, events.Key{ID: "key1", Name: "k", IsActive: true})
	return relayEnv{Env: env, up: up, key: key}
}

func TestClaudeStreamRelayedAndRecorded(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.up.SetDefault(upstreamtest.Reply{Text: "hello there", Usage: upstreamtest.Usage{InputTokens: 120, OutputTokens: 33, CacheCreation5m: 10, CacheCreation1h: 20, CacheRead: 7}})
		resp, body := post(t, e.Env, "/api/v1/messages?beta=true", e.key, claudeBody, "anthropic-version", "2023-06-01", "anthropic-beta", "x-beta", "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		evs, err := upstreamtest.ReadEvents(bytes.NewReader(body))
		if err != nil || len(evs) == 0 || evs[len(evs)-1].Name != "message_stop" || !strings.Contains(string(body), `"text":"lo t"`) {
			t.Fatalf("stream %s", body)
		}
		seen := e.up.Request(t, 0)
		if got := seen.Header.Get("X-Api-Key"); got != "sk-ant-upstream-secret-0" {
			t.Fatalf("upstream saw key %q", got)
		}
		if seen.Header.Get("Authorization") != "" || seen.Header.Get("Accept-Encoding") != "" {
			t.Fatalf("client credentials or encoding forwarded: %v", seen.Header)
		}
		if seen.RawQuery != "beta=true" || seen.Header.Get("Anthropic-Beta") != "x-beta" || seen.Header.Get("Anthropic-Version") != "2023-06-01" {
			t.Fatalf("query/headers not forwarded: %q %v", seen.RawQuery, seen.Header)
		}
		us := e.UsageEvents(t)
		if len(us) != 1 {
			t.Fatalf("%d usage events", len(us))
		}
		u := us[0]
		if u.ID != resp.Header.Get("X-Request-Id") || u.KeyID != "key1" || u.AccountID != "acct0" || u.Outcome != "ok" || u.Status != 200 || !u.Stream {
			t.Fatalf("usage %+v", u)
		}
		want := events.Tokens{InputTokens: 120, OutputTokens: 33, CacheCreateTokens: 30, CacheCreate1hTokens: 20, CacheReadTokens: 7}
		if u.Tokens != want {
			t.Fatalf("tokens %+v, want %+v", u.Tokens, want)
		}
		// sonnet 4.5: 120*3 + 33*15 + 10*3.75 + 20*6 + 7*0.3 per MTok
		if !u.Priced || u.CostNanos != 1_014_600 {
			t.Fatalf("cost %d priced %v", u.CostNanos, u.Priced)
		}
		if u.ChosenBy != "scheduled" || u.Attempts != 1 {
			t.Fatalf("chosen %q attempts %d", u.ChosenBy, u.Attempts)
		}
	})
}

func TestNonStreamAndCodex(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.CreateAccount(t, events.Account{ID: "cx", Platform: events.PlatformCodex, APIURL: e.up.URL, IsActive: true, Schedulable: true}, "sk-openai-upstream-secret")
		e.up.SetDefault(upstreamtest.Reply{Usage: upstreamtest.Usage{InputTokens: 50, OutputTokens: 9, CacheRead: 20, ReasoningTokens: 4}})
		resp, body := post(t, e.Env, "/claude/v1/messages", e.key, strings.Replace(claudeBody, `"stream":true`, `"stream":false`, 1))
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"usage"`) {
			t.Fatalf("json: %d %s", resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/openai/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
		req.Header.Set("Authorization", "Bearer "+e.key)
		r2, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		if r2.StatusCode != 200 || !strings.Contains(string(b2), "response.completed") {
			t.Fatalf("codex: %d %s", r2.StatusCode, b2)
		}
		if got := e.up.Request(t, 1).Header.Get("Authorization"); got != "Bearer sk-openai-upstream-secret" {
			t.Fatalf("codex upstream auth %q", got)
		}
		us := e.UsageEvents(t)
		if len(us) != 2 || us[0].Stream || us[0].Tokens.InputTokens != 50 || us[1].Platform != "codex" || us[1].Tokens != (events.Tokens{InputTokens: 50, OutputTokens: 9, CacheReadTokens: 20, ReasoningTokens: 4}) {
			t.Fatalf("usage %+v", us)
		}
		// gpt-5: (50-20)*1.25 + 20*0.125 + 9*10 per MTok = 37.5+2.5+90 = 130 µ$ = 130,000 n$
		if us[1].CostNanos != 130_000 {
			t.Fatalf("codex cost %d", us[1].CostNanos)
		}
		// OpenAI answers with an X-Request-Id of its own: the client's
		// X-Request-Id stays relay's (the usage event's id), and the
		// upstream's travels apart.
		if got := r2.Header.Get("X-Request-Id"); got != us[1].ID {
			t.Fatalf("codex X-Request-Id %q, want relay's %q", got, us[1].ID)
		}
		if got := r2.Header.Get("X-Upstream-Request-Id"); !strings.HasPrefix(got, "req_upstreamtest") {
			t.Fatalf("X-Upstream-Request-Id %q, want the upstream's id", got)
		}
	})
}

func TestKeyRefusalsSpeakTheRouteDialect(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		deleted := e.CreateKey(t, events.Key{ID: "gone", IsActive: true})
		e.DeleteKey(t, "gone")
		disabled := e.CreateKey(t, events.Key{ID: "off", IsActive: false})
		past := time.Now().Add(-time.Hour)
		expired := e.CreateKey(t, events.Key{ID: "old", IsActive: true, ExpirationMode: "fixed", ExpiresAt: &past})
		var bodies []string
		for _, k := range []string{"", "cr_" + strings.Repeat("0", 64), "garbage", deleted, disabled, expired} {
			resp, body := post(t, e.Env, "/api/v1/messages", k, claudeBody)
			if resp.StatusCode != 401 {
				t.Fatalf("key %q: %d %s", k, resp.StatusCode, body)
			}
			bodies = append(bodies, string(body))
		}
		for _, bd := range bodies[1:] {
			if bd != bodies[0] {
				t.Fatalf("401 bodies differ: %s vs %s", bd, bodies[0])
			}
		}
		if !strings.Contains(bodies[0], `"type":"authentication_error"`) {
			t.Fatalf("not Anthropic's shape: %s", bodies[0])
		}
		resp, body := post(t, e.Env, "/openai/responses", "", `{"model":"gpt-5"}`)
		if resp.StatusCode != 401 || !strings.Contains(string(body), `"error":{"code":"invalid_api_key"`) {
			t.Fatalf("openai 401: %d %s", resp.StatusCode, body)
		}
		if e.up.Total() != 0 {
			t.Fatal("a refused request reached the upstream")
		}
		if n := len(e.UsageEvents(t)); n != 0 {
			t.Fatalf("unauthenticated requests recorded: %d", n)
		}
	})
}

func TestPermissionRefusalsAreCounted(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		codexOnly := e.CreateKey(t, events.Key{ID: "cx", IsActive: true, Permissions: "codex"})
		noSonnet := e.CreateKey(t, events.Key{ID: "ns", IsActive: true, EnableModelRestriction: true, RestrictedModels: []string{"claude-sonnet-4-5-20250929"}})
		ccOnly := e.CreateKey(t, events.Key{ID: "cc", IsActive: true, EnableClientRestriction: true, AllowedClients: []string{"claude_code"}})
		for _, k := range []string{codexOnly, noSonnet, ccOnly} {
			resp, body := post(t, e.Env, "/api/v1/messages", k, claudeBody, "User-Agent", "curl/8.5.0")
			if resp.StatusCode != 403 || !strings.Contains(string(body), `"permission_error"`) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
		resp, body := post(t, e.Env, "/api/v1/messages", e.key, `{"model":`)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "invalid_request_error") {
			t.Fatalf("malformed: %d %s", resp.StatusCode, body)
		}
		if us := e.UsageEvents(t); len(us) != 0 || e.up.Total() != 0 {
			t.Fatalf("%d usage events, %d upstream calls; refusals are counted, not recorded", len(us), e.up.Total())
		}
		got := map[string]int64{}
		for _, c := range e.RefusalCounts(t) {
			got[c.KeyID+"/"+c.Reason] += c.Count
		}
		want := map[string]int64{"cx/permission": 1, "ns/model": 1, "cc/client": 1, "key1/invalid_request": 1}
		if !maps.Equal(got, want) {
			t.Fatalf("refusals counted %v, want %v", got, want)
		}
	})
}

func TestFailoverIsInvisibleAndMarksTheAccount(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply upstreamtest.Reply
		state string
	}{
		{"429", upstreamtest.RateLimited(90*time.Second, time.Time{}), events.StateRateLimited},
		{"529", upstreamtest.Overloaded(), events.StateOverloaded},
		{"401", upstreamtest.Unauthorized(), events.StateUnauthorized},
		{"500", upstreamtest.ServerError(), events.StateError},
		{"hangup", upstreamtest.Reply{Hangup: true}, events.StateError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
				e := newRelayEnv(t, b, 2)
				e.up.Enqueue(tc.reply)
				resp, body := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
				if resp.StatusCode != 200 || !strings.Contains(string(body), "message_stop") {
					t.Fatalf("client saw %d %s", resp.StatusCode, body)
				}
				us := e.UsageEvents(t)
				if len(us) != 1 || us[0].Attempts != 2 || len(us[0].AttemptLog) != 1 || us[0].Outcome != "ok" {
					t.Fatalf("usage %+v", us)
				}
				failed := us[0].AttemptLog[0].AccountID
				if st := e.AccountState(failed); st.State != tc.state || !st.Until.After(time.Now()) {
					t.Fatalf("failed account state %+v", st)
				}
				if tc.name == "429" {
					if d := time.Until(e.AccountState(failed).Until); d < 80*time.Second || d > 100*time.Second {
						t.Fatalf("retry-after not honoured: %v", d)
					}
				}
				// Later requests skip the failed account until its state ends.
				for range 3 {
					post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
				}
				for _, u := range e.UsageEvents(t)[1:] {
					if u.AccountID == failed || u.Attempts != 1 {
						t.Fatalf("failed account used again: %+v", u)
					}
				}
			})
		})
	}
}

func TestEveryAccountFailing(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 2)
		e.up.Enqueue(upstreamtest.Overloaded(), upstreamtest.RateLimited(30*time.Second, time.Time{}))
		resp, body := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate_limit_error") {
			t.Fatalf("want the last upstream answer, got %d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if resp.StatusCode != 503 || !strings.Contains(string(body), "overloaded_error") {
			t.Fatalf("no account left: %d %s", resp.StatusCode, body)
		}
		// The 503 reached no upstream: it is counted with the refusals
		// (reason no_account), not stored as a usage event of its own.
		us := e.UsageEvents(t)
		if len(us) != 1 || us[0].Outcome != "upstream_error" || us[0].Attempts != 2 {
			t.Fatalf("usage %+v", us)
		}
		counts := e.RefusalCounts(t)
		if len(counts) != 1 || counts[0].Reason != events.RefusalNoAccount || counts[0].Count != 1 {
			t.Fatalf("refusal counts %+v, want one no_account", counts)
		}
	})
}

func TestMidStreamFailureEndsWithAnErrorEvent(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 2)
		e.up.Enqueue(upstreamtest.Reply{CutAfter: 4, Usage: upstreamtest.Usage{InputTokens: 40, OutputTokens: 12}})
		resp, body := post(t, e.Env, "/api/v1/messages", e.key, claudeBody)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "event: error") || strings.Contains(string(body), "message_stop") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		us := e.UsageEvents(t)
		if len(us) != 1 || us[0].Outcome != "upstream_error" || us[0].Attempts != 1 || us[0].Tokens.InputTokens != 40 {
			t.Fatalf("usage %+v", us)
		}
		if e.up.Total() != 1 {
			t.Fatal("retried after the first byte")
		}
	})
}

func TestClientDisconnectCancelsUpstreamAndIsRecordedOnce(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.up.Enqueue(upstreamtest.Reply{StallAfter: 3, Usage: upstreamtest.Usage{InputTokens: 77, OutputTokens: 5}})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(claudeBody))
		req.Header.Set("x-api-key", e.key)
		resp, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		cancelled := time.Now()
		cancel()
		resp.Body.Close()
		r := e.up.WaitCanceled(t, 0, 5*time.Second)
		if lag := r.CanceledAt.Sub(cancelled); lag > time.Second {
			t.Fatalf("upstream cancelled %v after the client left", lag)
		}
		us := e.WaitUsage(t, 1)
		if len(us) != 1 || us[0].Outcome != "client_closed" || us[0].Tokens.InputTokens != 77 {
			t.Fatalf("usage %+v", us)
		}
		edgetest.WaitFor(t, 5*time.Second, func() bool {
			n, err := e.Store.KeyInFlight(context.Background(), "key1", time.Now())
			return err == nil && n == 0
		})
	})
}

func TestSSEArrivesPromptly(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		e.up.Enqueue(upstreamtest.Reply{EventDelay: 200 * time.Millisecond, Deltas: 3})
		req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/api/v1/messages", strings.NewReader(claudeBody))
		req.Header.Set("x-api-key", e.key)
		resp, err := e.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		var arrivals []time.Time
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "event:") {
				arrivals = append(arrivals, time.Now())
				if len(arrivals) == 1 && e.up.Request(t, 0).Done() {
					t.Fatal("first event arrived only after the upstream finished")
				}
			}
			if err != nil {
				break
			}
		}
		if len(arrivals) < 5 {
			t.Fatalf("%d events", len(arrivals))
		}
		// Events must arrive as the upstream sends them, 200ms apart: a
		// buffer anywhere would bunch them (gaps near 0 then one long gap).
		// The median is held to 200±50ms; single gaps only to "not bunched",
		// as a loaded CI machine can delay one wake-up.
		var gaps []time.Duration
		for i := 1; i < len(arrivals)-1; i++ {
			gap := arrivals[i].Sub(arrivals[i-1])
			gaps = append(gaps, gap)
			if gap < 100*time.Millisecond {
				t.Errorf("event %d arrived only %v after the previous one: bunched (upstream: 200ms)", i, gap)
			}
		}
		slices.Sort(gaps)
		if med := gaps[len(gaps)/2]; med < 150*time.Millisecond || med > 250*time.Millisecond {
			t.Errorf("median gap %v, want 200±50ms (gaps %v)", med, gaps)
		}
	})
}

func TestStickySessions(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 3)
		session := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
		for range 20 {
			post(t, e.Env, "/api/v1/messages", e.key, claudeBody, "X-Claude-Code-Session-Id", session(0))
		}
		us := e.UsageEvents(t)
		for _, u := range us {
			if u.AccountID != us[0].AccountID {
				t.Fatalf("session moved from %s to %s", us[0].AccountID, u.AccountID)
			}
		}
		if us[1].ChosenBy != "sticky" {
			t.Fatalf("second request chosen by %q", us[1].ChosenBy)
		}
		used := map[string]bool{}
		for i := 1; i <= 30; i++ {
			post(t, e.Env, "/api/v1/messages", e.key, claudeBody, "X-Claude-Code-Session-Id", session(i))
		}
		for _, u := range e.UsageEvents(t)[20:] {
			used[u.AccountID] = true
		}
		if len(used) != 3 {
			t.Fatalf("30 sessions used %d of 3 accounts", len(used))
		}
		// The sticky account becomes unavailable: the session moves.
		first := us[0].AccountID
		e.up.Enqueue(upstreamtest.Overloaded())
		post(t, e.Env, "/api/v1/messages", e.key, claudeBody, "X-Claude-Code-Session-Id", session(0))
		post(t, e.Env, "/api/v1/messages", e.key, claudeBody, "X-Claude-Code-Session-Id", session(0))
		all := e.UsageEvents(t)
		last := all[len(all)-1]
		if last.AccountID == first || last.Attempts != 1 {
			t.Fatalf("session stayed on its unavailable account: %+v", last)
		}
	})
}

func TestConcurrencyLimitAcrossRequests(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		e := newRelayEnv(t, b, 1)
		key := e.CreateKey(t, events.Key{ID: "one", IsActive: true, ConcurrencyLimit: 1})
		e.up.Enqueue(upstreamtest.Reply{StallAfter: 2, StallFor: 500 * time.Millisecond})
		var wg sync.WaitGroup
		wg.Go(func() { post(t, e.Env, "/api/v1/messages", key, claudeBody) })
		e.up.WaitRequests(t, 1, 5*time.Second)
		resp, body := post(t, e.Env, "/api/v1/messages", key, claudeBody)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "rate_limit_error") {
			t.Fatalf("second concurrent request: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		wg.Wait()
		if resp, _ := post(t, e.Env, "/api/v1/messages", key, claudeBody); resp.StatusCode != 200 {
			t.Fatalf("slot not released: %d", resp.StatusCode)
		}
	})
}
