package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"relay/events/streams"
)

// config is everything relay reads from the environment (DESIGN.md section
// 3). .env.example lists every variable with its default.
type config struct {
	Port       int
	Host       string
	DataDir    string
	NATSURL    string
	NATSListen string
	// MetricsListen is the address of the /metrics listener, or "off".
	MetricsListen string
	// MetricsToken, when set, also opens /metrics on the main port to a
	// scraper presenting it as a Bearer token.
	MetricsToken  string
	NATSReplicas  int
	NATSSync      time.Duration // 0: fsync every message (SyncAlways)
	RedisURL      string
	JWTSecret     string
	EncryptionKey string
	AdminUsername string
	AdminPassword string
	LogLevel      string
	LogFormat     string
	PricingFile   string
	UsageMaxAge   time.Duration
	StickyTTL     time.Duration
	MaxRetries    int
	ShutdownGrace time.Duration
	BodyLimit     int64
	TZ            string
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix

	// UsageMaxBytes, StateMaxBytes and ConfigMaxBytes cap the streams'
	// sizes (0: no cap of its own).
	UsageMaxBytes, StateMaxBytes, ConfigMaxBytes int64

	// NotifyAllowPrivate lets notification channels reach loopback,
	// link-local and private addresses (NOTIFY_ALLOW_PRIVATE).
	NotifyAllowPrivate bool
	// NATSAnalystCreds, or NATSAnalystUser and NATSAnalystPassword: the
	// analyst role an edge against NATS_URL reads USAGE with for the usage
	// export and live feed (analyst.go). Unset there: both are off.
	NATSAnalystCreds, NATSAnalystUser, NATSAnalystPassword string
}

// loadConfig reads the environment through getenv and reports every invalid
// variable at once.
func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def, lo, hi int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
			return def
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 90s, 15m, 12h or 400d", name, v))
			return def
		}
		return d
	}
	c := config{
		Port:          num("PORT", 3000, 0, 65535),
		Host:          str("HOST", "0.0.0.0"),
		DataDir:       str("DATA_DIR", "./data"),
		NATSURL:       str("NATS_URL", ""),
		NATSListen:    str("NATS_LISTEN", "127.0.0.1:4222"),
		MetricsListen: str("METRICS_LISTEN", "127.0.0.1:9464"),
		MetricsToken:  strings.TrimSpace(getenv("METRICS_TOKEN")),
		NATSReplicas:  num("NATS_REPLICAS", streams.AutoReplicas, 1, 5), // unset: the cluster's size, up to 3
		JWTSecret:     getenv("JWT_SECRET"),
		EncryptionKey: getenv("ENCRYPTION_KEY"),
		AdminUsername: str("ADMIN_USERNAME", "admin"),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		LogLevel:      strings.ToLower(str("LOG_LEVEL", "info")),
		LogFormat:     strings.ToLower(str("LOG_FORMAT", "json")),
		PricingFile:   str("PRICING_FILE", ""),
		UsageMaxAge:   dur("USAGE_RETENTION", 400*24*time.Hour),
		StickyTTL:     dur("STICKY_TTL", 15*24*time.Hour),
		MaxRetries:    num("MAX_RETRIES", 5, 1, 20),
		ShutdownGrace: dur("SHUTDOWN_GRACE", 30*time.Second),
		BodyLimit:     int64(num("BODY_LIMIT_MB", 32, 1, 1024)) << 20,
		TZ:            str("TZ", "UTC"),
	}
	for _, v := range []struct {
		name string
		into *int64
	}{{"USAGE_MAX_BYTES", &c.UsageMaxBytes}, {"STATE_MAX_BYTES", &c.StateMaxBytes}, {"CONFIG_MAX_BYTES", &c.ConfigMaxBytes}} {
		raw := strings.TrimSpace(getenv(v.name))
		if raw == "" {
			continue
		}
		n, err := parseBytes(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want a size such as 0 (no cap), 512MB or 10GB", v.name, raw))
			continue
		}
		*v.into = n
	}
	if v := strings.TrimSpace(getenv("NOTIFY_ALLOW_PRIVATE")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("NOTIFY_ALLOW_PRIVATE=%q: want true or false", v))
		}
		c.NotifyAllowPrivate = b
	}
	if v := strings.TrimSpace(getenv("NATS_SYNC")); v != "" && v != "always" {
		d, err := parseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			errs = append(errs, fmt.Errorf("NATS_SYNC=%q: want always, or an interval from 1ms to 1m", v))
		} else {
			c.NATSSync = d
		}
	}
	c.NATSAnalystCreds = strings.TrimSpace(getenv("NATS_ANALYST_CREDS"))
	c.NATSAnalystUser, c.NATSAnalystPassword = strings.TrimSpace(getenv("NATS_ANALYST_USER")), getenv("NATS_ANALYST_PASSWORD")
	errs = append(errs, c.validateAnalyst())
	if tp, err := parseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		errs = append(errs, err)
	} else {
		c.TrustedProxies = tp
	}
	redisURL, err := redisURLFrom(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	c.RedisURL = redisURL
	if c.NATSListen != "off" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			errs = append(errs, fmt.Errorf("NATS_LISTEN=%q: want host:port or off", c.NATSListen))
		}
	}
	if c.MetricsListen != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("METRICS_LISTEN=%q: want host:port or off", c.MetricsListen))
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		errs = append(errs, errors.New("METRICS_TOKEN must be at least 16 characters"))
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want trace, debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want json or console", c.LogFormat))
	}
	if _, err := time.LoadLocation(c.TZ); err != nil {
		errs = append(errs, fmt.Errorf("TZ=%q: unknown time zone", c.TZ))
	}
	if c.PricingFile != "" {
		if _, err := os.Stat(c.PricingFile); err != nil {
			errs = append(errs, fmt.Errorf("PRICING_FILE=%q: %v", c.PricingFile, err))
		}
	}
	return c, errors.Join(errs...)
}

