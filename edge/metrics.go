package edge

import "github.com/prometheus/client_golang/prometheus"

// metrics are the edge's Prometheus metrics.
type metrics struct {
	requests        *prometheus.CounterVec
	eventsPublished *prometheus.CounterVec
	internalErrors  prometheus.Counter
	loginFailures   prometheus.Counter

	inFlight            prometheus.Gauge
	failovers           *prometheus.CounterVec
	accountStates       *prometheus.CounterVec
	usagePublishSeconds prometheus.Histogram
	unpriced            *prometheus.CounterVec
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
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "relay_inflight_requests", Help: "Relay requests in flight on this edge (streams included).",
	})
	m.failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relay_upstream_failovers_total", Help: "Upstream attempts that failed before the first byte and moved to another account, by reason.",
	}, []string{"reason"})
	m.accountStates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relay_account_states_marked_total", Help: "Accounts marked unavailable by this edge, by state.",
	}, []string{"state"})
	m.usagePublishSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "relay_usage_publish_seconds", Help: "Time to store a usage event (JetStream ack or spool).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	m.unpriced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "relay_unpriced_requests_total", Help: "Requests whose model has no price (recorded with cost 0), by model.",
	}, []string{"model"})
	reg.MustRegister(m.requests, m.eventsPublished, m.internalErrors, m.loginFailures,
		m.inFlight, m.failovers, m.accountStates, m.usagePublishSeconds, m.unpriced)
	return m
}

// spoolDepth exports the number of usage events waiting in the spool.
func (m *metrics) spoolDepth(reg prometheus.Registerer, depth func() int) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relay_spool_depth", Help: "Usage events waiting on disk for NATS.",
	}, func() float64 { return float64(depth()) }))
}
