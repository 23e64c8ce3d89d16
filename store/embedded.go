package store

import (
	"context"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Embedded is an in-process Redis (miniredis) for the zero-setup `relay
// serve`. It starts empty: the workers rebuild the read models from the
// streams.
type Embedded struct {
	*miniredis.Miniredis
	password string
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartEmbedded starts an in-process Redis on a loopback port whose clock
// follows the wall clock. A non-empty password is required of every
// connection (AUTH), so another process on the machine cannot reach the
// read models, rate windows or login counters.
func StartEmbedded(password string) (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if password != "" {
		m.RequireAuth(password)
	}
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{Miniredis: m, password: password, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		DriveClock(ctx, m, 100*time.Millisecond)
	}()
	return e, nil
}

// Client returns a client of the embedded server.
func (e *Embedded) Client() *redis.Client {
	return Client(&redis.Options{Addr: e.Addr(), Password: e.password})
}

// Close stops the server.
func (e *Embedded) Close() {
	e.cancel()
	<-e.done
	e.Miniredis.Close()
}

// DriveClock makes m's clock follow the wall clock until ctx ends. miniredis
// only expires keys when its clock is advanced, and relay's leases and windows
// rely on expiry.
func DriveClock(ctx context.Context, m *miniredis.Miniredis, every time.Duration) {
	last := time.Now()
	m.SetTime(last)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.SetTime(now)
			m.FastForward(now.Sub(last))
			last = now
		}
	}
}
