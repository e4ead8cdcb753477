package proxy

import (
	"slices"

	"github.com/sluicegw/sluice/runtime/config"
)

// endpointSet is one immutable generation of a pool's endpoints with the
// balancer built over them.
type endpointSet struct {
	endpoints []*endpoint
	balancer  balancer
}

func (p *Pool) newSet(eps []*endpoint) (*endpointSet, error) {
	b, err := newBalancer(p.balance, p.hashOn, eps)
	if err != nil {
		return nil, err
	}
	return &endpointSet{endpoints: eps, balancer: b}, nil
}

// SetDiscovered replaces the endpoints found by service discovery (for
// `discovery: nats`), keeping the configured ones. An instance already in
// the pool keeps its state (in-flight count, ejection, latency), so a
// refresh does not reset what passive checks learned. Invalid URLs are
// logged and skipped. Active health checks cover configured endpoints only.
// Safe to call at any time, concurrently with requests.
func (p *Pool) SetDiscovered(urls []string) {
	p.setMu.Lock()
	defer p.setMu.Unlock()
	current := p.set.Load().endpoints
	known := make(map[string]*endpoint, len(current))
	for _, e := range current {
		known[e.raw] = e
	}
	eps := slices.Clone(p.endpoints)
	seen := make(map[string]bool, len(eps)+len(urls))
	for _, e := range eps {
		seen[e.raw] = true
	}
	for _, u := range urls {
		if seen[u] {
			continue
		}
		seen[u] = true
		e, ok := known[u]
		if !ok {
			var err error
			if e, err = newEndpoint(config.Endpoint{URL: u}, p.log, p.tlsBase); err != nil {
				p.log.Warn("discovered instance ignored", "url", u, "error", err)
				continue
			}
		}
		eps = append(eps, e)
	}
	set, err := p.newSet(eps)
	if err != nil { // the strategy was accepted at NewPool; cannot fail here
		p.log.Error("discovered instances not applied", "error", err)
		return
	}
	p.set.Store(set)
}
