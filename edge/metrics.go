package edge

import "github.com/prometheus/client_golang/prometheus"

// metrics are the edge's Prometheus metrics.
type metrics struct {
	requests        *prometheus.CounterVec
	eventsPublished *prometheus.CounterVec
	internalErrors  prometheus.Counter
	loginFailures   prometheus.Counter
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
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "relay_admin_login_failures_total", Help: "Failed admin logins.",
		}),
	}
	reg.MustRegister(m.requests, m.eventsPublished, m.internalErrors, m.loginFailures)
	return m
}
