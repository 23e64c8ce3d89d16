package workers

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the projectors' Prometheus metrics.
type Metrics struct {
	applied  *prometheus.CounterVec
	poisoned *prometheus.CounterVec
}

// NewMetrics registers the projectors' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_projection_events_applied_total", Help: "Events handled by each projector.",
		}, []string{"projector"}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "relay_projection_events_skipped_total", Help: "Events that could never be applied and were skipped.",
		}, []string{"projector"}),
	}
	reg.MustRegister(m.applied, m.poisoned)
	return m
}
