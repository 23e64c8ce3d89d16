package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"relay/edge/upstreams"
	"relay/projections"
)

// hopHeaders are the hop-by-hop headers of RFC 9110 section 7.6.1, removed
// in both directions as httputil.ReverseProxy does.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// clientOnlyHeaders never travel upstream: the client's credentials (the
// account's replace them), its encoding wish (relay reads the stream and
// forwards it untouched, so it must arrive uncompressed), and what the
// transport sets itself.
var clientOnlyHeaders = []string{
	"Authorization", "X-Api-Key", "Accept-Encoding", "Host", "Content-Length",
	"Cookie", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Real-Ip", HeaderRequestID,
}

// removeHopHeaders deletes hop-by-hop headers, including those the
// Connection header names.
func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// upstreamURL joins an account's apiUrl with the route's path; an apiUrl that
// already ends with the path is taken as is.
func upstreamURL(apiURL, path, rawQuery string) string {
	u := strings.TrimRight(apiURL, "/")
	if !strings.HasSuffix(u, path) {
		// An apiUrl ending in /v1/messages serves count_tokens under it too.
		if base, ok := strings.CutSuffix(u, "/v1/messages"); ok {
			u = base
		} else if base, ok := strings.CutSuffix(u, "/responses"); ok { // and /responses/compact under /responses
			u = base
		}
		u += path
	}
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

// attempt is one upstream call in flight.
type attempt struct {
	account projections.AccountView
	resp    *http.Response
	cancel  context.CancelFunc
}

// send calls account a with body. It returns once the upstream has sent its
// response headers or failed; the first-byte timer bounds that wait and the
// client's context cancels it.
func (x *exchange) send(ctx context.Context, a projections.AccountView, body []byte, firstByte time.Duration) (*attempt, error) {
	s := x.s
	apiKey, err := s.box.Open(a.APIKeySealed)
	if err != nil {
		return nil, fmt.Errorf("account %s: credential cannot be opened (was ENCRYPTION_KEY changed?): %w", a.ID, err)
	}
	transport, err := s.transportFor(a)
	if err != nil {
		return nil, err
	}
	in := x.c.Request()
	actx, cancelCall := context.WithCancel(ctx)
	stopHalt := context.AfterFunc(s.halted, cancelCall)
	cancel := func() { stopHalt(); cancelCall() }
	req, err := http.NewRequestWithContext(actx, http.MethodPost, upstreamURL(a.APIURL, x.rt.upstreamPath, in.URL.RawQuery), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header = in.Header.Clone()
	removeHopHeaders(req.Header)
	for _, h := range clientOnlyHeaders {
		req.Header.Del(h)
	}
	if x.rt.platform == platformClaude {
		req.Header.Set("X-Api-Key", apiKey)
	} else {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	if a.UserAgent != "" {
		req.Header.Set("User-Agent", a.UserAgent)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = nil // Go must not add its own
	}
	req.ContentLength = int64(len(body))
	timer := time.AfterFunc(firstByte, cancel)
	resp, err := transport.RoundTrip(req)
	fired := !timer.Stop()
	if fired && err == nil {
		// The timer fired as the headers arrived: treat it as the timeout.
		resp.Body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		// Only the first-byte timer makes a timeout: a refused or broken
		// connection is a failure to connect, even though the cancel below
		// ends actx too.
		timedOut := fired && ctx.Err() == nil
		cancel()
		if timedOut {
			return nil, errFirstByteTimeout
		}
		return nil, fmt.Errorf("%w: %w", errUpstreamConnect, err)
	}
	return &attempt{account: a, resp: resp, cancel: cancel}, nil
}

var (
	errFirstByteTimeout = errors.New("upstream sent no response headers in time")
	// errUpstreamConnect wraps a failure to reach the upstream or to read
	// its response headers: a refused, reset or broken connection.
	errUpstreamConnect = errors.New("upstream connection failed")
)

// transportFor returns the reused transport of the account's proxy.
func (s *Server) transportFor(a projections.AccountView) (http.RoundTripper, error) {
	if a.Proxy == nil {
		return s.upstreams.Transport(nil)
	}
	px := upstreams.Proxy{Protocol: a.Proxy.Protocol, Host: a.Proxy.Host, Port: a.Proxy.Port, Username: a.Proxy.Username}
	if a.Proxy.PasswordSealed != "" {
		pw, err := s.box.Open(a.Proxy.PasswordSealed)
		if err != nil {
			return nil, fmt.Errorf("account %s: proxy password cannot be opened: %w", a.ID, err)
		}
		px.Password = pw
	}
	return s.upstreams.Transport(&px)
}
