package relay

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's Prometheus metrics.
type metrics struct {
	inFlight            prometheus.Gauge
	failovers           *prometheus.CounterVec
	accountStates       *prometheus.CounterVec
	usagePublishSeconds prometheus.Histogram
	unpriced            *prometheus.CounterVec
	// unpricedModels bounds the model label of unpriced.
	unpricedModels labelSet
}

func newMetrics(reg prometheus.Registerer, spoolDepth func() int) *metrics {
	m := &metrics{}
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
	spool := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relay_spool_depth", Help: "Usage events waiting on disk for NATS.",
	}, func() float64 { return float64(spoolDepth()) })
	reg.MustRegister(m.inFlight, m.failovers, m.accountStates, m.usagePublishSeconds, m.unpriced, spool)
	return m
}

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
