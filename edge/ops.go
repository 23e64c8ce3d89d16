package edge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
)

func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readiness runs every check: NATS connected, Redis answering, the catalog
// loaded, and the extra checks of the process (projectors caught up).
func (s *Server) readiness(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := append([]ReadyCheck{
		{Name: "nats", Check: func(context.Context) error {
			if s.nc.Status() != nats.CONNECTED {
				return errors.New(s.nc.Status().String())
			}
			return nil
		}},
		{Name: "redis", Check: s.store.Ping},
		{Name: "catalog", Check: func(context.Context) error {
			select {
			case <-s.catalog.Ready():
				return nil
			default:
				return errors.New("loading configuration")
			}
		}},
	}, s.ready...)
	status, code := map[string]string{}, http.StatusOK
	for _, ch := range checks {
		if err := ch.Check(ctx); err != nil && ch.Advisory {
			status[ch.Name] = "warning: " + err.Error()
		} else if err != nil {
			status[ch.Name], code = err.Error(), http.StatusServiceUnavailable
		} else {
			status[ch.Name] = "ok"
		}
	}
	state := "ready"
	if code != http.StatusOK {
		state = "not ready"
	}
	return c.JSON(code, map[string]any{"status": state, "checks": status})
}
