package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"relay/edge/secrets"
	"relay/events"
	"relay/events/streams"
	"relay/store"
)

// relayProc is a `relay serve` under test, with an account on the fake
// upstream and an API key.
type relayProc struct {
	*proc
	// natsAddr is its NATS: the embedded one (NATS_LISTEN) or the harness's
	// (NATS_URL). redisURL is its Redis: the harness's redis-server, or the
	// embedded one found among its sockets.
	natsAddr, redisURL string
	// natsPassword is relay's NATS password when natsAddr is the embedded
	// server (relay serve generates it under DATA_DIR/secrets).
	natsPassword     string
	embeddedRedis    bool
	encKey, password string
	// metricsToken opens /metrics on the main port (METRICS_TOKEN); the
	// metrics listener is off so several runs can share the host.
	metricsToken string
	// key is the API key secret the load generator sends.
	key string
	// admin is an HTTP client for setup and /metrics, apart from the load's.
	admin *http.Client
}

// relayEnvNames are the variables relay reads; the harness sets its own and
// drops any the caller's environment has.
var relayEnvNames = []string{
	"PORT", "HOST", "DATA_DIR", "NATS_URL", "NATS_LISTEN", "NATS_REPLICAS", "REDIS_URL", "REDIS_HOST",
	"REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "JWT_SECRET", "ENCRYPTION_KEY", "ADMIN_USERNAME",
	"ADMIN_PASSWORD", "LOG_LEVEL", "LOG_FORMAT", "PRICING_FILE", "USAGE_RETENTION", "STICKY_TTL",
	"MAX_RETRIES", "TZ", "SHUTDOWN_GRACE", "BODY_LIMIT_MB", "METRICS_LISTEN", "METRICS_TOKEN",
}

// startRelay runs `relay serve` on loopback with a fresh DATA_DIR under
// workDir; redisURL "" means the embedded Redis, natsURL "" the embedded
// NATS.
func startRelay(ctx context.Context, bin, name, workDir, redisURL, natsURL, logLevel string) (*relayProc, error) {
	r := &relayProc{
		encKey: randomHex(32), password: randomHex(16), metricsToken: randomHex(16),
		admin: &http.Client{Timeout: 30 * time.Second},
	}
	if natsURL == "" {
		natsPort, err := freePort()
		if err != nil {
			return nil, err
		}
		r.natsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(natsPort))
	} else {
		r.natsAddr = strings.TrimPrefix(natsURL, "nats://")
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(relayEnvNames, k)
	})
	env = append(env, "PORT=0", "HOST=127.0.0.1", "DATA_DIR="+filepath.Join(workDir, name+"-data"),
		"ADMIN_PASSWORD="+r.password, "ENCRYPTION_KEY="+r.encKey,
		"JWT_SECRET="+randomHex(32), "LOG_LEVEL="+logLevel, "TZ=UTC",
		"METRICS_LISTEN=off", "METRICS_TOKEN="+r.metricsToken)
	if natsURL == "" {
		env = append(env, "NATS_LISTEN="+r.natsAddr)
	} else {
		env = append(env, "NATS_URL="+natsURL)
	}
	if redisURL != "" {
		env = append(env, "REDIS_URL="+redisURL)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	var err error
	if r.proc, err = startProc(ctx, name, cmd, filepath.Join(workDir, name+".log"), true); err != nil {
		return nil, err
	}
	if err := r.waitReady(ctx); err != nil {
		r.stop()
		return nil, err
	}
	// relay serve keeps the passwords of its embedded NATS and Redis with
	// its generated secrets.
	secret := func(file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(workDir, name+"-data", "secrets", file))
		return strings.TrimSpace(string(b)), err
	}
	if natsURL == "" {
		if r.natsPassword, err = secret("nats_relay_password"); err != nil {
			r.stop()
			return nil, err
		}
	}
	if r.redisURL = redisURL; r.redisURL != "" {
		return r, nil
	}
	r.embeddedRedis = true
	password, err := secret("redis_password")
	if err != nil {
		r.stop()
		return nil, err
	}
	addr, err := r.findEmbeddedRedis(password)
	if err != nil {
		r.stop()
		return nil, err
	}
	r.redisURL = (&url.URL{Scheme: "redis", User: url.UserPassword("", password), Host: addr, Path: "/0"}).String()
	return r, nil
}

