package upstreams

import (
	"net/http"
	"sync"
)

// Pool hands out one long-lived transport per distinct proxy configuration.
// It is safe for concurrent use.
type Pool struct {
	cfg Config

	mu         sync.Mutex // mu protects transports
	transports map[string]*http.Transport
}

// NewPool returns an empty pool whose transports use cfg (zero fields take
// Defaults()).
func NewPool(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pool{cfg: cfg.withDefaults(), transports: map[string]*http.Transport{}}, nil
}

const directKey = "direct"

// Transport returns the transport for px, or for direct connections when px
// is nil. The same configuration (credentials included) always gets the same
// transport; callers must not modify it. A px that fails Validate is refused.
// Direct means direct: HTTP_PROXY and friends are not consulted, so the route
// to an upstream is exactly what the account's configuration says.
//
// Transports are never dropped while the pool lives: an account whose proxy
// changes leaves its old transport idle until IdleConnTimeout closes its
// connections, and proxy configurations are few.
func (p *Pool) Transport(px *Proxy) (*http.Transport, error) {
	key := directKey
	if px != nil {
		if err := px.Validate(); err != nil {
			return nil, err
		}
		key = px.key()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.transports[key]; ok {
		return t, nil
	}
	t, err := newTransport(p.cfg, px)
	if err != nil {
		return nil, err
	}
	p.transports[key] = t
	return t, nil
}

// Close closes the idle connections of every transport; connections in use
// close when their requests end. It is meant for shutdown, after the HTTP
// server has drained, but the pool stays usable.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
}
