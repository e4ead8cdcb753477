// Package edge is the data plane node: listeners, the request pipeline, the
// running snapshot and its atomic swap, the admin endpoints and shutdown.
package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/proxy"
	"github.com/sluicegw/sluice/runtime/route"
	"github.com/sluicegw/sluice/runtime/traffic"
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

	routes  *route.Table
	pools   map[string]*proxy.Pool
	modules map[string]*filter.Module
	auth    *auth.Set     // nil when the config has no auth providers
	extras  []routeExtras // per route, by route index

	refs      atomic.Int64 // in-flight requests + 1 while current
	closeOnce sync.Once
}

// routeExtras holds what the pipeline needs per route, resolved once at build.
type routeExtras struct {
	pool        *proxy.Pool
	timeout     time.Duration
	deprecation string // preformatted Deprecation header value, "" if none
	sunset      string // preformatted Sunset header value, "" if none
	filters     []routeFilter
	auth        []string            // provider names; any one suffices
	policy      *routePolicy        // nil when the route has none
	limit       *routeLimit         // nil when the route has no rate_limit
	compress    *traffic.Compressor // nil when the route does not compress
	cache       *traffic.Cache      // nil when the route does not cache
	// origin answers what the stages before it let through: the upstream
	// pool or the aggregation; nil for a serverless route.
	origin    traffic.Origin
	aggregate bool // origin is an aggregation: it needs the path params
}

// BuildEnv is what building a snapshot needs from the node.
type BuildEnv struct {
	Logger *slog.Logger
	// Filters compiles the snapshot's wasm modules; required when the
	// config has filters.
	Filters *filter.Runtime
	// Limiters returns the rate limiter of a route, so a node keeps its
	// buckets across snapshots; nil builds fresh ones.
	Limiters func(r *config.Route) (traffic.Checker, error)
}

// Build compiles cfg into a snapshot: route table, upstream pools, wasm
// modules (compiled, validated, one instance created each). It starts
// nothing: health checks begin when the snapshot is activated, so Build also
// serves offline validation.
func Build(ctx context.Context, cfg *config.Config, env BuildEnv) (*Snapshot, error) {
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	canonical, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode config: %w", err)
	}
	sum := sha256.Sum256(canonical)
	s := &Snapshot{
		Config:  cfg,
		Digest:  "sha256:" + hex.EncodeToString(sum[:]),
		Built:   time.Now(),
		pools:   make(map[string]*proxy.Pool, len(cfg.Upstreams)),
		modules: make(map[string]*filter.Module, len(cfg.Filters)),
	}
	var errs []error
	for name, u := range cfg.Upstreams {
		p, err := proxy.NewPool(name, u, proxy.Options{Logger: log})
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: %w", name, err))
			continue
		}
		s.pools[name] = p
	}
	errs = append(errs, s.loadFilters(ctx, cfg, env.Filters)...)
	policies, perrs := loadPolicies(ctx, cfg)
	errs = append(errs, perrs...)
	if len(cfg.Auth) > 0 {
		if s.auth, err = auth.New(ctx, cfg.Auth, auth.Options{Logger: log}); err != nil {
			errs = append(errs, fmt.Errorf("auth: %w", err))
		}
	}
	if s.routes, err = route.New(cfg.Routes); err != nil {
		errs = append(errs, err)
	}
	s.extras = make([]routeExtras, len(cfg.Routes))
	for i, r := range cfg.Routes {
		if err := s.buildTraffic(&s.extras[i], r, env); err != nil {
			errs = append(errs, fmt.Errorf("route %q: %w", r.Name, err))
		}
	}
	if len(errs) > 0 {
		s.closePools()
		return nil, errors.Join(errs...)
	}
	for i, r := range cfg.Routes {
		x := &s.extras[i]
		x.pool = s.pools[r.Upstream]
		x.timeout = r.Timeout.D()
		x.deprecation = deprecationHeader(r.Deprecation)
		x.sunset = sunsetHeader(r.Sunset)
		x.auth = r.Auth
		if r.Policy != "" {
			x.policy = &routePolicy{name: r.Policy, policy: policies[r.Policy]}
			if dl := cfg.Policies[r.Policy].DecisionLog; dl != nil {
				x.policy.logDecisions, x.policy.sample = true, dl.Sample
			}
		}
		for _, name := range r.Filters {
			x.filters = append(x.filters, routeFilter{
				name:     name,
				module:   s.modules[name],
				failOpen: cfg.Filters[name].OnError == config.FailOpen,
				wait:     filterWait(cfg, r),
			})
		}
	}
	s.refs.Store(1)
	return s, nil
}

// buildTraffic resolves a route's traffic stages: rate limit, cache,
// compression, aggregation.
func (s *Snapshot) buildTraffic(x *routeExtras, r *config.Route, env BuildEnv) error {
	if rl := r.RateLimit; rl != nil {
		var c traffic.Checker
		if env.Limiters != nil {
			var err error
			if c, err = env.Limiters(r); err != nil {
				return fmt.Errorf("rate_limit: %w", err)
			}
		} else {
			c = traffic.NewLimiter(rl.Requests, rl.Per.D(), rl.Burst, 0)
		}
		l, err := newRouteLimit(rl, c)
		if err != nil {
			return fmt.Errorf("rate_limit: %w", err)
		}
		x.limit = l
	}
	if len(r.Compress) > 0 {
		c, err := traffic.NewCompressor(r.Compress)
		if err != nil {
			return fmt.Errorf("compress: %w", err)
		}
		x.compress = c
	}
	if r.Cache != nil {
		x.cache = traffic.NewCache(r.Cache.TTL.D(), traffic.CacheOptions{})
	}
	if p := s.pools[r.Upstream]; p != nil {
		opts := proxy.ForwardOptions{Timeout: r.Timeout.D()}
		x.origin = func(w http.ResponseWriter, r *http.Request) error { return p.Forward(w, r, opts) }
	}
	if len(r.Aggregate) > 0 {
		var backends []traffic.AggregateBackend
		for key, t := range r.Aggregate {
			p := s.pools[t.Upstream]
			if p == nil {
				return fmt.Errorf("aggregate %q: unknown upstream %q", key, t.Upstream)
			}
			opts := proxy.ForwardOptions{Timeout: r.Timeout.D()}
			backends = append(backends, traffic.AggregateBackend{
				Key:     key,
				Path:    t.Path,
				Forward: func(w http.ResponseWriter, r *http.Request) error { return p.Forward(w, r, opts) },
			})
		}
		a, err := traffic.NewAggregator(backends)
		if err != nil {
			return err
		}
		x.origin, x.aggregate = a.Serve, true
	}
	return nil
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
	for _, m := range s.modules {
		_ = m.Close(context.Background())
	}
	if s.auth != nil {
		s.auth.Close()
	}
}

// Pools returns the snapshot's upstream pools by name (for metrics and admin).
func (s *Snapshot) Pools() map[string]*proxy.Pool { return s.pools }

// Discard closes a snapshot that was built but never applied (validation).
func (s *Snapshot) Discard() { s.close() }
