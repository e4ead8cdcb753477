// Package edge is the data plane node: listeners, the request pipeline, the
// running snapshot and its atomic swap, the admin endpoints and shutdown.
package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/proxy"
	"github.com/sluicegw/sluice/runtime/route"
)

// Snapshot is the immutable, fully built runtime form of one config: the
// compiled route table and the upstream pools. Requests hold a reference
// while they run; once it is replaced and the last request is done, it is
// closed explicitly (no finalizers).
type Snapshot struct {
	Config   *config.Config
	Digest   string    // sha256 of the canonical JSON of Config
	Revision int64     // increases by one with each snapshot a node applies
	Built    time.Time // when it was built

	routes *route.Table
	pools  map[string]*proxy.Pool
	extras []routeExtras // per route, by route index

	refs      atomic.Int64 // in-flight requests + 1 while current
	closeOnce sync.Once
}

// routeExtras holds what the pipeline needs per route, resolved once at build.
type routeExtras struct {
	pool        *proxy.Pool
	timeout     time.Duration
	deprecation string // preformatted Deprecation header value, "" if none
	sunset      string // preformatted Sunset header value, "" if none
}

// errUnsupported marks config features this build cannot enforce yet. A
// snapshot that uses one is refused rather than served without it: a route
// that names a policy must never be served unprotected.
var errUnsupported = errors.New("not supported by this build yet")

// Build compiles cfg into a snapshot. It starts nothing: health checks begin
// when the snapshot is activated, so Build also serves offline validation.
func Build(cfg *config.Config, log *slog.Logger) (*Snapshot, error) {
	canonical, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode config: %w", err)
	}
	sum := sha256.Sum256(canonical)
	s := &Snapshot{
		Config: cfg,
		Digest: "sha256:" + hex.EncodeToString(sum[:]),
		Built:  time.Now(),
		pools:  make(map[string]*proxy.Pool, len(cfg.Upstreams)),
	}
	var errs []error
	for _, r := range cfg.Routes {
		for _, feature := range unsupportedFeatures(r) {
			errs = append(errs, fmt.Errorf("route %q: %s: %w", r.Name, feature, errUnsupported))
		}
	}
	for name, u := range cfg.Upstreams {
		p, err := proxy.NewPool(name, u, proxy.Options{Logger: log})
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: %w", name, err))
			continue
		}
		s.pools[name] = p
	}
	if s.routes, err = route.New(cfg.Routes); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		s.closePools()
		return nil, errors.Join(errs...)
	}
	s.extras = make([]routeExtras, len(cfg.Routes))
	for i, r := range cfg.Routes {
		x := &s.extras[i]
		x.pool = s.pools[r.Upstream]
		x.timeout = r.Timeout.D()
		x.deprecation = deprecationHeader(r.Deprecation)
		x.sunset = sunsetHeader(r.Sunset)
	}
	s.refs.Store(1)
	return s, nil
}

func unsupportedFeatures(r *config.Route) []string {
	var out []string
	if len(r.Auth) > 0 {
		out = append(out, "auth")
	}
	if r.Policy != "" {
		out = append(out, "policy")
	}
	if len(r.Filters) > 0 {
		out = append(out, "filters")
	}
	if r.RateLimit != nil {
		out = append(out, "rate_limit")
	}
	if r.Cache != nil {
		out = append(out, "cache")
	}
	if len(r.Compress) > 0 {
		out = append(out, "compress")
	}
	if len(r.Aggregate) > 0 {
		out = append(out, "aggregate")
	}
	return out
}

// start begins the snapshot's background work (health checks).
func (s *Snapshot) start() {
	for _, p := range s.pools {
		p.Start()
	}
}

// acquire takes a reference for one request. It fails once the snapshot has
// started closing, and the caller then loads the current one again.
func (s *Snapshot) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the snapshot.
func (s *Snapshot) release() {
	if s.refs.Add(-1) == 0 {
		s.close()
	}
}

func (s *Snapshot) close() {
	s.closeOnce.Do(s.closePools)
}

func (s *Snapshot) closePools() {
	for _, p := range s.pools {
		p.Close()
	}
}

// Pools returns the snapshot's upstream pools by name (for metrics and admin).
func (s *Snapshot) Pools() map[string]*proxy.Pool { return s.pools }

// Discard closes a snapshot that was built but never applied (validation).
func (s *Snapshot) Discard() { s.close() }
