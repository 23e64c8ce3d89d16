package upstreams

import (
	"crypto/tls"
	"errors"
	"time"
)

// Config tunes every transport of a Pool. Zero durations other than
// ResponseHeaderTimeout, and a zero MaxIdleConnsPerHost, take Defaults().
type Config struct {
	// DialTimeout bounds the TCP connect, and for SOCKS5 the proxy
	// handshake as well.
	DialTimeout time.Duration
	// KeepAlive is the TCP keepalive period.
	KeepAlive time.Duration
	// TLSHandshakeTimeout bounds each TLS handshake (to the upstream, and to
	// an https proxy).
	TLSHandshakeTimeout time.Duration
	// IdleConnTimeout closes a connection idle this long.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost keeps this many idle connections per upstream
	// host: high, because bursts of streaming requests each hold a
	// connection (HTTP/1.1) and reopening costs a TLS handshake.
	MaxIdleConnsPerHost int
	// ResponseHeaderTimeout is 0 (none) by default: the relay enforces its
	// own time to first byte, which must also cover retries.
	ResponseHeaderTimeout time.Duration
	// HTTP2PingAfter sends an HTTP/2 ping on a connection silent this long,
	// and HTTP2PingTimeout closes it if the ping is not answered: a dead
	// connection would otherwise hang every stream multiplexed on it.
	HTTP2PingAfter   time.Duration
	HTTP2PingTimeout time.Duration
	// TLSClientConfig, if set, is cloned into every transport (custom roots
	// in tests, or behind a TLS-intercepting gateway).
	TLSClientConfig *tls.Config
}

// Defaults returns the settings relay runs with.
func Defaults() Config {
	return Config{
		DialTimeout:         10 * time.Second,
		KeepAlive:           30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 256,
		HTTP2PingAfter:      30 * time.Second,
		HTTP2PingTimeout:    15 * time.Second,
	}
}

// Validate refuses negative settings.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", c.DialTimeout}, {"KeepAlive", c.KeepAlive},
		{"TLSHandshakeTimeout", c.TLSHandshakeTimeout}, {"IdleConnTimeout", c.IdleConnTimeout},
		{"ResponseHeaderTimeout", c.ResponseHeaderTimeout},
		{"HTTP2PingAfter", c.HTTP2PingAfter}, {"HTTP2PingTimeout", c.HTTP2PingTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, errors.New("upstreams: "+d.name+" must not be negative"))
		}
	}
	if c.MaxIdleConnsPerHost < 0 {
		errs = append(errs, errors.New("upstreams: MaxIdleConnsPerHost must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	d := Defaults()
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.DialTimeout, &d.DialTimeout}, {&c.KeepAlive, &d.KeepAlive},
		{&c.TLSHandshakeTimeout, &d.TLSHandshakeTimeout}, {&c.IdleConnTimeout, &d.IdleConnTimeout},
		{&c.HTTP2PingAfter, &d.HTTP2PingAfter}, {&c.HTTP2PingTimeout, &d.HTTP2PingTimeout},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = d.MaxIdleConnsPerHost
	}
	return c
}