// redisURLFrom builds the Redis URL from REDIS_URL or the REDIS_HOST family.
func redisURLFrom(getenv func(string) string) (string, error) {
	if u := getenv("REDIS_URL"); u != "" {
		if _, err := url.Parse(u); err != nil || !strings.HasPrefix(u, "redis") {
			return "", fmt.Errorf("REDIS_URL: want redis://[user:password@]host:port/db")
		}
		return u, nil
	}
	host := getenv("REDIS_HOST")
	if host == "" {
		return "", nil
	}
	port := getenv("REDIS_PORT")
	if port == "" {
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("REDIS_PORT=%q: want a port number", port)
	}
	db := getenv("REDIS_DB")
	if n, err := strconv.Atoi(db); db != "" && (err != nil || n < 0) {
		return "", fmt.Errorf("REDIS_DB=%q: want a database number", db)
	}
	// REDIS_ENABLE_TLS is Claude Relay Service's switch for TLS to Redis.
	scheme := "redis"
	if tls, _ := strconv.ParseBool(getenv("REDIS_ENABLE_TLS")); tls {
		scheme = "rediss"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/" + db}
	if p := getenv("REDIS_PASSWORD"); p != "" {
		u.User = url.UserPassword("", p)
	}
	return u.String(), nil
}

// parseDuration accepts Go durations plus a "d" (day) unit: "400d", "1d12h".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		d := time.Duration(n) * 24 * time.Hour
		if rest == "" {
			return d, nil
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, err
		}
		return d + r, nil
	}
	return time.ParseDuration(s)
}

// parseTrustedProxies reads TRUSTED_PROXIES: a comma-separated list of
// CIDR prefixes or single addresses ("" = none).
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// parseBytes reads a size: a number of bytes, or a number with a unit, KB,
// MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), case
// not significant.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a size")
	}
	mult := map[string]int64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	if mult == 0 || n > (1<<62)/mult {
		return 0, errors.New("not a size")
	}
	return n * mult, nil
}
