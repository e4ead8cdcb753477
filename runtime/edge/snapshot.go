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
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicegw/sluice/runtime/auth"
	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/proxy"
	"github.com/sluicegw/sluice/runtime/route"
	"github.com/sluicegw/sluice/runtime/tracing"
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

	routes   *route.Table
	pools    map[string]*proxy.Pool
	modules  map[string]*filter.Module
	wasm     *filter.Runtime // the node's, when the config has filters (proxy-wasm metrics)
	auth     *auth.Set       // nil when the config has no auth providers
	tracer   *tracing.Tracer // nil when the config has no tracing block
	compiled []compiledRoute // per route, by route index

	refs      atomic.Int64 // in-flight requests + 1 while current
	closeOnce sync.Once
}

// BuildEnv is what building a snapshot needs from the node.
type BuildEnv struct {
	Logger *slog.Logger
	// Filters compiles the snapshot's wasm modules; required when the
	// config has filters.
	Filters *filter.Runtime
	// NodeID names the node in traces (service.instance.id).
	NodeID string
	// Limiters returns the rate limiter of a route, so a node keeps its
	// buckets across snapshots; nil builds fresh ones (node scope), as for
	// offline validation.
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
		p, err := proxy.NewPool(name, u, proxy.Options{Logger: log, Dir: cfg.Dir})
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: %w", name, err))
			continue
		}
		s.pools[name] = p
	}
	s.wasm = env.Filters
	errs = append(errs, s.loadFilters(ctx, cfg, env.Filters)...)
	policies, perrs := loadPolicies(ctx, cfg)
	errs = append(errs, perrs...)
	if len(cfg.Auth) > 0 {
		if s.auth, err = auth.New(ctx, cfg.Auth, auth.Options{Logger: log}); err != nil {
			errs = append(errs, fmt.Errorf("auth: %w", err))
		}
	}
	if cfg.Tracing != nil {
		if s.tracer, err = tracing.New(cfg.Tracing, env.NodeID); err != nil {
			errs = append(errs, err)
		}
	}
	if s.routes, err = route.New(cfg.Routes); err != nil {
		errs = append(errs, err)
	}
	limiters := env.Limiters
	if limiters == nil {
		limiters = (&limiterSet{now: time.Now, log: log}).get
	}
	cenv := compileEnv{cfg: cfg, pools: s.pools, modules: s.modules, policies: policies, limiters: limiters}
	s.compiled = make([]compiledRoute, len(cfg.Routes))
	for i, r := range cfg.Routes {
		if s.compiled[i], err = compileRoute(r, cenv); err != nil {
			errs = append(errs, fmt.Errorf("route %q: %w", r.Name, err))
		}
	}
	if len(errs) > 0 {
		s.closePools()
		return nil, errors.Join(errs...)
	}
	s.refs.Store(1)
	return s, nil
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
	if t := s.tracer; t != nil {
		// The last request may be the one closing the snapshot: flushing
		// spans to the collector must not hold it up.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = t.Close(ctx)
		}()
	}
}

// Pools returns the snapshot's upstream pools by name (for metrics and admin).
func (s *Snapshot) Pools() map[string]*proxy.Pool { return s.pools }

// Discard closes a snapshot that was built but never applied (validation).
func (s *Snapshot) Discard() { s.close() }
