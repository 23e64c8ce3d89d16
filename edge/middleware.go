package edge

import (
	"fmt"
	"net/http"
	"strconv"
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
			s.metrics.requests.WithLabelValues(methodLabel(c.Request().Method), route, strconv.Itoa(status)).Inc()
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
