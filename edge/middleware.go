package edge

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"relay/edge/fault"
	"relay/edge/httpx"
	"relay/events"
)

// observe gives every request an id of relay's own (a client-sent id is only
// logged: the id keys the usage event, so a client must not choose it), a
// logger carrying it, an access log line and the HTTP metrics. It also turns
// a panic into a 500 without a stack trace on the wire.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := time.Now()
		id := events.NewID(start)
		l := s.log.With().Str("requestId", id).Logger()
		httpx.Begin(c, id, &l)
		defer func() {
			aborted := false
			if r := recover(); r != nil {
				if r != http.ErrAbortHandler {
					l.Error().Str("panic", fmt.Sprint(r)).Msg("handler panicked")
					err = fault.New(fault.Internal, "internal error")
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
			if cid := c.Request().Header.Get(httpx.HeaderRequestID); cid != "" && len(cid) <= 128 {
				ev = ev.Str("clientRequestId", cid)
			}
			if kid, ok := httpx.KeyID(c); ok {
				ev = ev.Str("keyId", kid)
			}
			ev.Str("method", c.Request().Method).Str("route", route).Int("status", status).
				Int64("bytes", c.Response().Size).Dur("duration", time.Since(start)).
				Str("remote", c.RealIP()).Bool("aborted", aborted).Msg("request")
		}()
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
	return fault.New(fault.Method, "this route does not accept "+methodLabel(c.Request().Method)+"; it accepts "+strings.Join(allow, ", "))
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
