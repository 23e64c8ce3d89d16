package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"relay/edge/upstreamtest"
	"relay/store/redistest"
)

// readDotEnv reads KEY=VALUE lines as Claude Relay Service's dotenv does:
// blank lines and # comments skipped, a " #" comment after a value cut off.
func readDotEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not KEY=VALUE: %q", path, line)
		}
		if i := strings.Index(v, " #"); i >= 0 {
			v = v[:i]
		}
		env[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// A Claude Relay Service user's settings start relay unchanged but for the
// secrets: a 32-character ENCRYPTION_KEY, Redis by REDIS_HOST/REDIS_PORT/
// REDIS_PASSWORD/REDIS_DB, and variables relay does not know. A request is
// relayed with the account's key opened under that ENCRYPTION_KEY.
func TestServeWithClaudeRelayServiceSettings(t *testing.T) {
	const redisPassword = "crs-redis-secret"
	rs := redistest.NewServer(t)
	admin := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	if err := admin.ConfigSet(context.Background(), "requirepass", redisPassword).Err(); err != nil {
		t.Fatal(err)
	}
	admin.Close()

	env := readDotEnv(t, "testdata/crs.env")
	// Only the secrets change, and where this test's Redis listens; DATA_DIR,
	// NATS_LISTEN and PORT keep parallel tests apart.
	env["JWT_SECRET"] = "a-jwt-secret-of-the-operators-choosing"
	env["ENCRYPTION_KEY"] = "0123456789abcdefghijklmnopqrstuv" // 32 characters, as the seed's .env has it
	env["ADMIN_PASSWORD"] = chaosAdminPassword
	env["REDIS_PASSWORD"] = redisPassword
	env["REDIS_PORT"] = strconv.Itoa(rs.Port())
	env["PORT"], env["DATA_DIR"], env["NATS_LISTEN"] = "0", t.TempDir(), "off"
	if env["REDIS_HOST"] != "localhost" || env["REDIS_DB"] != "0" {
		t.Fatalf("testdata/crs.env: REDIS_HOST %q, REDIS_DB %q", env["REDIS_HOST"], env["REDIS_DB"])
	}

	p := startServe(t, env)
	up := upstreamtest.New(t)
	up.SetDefault(upstreamtest.Reply{Usage: chaosUsage})
	a := chaosLogin(t, p.base)
	id, key := a.setup(t, up.URL, 1)
	r := chaosDo(p.base, key)
	if !r.complete {
		t.Fatalf("relayed request: %d %v", r.status, r.err)
	}
	if got := up.Request(t, 0).Header.Get("X-Api-Key"); got != "sk-ant-chaos-0" {
		t.Fatalf("upstream got x-api-key %q, want the account's key opened under the 32-character ENCRYPTION_KEY", got)
	}
	var stats struct {
		Total struct {
			Requests int64 `json:"requests"`
		} `json:"total"`
	}
	chaosWait(t, 20*time.Second, "the request in the key's statistics", func() bool {
		a.do(t, http.StatusOK, http.MethodGet, "/api/v2/keys/"+id+"/stats", nil, &stats)
		return stats.Total.Requests == 1
	})

	// The read models are in database 0 of the password-protected Redis.
	c := redis.NewClient(&redis.Options{Addr: rs.Addr(), Password: redisPassword, DB: 0})
	defer c.Close()
	if n, err := c.DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Fatalf("DBSIZE of database 0: %d, %v", n, err)
	}
}

func TestRedisURLFromSeedVariables(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"host only", map[string]string{"REDIS_HOST": "localhost"}, "redis://localhost:6379/"},
		{"seed defaults", map[string]string{"REDIS_HOST": "localhost", "REDIS_PORT": "6379", "REDIS_PASSWORD": "", "REDIS_DB": "0", "REDIS_ENABLE_TLS": ""},
			"redis://localhost:6379/0"},
		{"password and database", map[string]string{"REDIS_HOST": "10.0.0.5", "REDIS_PORT": "6380", "REDIS_PASSWORD": "p@ss:w/rd", "REDIS_DB": "3"},
			"redis://:p%40ss%3Aw%2Frd@10.0.0.5:6380/3"},
		{"TLS", map[string]string{"REDIS_HOST": "cache.example", "REDIS_ENABLE_TLS": "true"}, "rediss://cache.example:6379/"},
		{"REDIS_URL wins", map[string]string{"REDIS_URL": "redis://r:1/2", "REDIS_HOST": "ignored"}, "redis://r:1/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redisURLFrom(func(k string) string { return tc.env[k] })
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			o, err := redis.ParseURL(got)
			if err != nil {
				t.Fatalf("go-redis cannot parse %q: %v", got, err)
			}
			if p := tc.env["REDIS_PASSWORD"]; p != "" && o.Password != p {
				t.Fatalf("password %q, want %q", o.Password, p)
			}
			if d := tc.env["REDIS_DB"]; d != "" && strconv.Itoa(o.DB) != d {
				t.Fatalf("db %d, want %s", o.DB, d)
			}
			if (tc.env["REDIS_ENABLE_TLS"] == "true") != (o.TLSConfig != nil) {
				t.Fatalf("TLS %v with REDIS_ENABLE_TLS=%q", o.TLSConfig != nil, tc.env["REDIS_ENABLE_TLS"])
			}
		})
	}
	if _, err := redisURLFrom(func(k string) string {
		return map[string]string{"REDIS_HOST": "h", "REDIS_DB": "x"}[k]
	}); err == nil {
		t.Fatal("REDIS_DB=x accepted")
	}
}
