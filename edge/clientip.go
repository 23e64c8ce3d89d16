package edge

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// ipExtractor gives the client address of a request (c.RealIP: login
// throttling, logs). Without trusted proxies it is the connection's
// address: X-Forwarded-For and X-Real-IP are anyone's to forge. With them,
// and only when the connection comes from one of them, it is the right-most
// address of X-Forwarded-For that is not a trusted proxy (Echo's
// ExtractIPFromXFFHeader with its default trust of loopback, link-local and
// private addresses turned off: only what TRUSTED_PROXIES names is
// trusted). X-Real-IP is never read.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
