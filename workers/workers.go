package workers

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"relay/projections"
	"relay/store"
)

// Group runs a set of projectors together.
type Group struct {
	Runners []*Runner
}

// NewGroup returns runners for every projector of relay, with the zero
// Options.
func NewGroup(js jetstream.JetStream, st *store.Store, log zerolog.Logger, reg prometheus.Registerer, extra ...Projector) *Group {
	return NewGroupWith(js, st, log, reg, Options{}, extra...)
}

// NewGroupWith is NewGroup with options.
func NewGroupWith(js jetstream.JetStream, st *store.Store, log zerolog.Logger, reg prometheus.Registerer, o Options, extra ...Projector) *Group {
	m := NewMetrics(reg)
	usage := NewUsageProjector(st, projections.UsageOptions{Loc: o.Location, IsOpus: o.IsOpus}, reg)
	ps := append([]Projector{ConfigProjector{Store: st}, StateProjector{Store: st}, usage}, extra...)
	g := &Group{}
	for _, p := range ps {
		g.Runners = append(g.Runners, NewRunner(p, js, st, log, m))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "relay_projections_caught_up", Help: "1 when every projector has caught up with its stream since start.",
	}, func() float64 {
		if g.CaughtUp() {
			return 1
		}
		return 0
	}))
	return g
}

// Run runs every projector until ctx ends or one fails to start.
func (g *Group) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(g.Runners))
	for i, r := range g.Runners {
		wg.Go(func() {
			if errs[i] = r.Run(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CaughtUp reports whether every projector has caught up since start.
func (g *Group) CaughtUp() bool {
	for _, r := range g.Runners {
		if !r.CaughtUp() {
			return false
		}
	}
	return true
}

// Lags returns each projector's lag in events.
func (g *Group) Lags(ctx context.Context) (map[string]uint64, error) {
	out := make(map[string]uint64, len(g.Runners))
	for _, r := range g.Runners {
		l, err := r.Lag(ctx)
		if err != nil {
			return nil, err
		}
		out[r.Name()] = l
	}
	return out, nil
}
