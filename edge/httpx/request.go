package httpx

import (
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// HeaderRequestID carries the request id back to the client.
const HeaderRequestID = "X-Request-Id"

const (
	ctxLogger = "relay.logger"
	ctxKeyID  = "relay.keyId"
)

// Begin gives the request its id and its logger (which carries the id).
func Begin(c echo.Context, id string, l *zerolog.Logger) {
	c.Response().Header().Set(HeaderRequestID, id)
	c.Set(ctxLogger, l)
	c.SetRequest(c.Request().WithContext(l.WithContext(c.Request().Context())))
}

// Logger returns the request-scoped logger.
func Logger(c echo.Context) *zerolog.Logger {
	if l, ok := c.Get(ctxLogger).(*zerolog.Logger); ok {
		return l
	}
	l := zerolog.Nop()
	return &l
}

// RequestID returns the id relay gave this request.
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(HeaderRequestID)
}

// SetKeyID records the API key a request authenticated with, for its log
// line.
func SetKeyID(c echo.Context, id string) { c.Set(ctxKeyID, id) }

// KeyID is the API key id SetKeyID recorded.
func KeyID(c echo.Context) (string, bool) {
	id, ok := c.Get(ctxKeyID).(string)
	return id, ok
}
