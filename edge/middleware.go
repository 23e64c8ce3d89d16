package edge

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"relay/events"
)

// HeaderRequestID carries the request id back to the client.
const HeaderRequestID = "X-Request-Id"

const ctxLogger = "relay.logger"

// logger returns the request-scoped logger.
func logger(c echo.Context) *zerolog.Logger {
	if l, ok := c.Get(ctxLogger).(*zerolog.Logger); ok {
		return l
	}
	l := zerolog.Nop()
	return &l
}

// requestID returns the id relay gave this request.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(HeaderRequestID)
}

// observe gives every request an id of relay's own (a client-sent id is only
// logged: the id keys the usage event, so a client must not choose it), a
// logger carrying it, an access log line and the HTTP metrics. It also turns
// a panic into a 500 without a stack trace on the wire.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := time.Now()
		id := events.NewID(start)
		c.Response().Header().Set(HeaderRequestID, id)
		l := s.log.With().Str("requestId", id).Logger()
		c.Set(ctxLogger, &l)
		c.SetRequest(c.Request().WithContext(l.WithContext(c.Request().Context())))
		defer func() {
			aborted := false
			if r := recover(); r != nil {
				if r != http.ErrAbortHandler {
					l.Error().Str("panic", fmt.Sprint(r)).Msg("handler panicked")
					err = newError(KindInternal, "internal error")
				} else {
					// A stream that broke mid-way: log it like any request,
					// then let net/http abort the connection.
					aborted = true
					defer panic(r)
				}
			}
			if err != nil && !aborted {
				c.Error(err)
			}
			route := c.Path()
			if !s.routePaths[route] {
				route = routeUnmatched
			}
			status := c.Response().Status
			s.metrics.requests.WithLabelValues(methodLabel(c.Request().Method), route, statusLabel(status)).Inc()
			ev := l.Info()
			if status >= 500 {
				ev = l.Warn()
			}
			if cid := c.Request().Header.Get(HeaderRequestID); cid != "" && len(cid) <= 128 {
				ev = ev.Str("clientRequestId", cid)
			}
			if kid, ok := c.Get(ctxKeyID).(string); ok {
				ev = ev.Str("keyId", kid)
			}
			ev.Str("method", c.Request().Method).Str("route", route).Int("status", status).
				Int64("bytes", c.Response().Size).Dur("duration", time.Since(start)).
				Str("remote", c.RealIP()).Bool("aborted", aborted).Msg("request")
		}()
		return next(c)
	}
}

const ctxKeyID = "relay.keyId"

const ctxBody = "relay.body"

// errSlowBody answers a request whose body did not arrive in time.
var errSlowBody = newError(KindSlowBody, "the request body did not arrive in time")

// bodyDeadline bounds the time a client takes to send its request body
// (Config.BodyTimeout and BodyMinRate) with a read deadline on the
// connection, set for this request only and grown as bytes arrive: an
// http.Server.ReadTimeout would be one fixed bound for every route and
// every body size. Once the body is read the deadline is lifted (net/http's
// watch for the client's disconnect reads without one), so it never bounds
// how long the answer, a stream say, takes.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		b := &deadlineBody{ReadCloser: r.Body, ctl: http.NewResponseController(c.Response()),
			start: time.Now(), base: s.cfg.BodyTimeout, rate: s.cfg.BodyMinRate}
		if b.extend() != nil {
			return next(c) // a writer without deadlines (not a connection)
		}
		r.Body = b
		c.Set(ctxBody, b)
		return next(c)
	}
}

// deadlineBody is a request body read under a deadline that grows with the
// bytes received.
type deadlineBody struct {
	io.ReadCloser
	ctl   *http.ResponseController
	start time.Time
	base  time.Duration
	rate  int64
	n     int64
	// done: the body was read to its end.
	done bool
}

var _ io.ReadCloser = (*deadlineBody)(nil)

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	case err != nil:
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			err = errSlowBody
		}
	case n > 0:
		_ = b.extend()
	}
	return n, err
}

