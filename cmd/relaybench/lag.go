package main

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"relay/events"
	"relay/store"
)

// lagProbe measures the projection lag of one relay: the time from a usage
// event's publish to its visibility in the statistics. Every `every` it
// reads the USAGE stream's last sequence from relay's NATS and the usage
// projection's checkpoint from relay's Redis; a new last sequence seen at t
// is visible when the checkpoint reaches it, and the lag is the difference.
// The resolution is the sampling period.
type lagProbe struct {
	nc     *nats.Conn
	stream jetstream.Stream
	rdb    *redis.Client
	st     *store.Store
	every  time.Duration
}

func newLagProbe(ctx context.Context, natsAddr, natsPassword, redisURL string, every time.Duration) (*lagProbe, error) {
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	ropts.PoolSize = 4
	opts := []nats.Option{nats.Name("relaybench")}
	if natsPassword != "" {
		opts = append(opts, nats.UserInfo("relay", natsPassword))
	}
	nc, err := nats.Connect("nats://"+natsAddr, opts...)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	stream, err := js.Stream(ctx, events.StreamUsage)
	if err != nil {
		nc.Close()
		return nil, err
	}
	rdb := redis.NewClient(ropts)
	return &lagProbe{nc: nc, stream: stream, rdb: rdb, st: store.New(rdb, ""), every: every}, nil
}

func (p *lagProbe) close() {
	p.rdb.Close()
	p.nc.Close()
}

// lagResult is one run of the probe.
type lagResult struct {
	lags []time.Duration
	// unresolved counts sampled publishes the checkpoint had not reached
	// by the end of the drain.
	unresolved int
	errors     int
}

// run samples until stop is closed, then waits up to drain for the
// checkpoint to reach the publishes already sampled.
func (p *lagProbe) run(ctx context.Context, stop <-chan struct{}, drain time.Duration) lagResult {
	type pub struct {
		seq uint64
		at  time.Time
	}
	var res lagResult
	var pending []pub
	var last uint64
	if info, err := p.stream.Info(ctx); err == nil {
		last = info.State.LastSeq // publishes before the window are not sampled
	}
	t := time.NewTicker(p.every)
	defer t.Stop()
	stopping := false
	var deadline time.Time
	for {
		select {
		case <-ctx.Done():
			res.unresolved += len(pending)
			return res
		case <-stop:
			stop, stopping, deadline = nil, true, time.Now().Add(drain)
			continue
		case <-t.C:
		}
		if !stopping {
			info, err := p.stream.Info(ctx)
			if err != nil {
				res.errors++
				continue
			}
			if s := info.State.LastSeq; s > last {
				last = s
				pending = append(pending, pub{seq: s, at: time.Now()})
			}
		}
		cp, err := p.st.Checkpoint(ctx, store.ProjectionUsage)
		if err != nil {
			res.errors++
			continue
		}
		now := time.Now()
		for len(pending) > 0 && pending[0].seq <= cp {
			res.lags = append(res.lags, now.Sub(pending[0].at))
			pending = pending[1:]
		}
		if stopping && (len(pending) == 0 || now.After(deadline)) {
			res.unresolved += len(pending)
			return res
		}
	}
}
