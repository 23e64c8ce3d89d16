package workers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"relay/events/notify"
)

// newNotifyClient returns the HTTP client of deliveries: no proxy from the
// environment, a whole-request timeout, redirects only to the same host
// and scheme, and, unless allowPrivate, no connection to a loopback,
// link-local or private address. The address is checked when the socket
// is about to connect, after DNS resolution, so a name that resolves (or
// re-resolves) to such an address is refused as well.
func newNotifyClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: min(timeout, 10*time.Second)}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || notify.Blocked(ap.Addr()) {
				return notify.ErrPrivateAddress
			}
			return nil
		}
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			first := via[0].URL
			if req.URL.Host != first.Host || req.URL.Scheme != first.Scheme {
				return errRedirect
			}
			return nil
		},
	}
}

// safeError is err without the request URL (a channel URL is a
// credential), fit for the delivery log.
func safeError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, notify.ErrPrivateAddress):
		return "refused: the URL " + notify.ErrPrivateAddress.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return clip(op.Op+": "+op.Err.Error(), 300)
	}
	return clip(err.Error(), 300)
}
