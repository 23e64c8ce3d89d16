package httpx

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// IPExtractor gives the client address of a request (c.RealIP: login
// throttling, logs). Without trusted proxies it is the connection's
// address: X-Forwarded-For and X-Real-IP are anyone's to forge. With them,
// and only when the connection comes from one of them, it is the right-most
// address of X-Forwarded-For that is not a trusted proxy (Echo's
// ExtractIPFromXFFHeader with its default trust of loopback, link-local and
// private addresses turned off: only what TRUSTED_PROXIES names is
// trusted). X-Real-IP is never read.
func IPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// fromTrustedProxy reports whether r's connection comes from a trusted
// proxy, whose X-Forwarded-* headers relay may then believe.
func fromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// OverTLS reports whether the client reached relay over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto (the last value,
// the one the nearest proxy set).
func OverTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if !fromTrustedProxy(r, trusted) {
		return false
	}
	v := r.Header.Values(echo.HeaderXForwardedProto)
	if len(v) == 0 {
		return false
	}
	last := v[len(v)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}