// waitReady polls /ready until relay has loaded its configuration and caught
// up its projections.
func (r *relayProc) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := r.admin.Get(r.url + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || r.exited() {
			return fmt.Errorf("%s not ready within 60s (last: %v):\n%s", r.name, err, r.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findEmbeddedRedis finds the embedded Redis (miniredis, on a random
// loopback port) among relay's listening sockets: the one that is neither
// its HTTP port nor NATS, and answers PING with password.
func (r *relayProc) findEmbeddedRedis(password string) (string, error) {
	ports, err := listeningPorts(r.pid())
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(r.url)
	skip := []string{u.Port(), strings.TrimPrefix(r.natsAddr, "127.0.0.1:")}
	for _, p := range ports {
		if slices.Contains(skip, strconv.Itoa(p)) {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1, DialTimeout: time.Second})
		err := c.Ping(context.Background()).Err()
		c.Close()
		if err == nil {
			return addr, nil
		}
	}
	return "", fmt.Errorf("%s: the embedded Redis is not among its listening ports %v", r.name, ports)
}

// seed creates the account on the upstream and the API key through the
// admin API, or, when this relay has no admin API for them, as CONFIG
// events published to its NATS (as edge/edgetest does). Either way it then
// checks the key authenticates.
func (r *relayProc) seed(ctx context.Context, upstreamURL string) error {
	err := r.seedREST(ctx, upstreamURL)
	if errors.Is(err, errNoAdminAPI) {
		err = r.seedEvents(ctx, upstreamURL)
	}
	if err != nil {
		return fmt.Errorf("%s: seed: %w", r.name, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/api/v1/models", nil)
		req.Header.Set("x-api-key", r.key)
		resp, err := r.admin.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /api/v1/models: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the bench key does not authenticate: %w", r.name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var errNoAdminAPI = errors.New("no admin API for keys and accounts")

func (r *relayProc) seedREST(ctx context.Context, upstreamURL string) error {
	var login struct {
		Token string `json:"token"`
	}
	if err := r.adminCall(ctx, "", "/api/v2/auth/admin/login", map[string]string{"username": "admin", "password": r.password}, &login); err != nil {
		return err
	}
	account := map[string]any{"name": "relaybench upstream", "apiUrl": upstreamURL, "apiKey": "sk-ant-relaybench-0001"}
	if err := r.adminCall(ctx, login.Token, "/api/v2/accounts/claude-console", account, nil); err != nil {
		return err
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := r.adminCall(ctx, login.Token, "/api/v2/keys", map[string]any{"name": "relaybench"}, &key); err != nil {
		return err
	}
	if !secrets.IsAPIKey(key.Key) {
		return fmt.Errorf("POST /api/v2/keys answered no key secret")
	}
	r.key = key.Key
	return nil
}

// adminCall POSTs body as JSON and decodes the answer's data into out.
func (r *relayProc) adminCall(ctx context.Context, token, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.admin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return fmt.Errorf("POST %s: %s: %w", path, resp.Status, errNoAdminAPI)
	case resp.StatusCode >= 300:
		return fmt.Errorf("POST %s: %s %s", path, resp.Status, raw)
	case out == nil:
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return json.Unmarshal(env.Data, out)
}

// seedEvents publishes account.created (credential sealed with relay's
// ENCRYPTION_KEY) and key.created (the secret's SHA-256) to relay's NATS.
func (r *relayProc) seedEvents(ctx context.Context, upstreamURL string) error {
	nc, err := nats.Connect("nats://" + r.natsAddr)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	key, err := secrets.ParseKey(r.encKey)
	if err != nil {
		return err
	}
	box, err := secrets.NewBox(key)
	if err != nil {
		return err
	}
	const apiKey = "sk-ant-relaybench-0001"
	now := time.Now()
	a := events.Account{
		ID: events.NewID(now), Name: "relaybench upstream", Platform: events.PlatformClaudeConsole, APIURL: upstreamURL,
		IsActive: true, Schedulable: true, Priority: 50, AccountType: "shared", APIKeyMask: secrets.Mask(apiKey),
	}
	if a.APIKeySealed, err = box.Seal(apiKey); err != nil {
		return err
	}
	secret, err := secrets.NewAPIKey()
	if err != nil {
		return err
	}
	k := events.Key{ID: events.NewID(now), Name: "relaybench", IsActive: true, Permissions: "all", KeyHash: secrets.HashKey(secret)}
	for _, e := range []struct {
		subject, typ string
		data         any
	}{
		{events.AccountSubject(a.ID), events.AccountCreated, a},
		{events.KeySubject(k.ID), events.KeyCreated, k},
	} {
		env, err := events.New(e.typ, now, "relaybench", "", e.data)
		if err != nil {
			return err
		}
		if _, err := streams.Publish(ctx, js, e.subject, env, nil); err != nil {
			return err
		}
	}
	r.key = secret
	return nil
}

// metrics reads the unlabelled series named in names from /metrics.
func (r *relayProc) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.metricsToken)
	resp, err := r.admin.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// leaseMembers counts the members of every relay:rt:lease:* set: requests
// holding a key or account slot. After the load it must be 0.
func leaseMembers(ctx context.Context, rdb *redis.Client) (int64, error) {
	var n int64
	iter := rdb.Scan(ctx, 0, store.RuntimePrefix+"lease:*", 100).Iterator()
	for iter.Next(ctx) {
		c, err := rdb.ZCard(ctx, iter.Val()).Result()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, iter.Err()
}

// startRedis runs a throwaway redis-server on a free loopback port, without
// persistence, and returns its URL without a database.
func startRedis(ctx context.Context, bin, workDir string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", workDir, "--daemonize", "no")
	p, err := startProc(ctx, "redis-server", cmd, filepath.Join(workDir, "redis-server.log"), false)
	if err != nil {
		return nil, "", err
	}
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c.Ping(ctx).Err() == nil {
			return p, "redis://" + addr, nil
		}
		if time.Now().After(deadline) || p.exited() {
			p.stop()
			return nil, "", fmt.Errorf("redis-server did not answer on %s:\n%s", addr, p.logTail())
		}
	}
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before ours binds it; on a bench machine that is rare enough.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// embeddedRedisConns counts relay's client connections to its embedded
// Redis; 0 when it runs on a real redis-server.
func (r *relayProc) embeddedRedisConns() int {
	if !r.embeddedRedis {
		return 0
	}
	u, err := url.Parse(r.redisURL)
	if err != nil {
		return 0
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return 0
	}
	return connectionsTo(r.pid(), port)
}
