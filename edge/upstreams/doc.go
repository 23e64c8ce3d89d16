// Package upstreams owns the HTTP transports relay uses to reach upstream
// APIs: one long-lived *http.Transport per distinct account proxy (and one
// for direct connections), so that connections, TLS sessions and HTTP/2
// streams are reused across requests of every account behind the same proxy.
//
// The transports are tuned for long streaming responses: no client timeout
// and, by default, no response header timeout (the relay guards time to
// first byte and stream idleness itself), no transparent compression (relay
// forwards upstream bytes untouched), HTTP/2 with keepalive pings.
//
// Imports: the standard library and golang.org/x/net/proxy (SOCKS5).
package upstreams
