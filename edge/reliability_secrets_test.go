package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"relay/edge/edgetest"
	"relay/edge/upstreamtest"
	"relay/events"
	"relay/store/redistest"
)

// relAdmin sends an admin request and decodes data into out.
func relAdmin(t *testing.T, env *edgetest.Env, want int, method, path, tok string, body, out any) {
	t.Helper()
	r := env.Do(t, method, path, tok, body)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	if out != nil {
		var wrap struct {
			Data json.RawMessage `json:"data"`
		}
		r.JSON(t, &wrap)
		if err := json.Unmarshal(wrap.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// Property 16 (TestSecretsStayOutOfEventsRedisAndLogs covers secrets sent
// through the admin API; TestKeyRefusalsSpeakTheRouteDialect the identical
// 401s): after relay traffic of every kind (both header forms, both
// platforms, streams and JSON, a failover after an upstream 401, a
// mid-stream cut, a client disconnect, near-miss and padded keys), no
// plaintext user key (nor its hex part), upstream key, proxy password or
// admin password appears in any log line, in any message of any stream
// (headers and data), or in any Redis value or key name (SCAN of every key).
func TestReliabilityRelayTrafficLeaksNoSecret(t *testing.T) {
	redistest.ForEach(t, func(t *testing.T, b redistest.Backend) {
		logs := &relLog{}
		env := edgetest.Start(t, b, edgetest.Options{Log: logs})
		up := upstreamtest.New(t)
		up.SetDefault(upstreamtest.Reply{Usage: relUsage})
		tok := env.AdminToken(t)
		upstream := []string{
			"sk-ant-api03-RELLEAK-console-one-4b1d9e",
			"sk-ant-api03-RELLEAK-console-two-77aa01",
			"sk-proj-RELLEAK-codex-5c5c5c",
			"RELLEAK-proxy-password-e0e0",
		}
		relAdmin(t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok,
			map[string]any{"name": "one", "apiUrl": up.URL, "apiKey": upstream[0], "priority": 1}, nil)
		relAdmin(t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok,
			map[string]any{"name": "two", "apiUrl": up.URL, "apiKey": upstream[1], "priority": 2}, nil)
		relAdmin(t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/codex", tok,
			map[string]any{"name": "codex", "apiUrl": up.URL, "apiKey": upstream[2]}, nil)
		relAdmin(t, env, http.StatusCreated, http.MethodPost, "/api/v2/accounts/claude-console", tok,
			map[string]any{"name": "proxied", "apiUrl": up.URL, "apiKey": upstream[0] + "x", "schedulable": false,
				"proxy": map[string]any{"protocol": "http", "host": "127.0.0.1", "port": 9, "auth": map[string]any{"username": "u", "password": upstream[3]}}}, nil)
		type key struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		var userKeys []string
		for i := range 2 {
			var k key
			relAdmin(t, env, http.StatusCreated, http.MethodPost, "/api/v2/keys", tok, map[string]any{"name": fmt.Sprintf("leak %d", i)}, &k)
			userKeys = append(userKeys, k.Key)
		}
		// The catalog of this edge has the keys (read-your-writes).
		send := func(path, hdr, val, body string) int {
			req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(hdr, val)
			resp, err := env.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 64<<10)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			return resp.StatusCode
		}
		k0, k1 := userKeys[0], userKeys[1]
		nearMiss := k0[:len(k0)-1] + "0"
		if nearMiss == k0 {
			nearMiss = k0[:len(k0)-1] + "1"
		}
		nonStream := strings.Replace(relBody, `"stream":true`, `"stream":false`, 1)
		codex := `{"model":"gpt-5","stream":true,"input":"hi"}`
		up.Enqueue(upstreamtest.Unauthorized()) // the first account fails over
		for _, c := range []struct {
			path, hdr, val, body string
			want                 int
		}{
			{"/api/v1/messages", "x-api-key", k0, relBody, 200},
			{"/api/v1/messages", "Authorization", "Bearer " + k1, relBody, 200},
			{"/claude/v1/messages", "x-api-key", k0, nonStream, 200},
			{"/openai/responses", "Authorization", "Bearer " + k1, codex, 200},
			{"/api/v1/messages", "x-api-key", nearMiss, relBody, 401},          // near miss
			{"/api/v1/messages", "x-api-key", k0 + "0", relBody, 401},          // padded
			{"/api/v1/messages", "Authorization", "Basic " + k0, relBody, 401}, // wrong scheme
			{"/openai/responses", "Authorization", "Bearer " + k1 + " extra", codex, 401},
		} {
			if got := send(c.path, c.hdr, c.val, c.body); got != c.want {
				t.Errorf("%s %s: %d, want %d", c.path, c.hdr, got, c.want)
			}
		}
		up.Enqueue(upstreamtest.Reply{CutAfter: 3})
		send("/api/v1/messages", "x-api-key", k1, relBody)
		up.Enqueue(upstreamtest.Reply{StallAfter: 2})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.HTTP.URL+"/api/v1/messages", strings.NewReader(relBody))
		req.Header.Set("x-api-key", k0)
		if resp, err := env.HTTP.Client().Do(req); err == nil {
			resp.Body.Read(make([]byte, 100))
			cancel()
			resp.Body.Close()
		}
		cancel()
		env.WaitUsage(t, 6)
		env.WaitUsageProjected(t)

		secrets := append([]string{edgetest.AdminPassword}, upstream...)
		for _, k := range userKeys {
			secrets = append(secrets, k, strings.TrimPrefix(k, "cr_"))
		}
		leaks := 0
		check := func(where, text string) {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					leaks++
					t.Errorf("property 16 (no plaintext secret stored or logged): %s holds %.14s...", where, s)
				}
			}
		}
		for i, line := range strings.Split(logs.String(), "\n") {
			check(fmt.Sprintf("log line %d", i+1), line)
		}
		msgs := 0
		for _, name := range []string{events.StreamConfig, events.StreamState, events.StreamUsage} {
			s, err := env.JS.Stream(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			info, _ := s.Info(context.Background())
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
				m, err := s.GetMsg(context.Background(), seq)
				if err != nil {
					continue
				}
				msgs++
				check(fmt.Sprintf("%s message %d", name, seq), m.Subject+fmt.Sprint(m.Header)+string(m.Data))
			}
		}
		keys := 0
		var cursor uint64
		rctx := context.Background()
		for {
			batch, next, err := b.Client.Scan(rctx, cursor, "*", 500).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range batch {
				keys++
				var v any
				switch b.Client.Type(rctx, k).Val() {
				case "string":
					v = b.Client.Get(rctx, k).Val()
				case "hash":
					v = b.Client.HGetAll(rctx, k).Val()
				case "set":
					v = b.Client.SMembers(rctx, k).Val()
				case "zset":
					v = b.Client.ZRangeWithScores(rctx, k, 0, -1).Val()
				case "list":
					v = b.Client.LRange(rctx, k, 0, -1).Val()
				}
				j, _ := json.Marshal(v)
				check("redis "+k, k+" "+string(j))
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		lines := strings.Count(logs.String(), "\n")
		if lines < 10 || msgs < 10 || keys < 10 {
			t.Fatalf("too little to scan: %d log lines, %d messages, %d Redis keys", lines, msgs, keys)
		}
		t.Logf("scanned %d log lines, %d stream messages, %d Redis keys for %d secrets: %d leaks", lines, msgs, keys, len(secrets), leaks)
	})
}
