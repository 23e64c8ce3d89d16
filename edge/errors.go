package edge

import (
	"github.com/labstack/echo/v4"

	"relay/edge/httpx"
)

// handleError is Echo's error handler: every error leaves here, in the
// dialect of its route, without internals.
func (s *Server) handleError(err error, c echo.Context) {
	if httpx.WriteError(c, err) {
		s.metrics.internalErrors.Inc()
	}
}
