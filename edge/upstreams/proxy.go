package upstreams

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Proxy protocols an account may use.
const (
	ProtocolHTTP   = "http"   // CONNECT (https upstreams) or forwarding, over plain TCP
	ProtocolHTTPS  = "https"  // the same over TLS to the proxy
	ProtocolSOCKS5 = "socks5" // RFC 1928; host names are resolved by the proxy
)

// Proxy is an account's outbound proxy with its credentials in plaintext
// (the caller opens the sealed password). The zero Username means no auth.
type Proxy struct {
	Protocol string
	Host     string // name or IP address; an IPv6 address may be bracketed
	Port     int
	Username string
	Password string
}

// Validate reports every problem with p at once.
func (p Proxy) Validate() error {
	var errs []error
	switch p.Protocol {
	case ProtocolHTTP, ProtocolHTTPS, ProtocolSOCKS5:
	default:
		errs = append(errs, fmt.Errorf("proxy protocol %q is not one of http, https, socks5", p.Protocol))
	}
	if err := checkHost(p.Host); err != nil {
		errs = append(errs, err)
	}
	if p.Port < 1 || p.Port > 65535 {
		errs = append(errs, fmt.Errorf("proxy port %d is not in 1-65535", p.Port))
	}
	if p.Username == "" && p.Password != "" {
		errs = append(errs, errors.New("proxy password given without a username"))
	}
	switch p.Protocol {
	case ProtocolHTTP, ProtocolHTTPS:
		// Basic auth joins them as "user:password"; a colon in the user
		// would move the split (RFC 7617, section 2).
		if strings.ContainsRune(p.Username, ':') {
			errs = append(errs, errors.New("proxy username must not contain ':'"))
		}
	case ProtocolSOCKS5:
		// RFC 1929 carries each in one length byte.
		if len(p.Username) > 255 || len(p.Password) > 255 {
			errs = append(errs, errors.New("socks5 proxy username and password must be at most 255 bytes each"))
		}
	}
	return errors.Join(errs...)
}

func checkHost(h string) error {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	switch {
	case h == "":
		return errors.New("proxy host is empty")
	case strings.ContainsAny(h, " \t\r\n/@?#\\"):
		return errors.New("proxy host must be a bare host name or IP address (no scheme, path or credentials)")
	case strings.Contains(h, ":") && net.ParseIP(h) == nil:
		return errors.New("proxy host must not include a port; use the port field")
	case len(h) > 253:
		return errors.New("proxy host is longer than 253 bytes")
	}
	return nil
}

// Addr is the proxy's host:port.
func (p Proxy) Addr() string {
	h := strings.TrimSuffix(strings.TrimPrefix(p.Host, "["), "]")
	return net.JoinHostPort(strings.ToLower(h), strconv.Itoa(p.Port))
}

// String describes p for logs and errors without its password.
func (p Proxy) String() string {
	user := ""
	if p.Username != "" {
		user = p.Username + ":***@"
	}
	return p.Protocol + "://" + user + p.Addr()
}

// key identifies p's transport. Credentials are part of it (two accounts
// behind the same proxy with different logins must not share connections
// the proxy authorized for one of them), but only as a digest, so the map
// keys hold no password.
func (p Proxy) key() string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{p.Protocol, p.Addr(), p.Username, p.Password} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}
