package edge

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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
	// unpricedModels bounds the model label of unpriced.
	unpricedModels labelSet
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
	m.unpricedModels.max = maxModelLabels
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

// maxModelLabels bounds the model label of relay_unpriced_requests_total:
// the first distinct unpriced models get a series each, later ones share
// modelOther. A price table has a few dozen models; more unpriced names than
// this are typos or a client's invention, and the usage events hold them.
const maxModelLabels = 50

// modelOther is the model label of unpriced models beyond maxModelLabels.
const modelOther = "other"

// maxLabelBytes bounds one label value.
const maxLabelBytes = 128

// labelSet admits the first max distinct values of a label, and then
// folds every new value into modelOther.
type labelSet struct {
	max int
	// mu protects seen.
	mu   sync.Mutex
	seen map[string]bool
}

// admit returns the label value for v, and whether v was seen here for the
// first time (one log line per new value, never one per request).
func (l *labelSet) admit(v string) (label string, first bool) {
	if len(v) > maxLabelBytes {
		v = v[:maxLabelBytes]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[v] {
		return v, false
	}
	if len(l.seen) >= l.max {
		return modelOther, false
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[v] = true
	return v, true
}

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
