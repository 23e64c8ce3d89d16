package main

import (
	"errors"
	"fmt"
	"net"
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
	Port          int
	Host          string
	DataDir       string
	NATSURL       string
	NATSListen    string
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
	if v := strings.TrimSpace(getenv("NATS_SYNC")); v != "" && v != "always" {
		d, err := parseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			errs = append(errs, fmt.Errorf("NATS_SYNC=%q: want always, or an interval from 1ms to 1m", v))
		} else {
			c.NATSSync = d
		}
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
	u := url.URL{Scheme: "redis", Host: net.JoinHostPort(host, port), Path: "/" + getenv("REDIS_DB")}
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
