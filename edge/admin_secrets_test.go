package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"relay/edge/edgetest"
	"relay/events"
	"relay/store/redistest"
)

// Secrets sent to or made by the admin API appear in no event, no Redis
// value, no log line and no answer but the one that creates a user key.
func TestSecretsStayOutOfEventsRedisAndLogs(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		logs := &edgetest.LogBuffer{}
		env := edgetest.Start(t, b, edgetest.Options{Log: logs})
		tok := env.AdminToken(t)
		upstream := []string{
			"sk-ant-api03-LEAKTEST-first-upstream-key-7f3e9a",
			"sk-ant-api03-LEAKTEST-second-upstream-key-1c2d3e",
			"sk-proj-LEAKTEST-codex-upstream-key-9a8b7c",
			"LEAKTEST-proxy-password-5d6e",
			"LEAKTEST-proxy-password-rotated-8f9a",
		}
		var answers []string
		record := func(r edgetest.Response) { answers = append(answers, string(r.Body)) }

		console, r := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok, map[string]any{
			"name": "leak console", "apiUrl": "https://api.anthropic.com", "apiKey": upstream[0],
			"proxy": map[string]any{"protocol": "http", "host": "proxy.local", "port": 3128, "auth": map[string]any{"username": "relay", "password": upstream[3]}},
		})
		record(r)
		_, r = call[apiAccount](t, env, http.StatusOK, http.MethodPut, accountPath(console, ""), tok, map[string]any{
			"apiKey": upstream[1], "proxy": map[string]any{"protocol": "http", "host": "proxy.local", "port": 3128, "auth": map[string]any{"username": "relay", "password": upstream[4]}},
		})
		record(r)
		codexAcct, r := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody(upstream[2]))
		record(r)
		// Refused requests carrying a secret do not echo it either.
		r = do(t, env, http.MethodPost, "/api/v2/accounts/codex", tok, map[string]any{"name": "bad", "apiUrl": "not a url", "apiKey": upstream[2]}, nil)
		wantInvalid(t, r, "apiUrl")
		record(r)
		r = do(t, env, http.MethodPost, "/api/v2/accounts/codex", tok, `{"name":"bad","apiUrl":"https://x.example","apiKey":"`+upstream[2]+` "x"}`, nil)
		record(r)

		var userKeys []string
		for i := range 3 {
			k := createKey(t, env, tok, map[string]any{"name": fmt.Sprintf("leak %d", i), "codexAccountId": codexAcct.ID})
			userKeys = append(userKeys, k.Key)
			_, r := call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{"description": "rotated"})
			record(r)
			if i == 0 {
				_, r = call[apiKey](t, env, http.StatusOK, http.MethodDelete, "/api/v2/keys/"+k.ID, tok, nil)
				record(r)
			}
		}
		// A relay request with a user key: the key must not reach the logs.
		do(t, env, http.MethodGet, "/api/v1/models", "", nil, map[string]string{"x-api-key": userKeys[1]})
		for _, path := range []string{"/api/v2/keys?includeDeleted=true", "/api/v2/accounts/claude-console", "/api/v2/accounts/codex", "/api/v2/audit?pageSize=100", accountPath(console, "")} {
			record(do(t, env, http.MethodGet, path, tok, nil, nil))
		}

		secrets := append(append(append([]string{}, upstream...), userKeys...), edgetest.AdminPassword)
		check := func(where, text string) {
			t.Helper()
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s holds a secret (%s...)", where, s[:min(12, len(s))])
				}
			}
		}
		for i, a := range answers {
			check(fmt.Sprintf("answer %d", i), a)
		}
		for _, name := range []string{events.StreamConfig, events.StreamState, events.StreamUsage} {
			for seq, text := range streamContents(t, env.JS, name) {
				check(fmt.Sprintf("%s event %d", name, seq), text)
			}
		}
		for key, text := range redisContents(t, b.Client) {
			check("redis "+key, text)
		}
		if !strings.Contains(logs.String(), `"route":"/api/v2/keys"`) {
			t.Fatal("no logs were captured")
		}
		check("logs", logs.String())
	})
}