func (b *deadlineBody) extend() error { return b.ctl.SetReadDeadline(b.deadline()) }

// deadline is when the body must be in, given the bytes received so far.
func (b *deadlineBody) deadline() time.Time {
	d := b.base
	if b.rate > 0 {
		d += time.Duration(b.n * int64(time.Second) / b.rate)
	}
	return b.start.Add(d)
}

// abandonGrace is how long net/http may go on reading a body the answer
// did not need, after the answer has left (see abandonBody).
const abandonGrace = time.Second

// abandonBody stops waiting for a body the answer does not need (a refusal
// before or while reading it). net/http reads what remains of a body before
// it sends the answer, so a client refused for its missing key would wait
// for its whole upload; with Connection: close the answer leaves at once.
// net/http then reads on a little so the closing connection does not reset
// the answer away (it stops after 256 KiB, or at the deadline, here at most
// abandonGrace away).
func abandonBody(c echo.Context) {
	b, ok := c.Get(ctxBody).(*deadlineBody)
	if !ok || b.done {
		return
	}
	c.Response().Header().Set("Connection", "close")
	if grace := time.Now().Add(abandonGrace); grace.Before(b.deadline()) {
		_ = b.ctl.SetReadDeadline(grace)
	}
}

// requireJSON answers 415 to an admin write whose body is not JSON (a
// missing Content-Type included): the admin API reads JSON only, and a
// form or text body is a mistake or a cross-site form.
func requireJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			return next(c)
		}
		if r.ContentLength == 0 || strings.HasSuffix(c.Path(), "/*") {
			return next(c) // no body, or no route: nothing will read it
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return newError(KindMediaType, "request body must be JSON, sent with Content-Type: application/json")
		}
		return next(c)
	}
}

// adminRoute is an admin route's method and path pattern, split in
// segments.
type adminRoute struct {
	method   string
	segments []string
}

// adminNotFound answers an /api/v2 path no route matched for this method
// (behind the admin token check): 405 with Allow when the path exists with
// other methods, 404 otherwise.
func (s *Server) adminNotFound(c echo.Context) error {
	var allow []string
	path := strings.Split(strings.TrimSuffix(c.Request().URL.Path, "/"), "/")
	for _, r := range s.adminRoutes {
		if !slices.Contains(allow, r.method) && matchSegments(r.segments, path) {
			allow = append(allow, r.method)
		}
	}
	if len(allow) == 0 {
		return echo.ErrNotFound
	}
	slices.Sort(allow)
	c.Response().Header().Set("Allow", strings.Join(allow, ", "))
	return newError(KindMethod, "this route does not accept "+methodLabel(c.Request().Method)+"; it accepts "+strings.Join(allow, ", "))
}

// matchSegments matches a path against an Echo route pattern: ":name"
// stands for one non-empty segment, "*" for the rest.
func matchSegments(pattern, path []string) bool {
	for i, p := range pattern {
		if p == "*" {
			return true
		}
		if i >= len(path) || (path[i] != p && (!strings.HasPrefix(p, ":") || path[i] == "")) {
			return false
		}
	}
	return len(path) == len(pattern)
}

// Content security policies: API answers load nothing and may not be
// framed; the Swagger UI page loads its own (embedded) scripts, styles and
// images, and calls relay's API, nothing else. Its styles need
// 'unsafe-inline' (the UI sets style elements); scripts stay 'self' only,
// so the page's initializer is a file of its own.
const (
	cspAPI  = "default-src 'none'; frame-ancestors 'none'"
	cspDocs = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// secureHeaders sets the headers every answer carries: no MIME sniffing, no
// framing, a content security policy, and no caching of /api/v2 answers,
// which carry tokens, key secrets and account details.
func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		path := c.Request().URL.Path
		if path == "/docs" || strings.HasPrefix(path, "/docs/") {
			h.Set("Content-Security-Policy", cspDocs)
		} else {
			h.Set("Content-Security-Policy", cspAPI)
		}
		if path == "/api/v2" || strings.HasPrefix(path, "/api/v2/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}
