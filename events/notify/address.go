package notify

import (
	"errors"
	"net/netip"
	"strings"
)

// ErrPrivateAddress reports a destination on loopback, link-local, private
// or otherwise non-public address space.
var ErrPrivateAddress = errors.New("names a loopback, link-local or private address (set NOTIFY_ALLOW_PRIVATE=true to allow)")

// nonPublic are address ranges a notification is never sent to without the
// opt-in, beyond what netip classifies: carrier-grade NAT, the IETF
// protocol assignments, benchmarking, and NAT64's well-known prefix of
// them.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Blocked reports whether a notification may not go to ip without the
// opt-in: loopback, private (RFC 1918, fc00::/7), link-local (169.254/16
// with the cloud metadata services, fe80::/10), unspecified, multicast,
// broadcast and the ranges in nonPublic. IPv4-mapped IPv6 addresses are
// judged as their IPv4 address.
func Blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return true
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckHost refuses a URL host that is a blocked address literal or a
// name of this machine ("localhost" and its subdomains). Other names are
// resolved and checked at delivery time.
func CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return ErrPrivateAddress
	}
	if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && Blocked(ip) {
		return ErrPrivateAddress
	}
	return nil
}
