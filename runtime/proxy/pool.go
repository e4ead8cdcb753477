// Package proxy forwards requests to upstream services. A Pool is the runtime
// form of one `upstreams:` entry: its endpoints, how traffic is spread across
// them (balance_*.go), active health checks (health.go), passive outlier
// ejection (outlier.go), retries (retry.go) and a lean hand-written forwarder
// (forward.go, headers.go) on fasthttp's HTTP/1.1 client codec over pooled
// connections (fastclient.go), with http.Transport for upgrades (upgrade.go).
//
// The edge node builds one Pool per upstream when it builds a snapshot, calls
// Start once the snapshot is swapped in, Forward as the last stage of a
// request, and Close once the snapshot's in-flight requests have finished.
package proxy

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// Options carries what a pool takes from its node rather than from the config.
type Options struct {
	// Logger receives health transitions, ejections and aborted responses.
	// nil means slog.Default().
	Logger *slog.Logger
	// Dir resolves the upstream's relative tls file names (the config
	// file's directory).
	Dir string
}

// Pool is one upstream: a fixed set of endpoints and the policies that pick,
// check, eject and retry them. All methods are safe for concurrent use.
type Pool struct {
	name string
	log  *slog.Logger
	// endpoints are the ones the config lists; set is what requests pick
	// from: those plus any discovered at runtime (discovery.go). A change
	// builds a new set and swaps the pointer, so a pick never takes a lock
	// for it and never sees a half-updated list.
	endpoints []*endpoint
	set       atomic.Pointer[endpointSet]
	setMu     sync.Mutex // serializes SetDiscovered; readers never take it
	balance   string
	hashOn    config.HashOn
	// trackLatency is set when the balancer reads per-endpoint latency, so
	// other strategies do not pay for two clock reads per request.
	trackLatency bool
	transport    *http.Transport
	tlsBase      *tls.Config // what every https endpoint's TLS starts from
	// h2 is the HTTP/2 client of a `protocol: h2c | h2` upstream; nil for
	// http1, whose plain requests go through fastclient.go.
	h2       *h2Client
	protocol string
	timeout  time.Duration
	retry    retryPolicy
	outlier  outlierPolicy
	health   *healthChecker

	startOnce sync.Once
	closeOnce sync.Once
}

// EndpointState is one endpoint as seen by metrics and the admin API.
type EndpointState struct {
	URL      string
	Weight   int
	Healthy  bool  // last verdict of the active health check (true without one)
	Ejected  bool  // ejected by passive outlier detection right now
	InFlight int64 // requests currently using the endpoint, streaming bodies included
}

// NewPool builds the pool for one upstream. cfg must already be validated and
// defaulted by package config; NewPool still refuses what it cannot run (a
// bad endpoint URL, an unknown balance strategy or retry condition), naming
// the upstream and the endpoint, so a bad snapshot fails when it is built.
func NewPool(name string, cfg *config.Upstream, opts Options) (*Pool, error) {
	if cfg == nil {
		return nil, fmt.Errorf("upstream %q: no configuration", name)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("upstream", name)
	p := &Pool{
		name:    name,
		log:     log,
		timeout: cfg.Timeout.D(),
		outlier: newOutlierPolicy(cfg.Outlier),
	}
	tlsBase, err := loadUpstreamTLS(cfg.TLS, opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	p.tlsBase, p.protocol = tlsBase, cfg.Protocol
	if cfg.Protocol == config.ProtocolH2C || cfg.Protocol == config.ProtocolH2 {
		p.h2 = newH2Transport(cfg.Protocol, tlsBase)
	}
	for i, ec := range cfg.Endpoints {
		e, err := newEndpoint(ec, log, tlsBase)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: endpoints[%d] %q: %w", name, i, ec.URL, err)
		}
		p.endpoints = append(p.endpoints, e)
	}
	p.balance, p.hashOn = cfg.Balance, cfg.HashOn
	set, err := p.newSet(p.endpoints)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	p.set.Store(set)
	p.trackLatency = cfg.Balance == config.BalanceP2CEWMA
	if p.retry, err = newRetryPolicy(cfg.Retries); err != nil {
		return nil, fmt.Errorf("upstream %q: retries: %w", name, err)
	}
	if cfg.HealthCheck != nil {
		if p.health, err = newHealthChecker(p, cfg.HealthCheck); err != nil {
			return nil, fmt.Errorf("upstream %q: health_check: %w", name, err)
		}
	}
	p.transport = newTransport(tlsBase)
	return p, nil
}

// Name is the upstream's name in the config.
func (p *Pool) Name() string { return p.name }

// Start begins active health checks, if configured. Until an endpoint's
// checks reach a verdict it is considered healthy, so a new snapshot serves
// at once. Calls after the first do nothing.
func (p *Pool) Start() {
	p.startOnce.Do(func() {
		if p.health != nil {
			p.health.start()
		}
	})
}

// Close stops health checks (waiting for their goroutines) and closes idle
// upstream connections. Call it once every request using the pool has
// finished; connections already switched to another protocol (WebSocket)
// belong to their request and are not closed here.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		p.startOnce.Do(func() {}) // a Start racing with Close must not begin checks afterwards
		if p.health != nil {
			p.health.stop()
		}
		p.transport.CloseIdleConnections()
		if p.h2 != nil {
			p.h2.CloseIdleConnections()
		}
		for _, e := range p.endpoints {
			e.conns.close()
		}
		for _, e := range p.set.Load().endpoints {
			e.conns.close()
		}
	})
}

// Endpoints reports each endpoint's state: the configured ones in config
// order, then any discovered ones.
func (p *Pool) Endpoints() []EndpointState {
	now := monotonic()
	eps := p.set.Load().endpoints
	out := make([]EndpointState, len(eps))
	for i, e := range eps {
		out[i] = EndpointState{
			URL:      e.raw,
			Weight:   e.weight,
			Healthy:  e.healthy.Load(),
			Ejected:  e.ejectedAt(now),
			InFlight: e.inflight.Load(),
		}
	}
	return out
}

// pick chooses the endpoint for the next attempt: one not yet tried when
// possible, else any usable one; nil when none is healthy and not ejected.
func (p *Pool) pick(r *http.Request, tried []*endpoint) *endpoint {
	b := p.set.Load().balancer
	e := b.pick(r, tried)
	if e == nil && len(tried) > 0 {
		e = b.pick(r, nil)
	}
	return e
}

// Upstream connection settings. Connect is bounded separately from the
// request deadline so that a black-holed endpoint fails as a connect failure
// (retryable elsewhere) instead of eating a long route timeout.
const (
	connectTimeout      = 5 * time.Second
	maxIdleConnsPerHost = 256
	idleConnTimeout     = 90 * time.Second
	maxResponseHeader   = 1 << 20
	tlsHandshakeTimeout = 10 * time.Second
)

// newTransport returns the pool's keep-alive pool for upgrade requests
// (WebSocket), which need the switched connection as a reader and writer;
// plain requests go through fastclient.go with the same settings. HTTP/1.1
// only, also for https upstreams, and one request per connection keeps
// head-of-line blocking out of the balancer's view. Compression is disabled
// so bodies pass through byte for byte.
func newTransport(tlsBase *tls.Config) *http.Transport {
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil, // upstreams are reached directly, never via $HTTP_PROXY
		TLSClientConfig:        tlsBase.Clone(),
		DialContext:            dialMarkingFailures(d),
		ForceAttemptHTTP2:      false,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ExpectContinueTimeout:  1 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeader,
	}
}
