package upstreams

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"
)

// newTransport builds the transport for px (nil: direct). Never pair it with
// an http.Client.Timeout: that bounds the whole response body and would cut
// long generations.
func newTransport(cfg Config, px *Proxy) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.KeepAlive}
	t := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true, // needed since DialContext is set
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		// Relay forwards upstream bytes as they are and drops the client's
		// Accept-Encoding; transparent gzip would decode them behind its back.
		DisableCompression: true,
		TLSClientConfig:    cfg.TLSClientConfig.Clone(),
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: cfg.HTTP2PingAfter,
			PingTimeout:     cfg.HTTP2PingTimeout,
		},
	}
	if px == nil {
		return t, nil
	}
	switch px.Protocol {
	case ProtocolHTTP:
		t.Proxy = http.ProxyURL(proxyURL(px))
	case ProtocolHTTPS:
		// The transport is told the proxy speaks plain http and the dialer
		// wraps the connection in TLS itself. Left to net/http, the proxy
		// handshake would reuse TLSClientConfig, whose ALPN offers h2 once
		// HTTP/2 is on; a proxy that accepts h2 then receives an HTTP/1.1
		// CONNECT and drops the connection ("unexpected EOF").
		t.Proxy = http.ProxyURL(proxyURL(px))
		t.DialContext = tlsDialer(cfg, dialer)
	case ProtocolSOCKS5:
		var auth *proxy.Auth
		if px.Username != "" {
			auth = &proxy.Auth{User: px.Username, Password: px.Password}
		}
		d, err := proxy.SOCKS5("tcp", px.Addr(), auth, dialer)
		if err != nil {
			return nil, err
		}
		cd, ok := d.(proxy.ContextDialer)
		if !ok {
			return nil, errors.New("upstreams: socks5 dialer cannot dial with a context")
		}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The SOCKS handshake honours the context's deadline only; bound
			// it like a dial so a mute proxy cannot hold a request forever.
			ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
			defer cancel()
			return cd.DialContext(ctx, network, addr)
		}
	}
	return t, nil
}

// proxyURL is the proxy as net/http wants it. The scheme is always http: for
// https proxies, TLS is added by tlsDialer underneath.
func proxyURL(px *Proxy) *url.URL {
	u := &url.URL{Scheme: "http", Host: px.Addr()}
	if px.Username != "" {
		u.User = url.UserPassword(px.Username, px.Password)
	}
	return u
}

// tlsDialer dials the proxy and completes a TLS handshake offering only
// HTTP/1.1, which is what CONNECT and forwarding speak.
func tlsDialer(cfg Config, dialer *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := cfg.TLSClientConfig.Clone()
		if tc == nil {
			tc = &tls.Config{}
		}
		tc.ServerName = host // TLSClientConfig's own, if any, names upstreams
		tc.NextProtos = []string{"http/1.1"}
		hctx, cancel := context.WithTimeout(ctx, cfg.TLSHandshakeTimeout)
		defer cancel()
		tlsConn := tls.Client(conn, tc)
		if err := tlsConn.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tlsConn, nil
	}
}