// streamContents returns every stored message of stream (headers and data)
// by sequence.
func streamContents(t *testing.T, js jetstream.JetStream, name string) map[uint64]string {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out[seq] = fmt.Sprint(m.Header) + string(m.Data)
	}
	if name == events.StreamConfig && len(out) < 10 {
		t.Fatalf("CONFIG holds only %d events", len(out))
	}
	return out
}

// redisContents dumps every key of the test's database.
func redisContents(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		var v any
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			v = rdb.Get(ctx, k).Val()
		case "hash":
			v = rdb.HGetAll(ctx, k).Val()
		case "set":
			v = rdb.SMembers(ctx, k).Val()
		case "zset":
			v = rdb.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "list":
			v = rdb.LRange(ctx, k, 0, -1).Val()
		default:
			v = typ
		}
		b, _ := json.Marshal(v)
		out[k] = k + " " + string(b)
	}
	if len(out) < 5 {
		t.Fatalf("redis holds only %d keys", len(out))
	}
	return out
}

// A second edge on the same streams and an empty Redis rebuilds the same
// keys and accounts.
func TestAdminEntitiesSurviveRestart(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		env := edgetest.Start(t, b, edgetest.Options{})
		tok := env.AdminToken(t)
		console, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok, map[string]any{
			"name": "restart console", "apiUrl": "https://api.anthropic.com", "apiKey": "sk-ant-api03-restart-test-key-000000",
			"supportedModels": map[string]string{"sonnet": "claude-sonnet-4-5"}, "priority": 7,
			"proxy": map[string]any{"protocol": "socks5", "host": "10.1.2.3", "port": 1080, "auth": map[string]any{"username": "u", "password": "restart-proxy-pw"}},
		})
		call[apiAccount](t, env, http.StatusOK, http.MethodPost, accountPath(console, "/toggle-schedulable"), tok, nil)
		codexAcct, _ := call[apiAccount](t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok, codexAccountBody("sk-proj-restart-test-key-0000000"))
		call[apiAccount](t, env, http.StatusOK, http.MethodDelete, accountPath(codexAcct, ""), tok, nil)
		var deleted string
		for i := range 4 {
			k := createKey(t, env, tok, map[string]any{"name": fmt.Sprintf("restart %d", i), "tags": []string{"r"}, "claudeConsoleAccountId": console.ID,
				"dailyCostLimit": 3.5, "rateLimitWindow": 10, "rateLimitRequests": 100})
			switch i {
			case 1:
				call[apiKey](t, env, http.StatusOK, http.MethodPut, "/api/v2/keys/"+k.ID, tok, map[string]any{"isActive": false, "expirationMode": "activation", "activationDays": 2})
			case 2:
				call[apiKey](t, env, http.StatusOK, http.MethodDelete, "/api/v2/keys/"+k.ID, tok, nil)
				deleted = k.ID
			}
		}
		markState(t, env, console.ID, events.StateOverloaded, time.Now().Add(time.Hour))
		paths := []string{
			"/api/v2/keys?includeDeleted=true", "/api/v2/keys?search=restart%203",
			"/api/v2/accounts/claude-console?includeDeleted=true", "/api/v2/accounts/codex?includeDeleted=true",
			accountPath(console, ""), accountPath(console, "/availability"), "/api/v2/keys/" + deleted,
		}
		before := map[string]string{}
		for _, p := range paths {
			data, _ := call[json.RawMessage](t, env, http.StatusOK, http.MethodGet, p, tok, nil)
			before[p] = string(data)
		}
		env.Close()

		fresh := redistest.Real(t)
		if b.Embedded() {
			fresh = redistest.Embedded(t)
		}
		env2 := edgetest.Start(t, fresh, edgetest.Options{NATS: env.NATS})
		edgetest.WaitFor(t, 20*time.Second, env2.Workers.CaughtUp)
		tok2 := env2.AdminToken(t)
		for _, p := range paths {
			data, _ := call[json.RawMessage](t, env2, http.StatusOK, http.MethodGet, p, tok2, nil)
			if string(data) != before[p] {
				t.Errorf("%s after restart:\n got %s\nwant %s", p, data, before[p])
			}
		}
		if v := catalogKey(env2, deleted); !v.IsDeleted {
			t.Fatal("the restarted edge accepts a deleted key")
		}
	})
}
