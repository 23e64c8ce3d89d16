package relay

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

// forwardHeaders lists, per platform, the only client headers that travel
// upstream: what Claude Code and Codex CLI send to describe the request
// (API version and betas, SDK and session identification, content type),
// as observed from Claude Code 2.1.328 and Codex CLI 0.169.0, plus the
// names older versions of both used. Everything else stays with relay:
// credentials (the account's replace them), organisation and project
// headers (a client must not choose whom the upstream bills or acts for:
// one request with a bogus OpenAI-Organization made the upstream refuse
// every pooled account in turn), forwarding headers (X-Forwarded-*,
// Forwarded, X-Real-Ip), cookies, Accept-Encoding (relay reads the stream
// and forwards it untouched, so it must arrive uncompressed), and anything
// unknown. Names are matched without regard to case; a name ending in '-'
// is a prefix. README.md ("The relay", step 5) prints this list.
var forwardHeaders = map[string]headerAllowList{
	platformClaude: newHeaderAllowList(
		"Accept", "Content-Type", "User-Agent",
		"Anthropic-Version", "Anthropic-Beta", "Anthropic-Dangerous-Direct-Browser-Access",
		"X-App", "X-Claude-Code-Session-Id", "X-Stainless-",
	),
	platformCodex: newHeaderAllowList(
		"Accept", "Content-Type", "User-Agent",
		"Originator", "Session-Id", "Session_id", "Thread-Id", "Conversation_id",
		"X-Client-Request-Id", "X-Codex-", "X-Openai-Subagent",
		"X-Openai-Internal-Codex-Responses-Lite", "OpenAI-Beta",
	),
}

// headerAllowList is a set of header names (lowercase) and name prefixes.
type headerAllowList struct {
	names    map[string]bool
	prefixes []string
}

func newHeaderAllowList(names ...string) headerAllowList {
	l := headerAllowList{names: map[string]bool{}}
	for _, n := range names {
		n = strings.ToLower(n)
		if strings.HasSuffix(n, "-") {
			l.prefixes = append(l.prefixes, n)
		} else {
			l.names[n] = true
		}
	}
	return l
}

func (l headerAllowList) allows(name string) bool {
	name = strings.ToLower(name)
	if l.names[name] {
		return true
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return false
}

// upstreamHeaders returns the headers of in that platform's allow-list
// passes, minus any the Connection header names (hop-by-hop).
func upstreamHeaders(platform string, in http.Header) http.Header {
	allow := forwardHeaders[platform]
	out := make(http.Header, 16)
	for name, vs := range in {
		if allow.allows(name) {
			out[name] = append([]string(nil), vs...)
		}
	}
	for _, f := range in.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				out.Del(name)
			}
		}
	}
	if vs := out.Values("Anthropic-Beta"); len(vs) > 0 {
		out.Del("Anthropic-Beta")
		for _, v := range vs {
			if v = withoutAuthBetas(v); v != "" {
				out.Add("Anthropic-Beta", v)
			}
		}
	}
	return out
}

// withoutAuthBetas removes from an anthropic-beta list the betas that
// change how the upstream authenticates (oauth-*): relay authenticates
// with the account's API key, and a client must not switch the upstream to
// another scheme, which would refuse the account's key with a 401 and
// take the account out of the pool.
func withoutAuthBetas(list string) string {
	var keep []string
	for _, b := range strings.Split(list, ",") {
		b = textproto.TrimString(b)
		if b != "" && !strings.HasPrefix(strings.ToLower(b), "oauth-") {
			keep = append(keep, b)
		}
	}
	return strings.Join(keep, ",")
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
	req.Header = upstreamHeaders(x.rt.platform, in.Header)
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
func (s *Relay) transportFor(a projections.AccountView) (http.RoundTripper, error) {
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
