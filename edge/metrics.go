package edge

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the edge's own Prometheus metrics (the relay and the admin
// API register theirs).
type metrics struct {
	requests        *prometheus.CounterVec
	eventsPublished *prometheus.CounterVec
	internalErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		eventsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_events_published_total", Help: "Events published by this edge, by type.",
		}, []string{"type"}),
		internalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_internal_errors_total", Help: "Requests answered with an internal error.",
		}),
	}
	reg.MustRegister(m.requests, m.eventsPublished, m.internalErrors)
	return m
}

// published counts an event this edge published.
func (m *metrics) published(eventType string) { m.eventsPublished.WithLabelValues(eventType).Inc() }

// Every label value comes from a bounded set: a client chooses the method,
// the path and the model of its requests, and a label value taken from them
// as sent would grow the registry (and every scrape) without bound.

// methodLabel is the method label: the methods relay's routes use or a
// client may probe with, every other one "OTHER".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "OTHER"
}

// statusLabel is the status label: a status net/http knows (or 499, relay's
// "client closed", and 529, Anthropic's "overloaded"), every other one
// "other". Upstreams choose the statuses relay passes on.
func statusLabel(status int) string {
	if http.StatusText(status) != "" || status == 499 || status == 529 {
		return strconv.Itoa(status)
	}
	return "other"
}

// routeUnmatched is the route label of a request no route matched.
const routeUnmatched = "unmatched"

// MetricsHandler answers Prometheus scrapes: what the metrics listener
// (METRICS_LISTEN, a loopback or private address) serves at /metrics.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// mainMetrics is /metrics on the main listener: answered only to a scraper
// that presents MetricsToken as a Bearer token; without a token configured,
// or with a wrong one, the route does not exist (404, like any unknown
// path), so the main port tells nothing about what relay serves.
func (s *Server) mainMetrics() echo.HandlerFunc {
	h := echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	want := []byte(s.cfg.MetricsToken)
	return func(c echo.Context) error {
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if len(want) == 0 || !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			return echo.ErrNotFound
		}
		return h(c)
	}
}
