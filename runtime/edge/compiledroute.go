package edge

import (
	"fmt"
	"net/http"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/policy"
	"github.com/sluicegw/sluice/runtime/proxy"
	"github.com/sluicegw/sluice/runtime/traffic"
)

// compiledRoute is one route resolved at snapshot build: everything its
// stages need, and the stages themselves, in the order of the request path
// (docs/architecture.md, "The request path"). A route runs only the stages it names, so a route without auth
// pays nothing for auth.
type compiledRoute struct {
	name        string
	pool        *proxy.Pool // the upstream; nil for a serverless or aggregate-only route
	deprecation string      // preformatted Deprecation header value, "" if none
	sunset      string      // preformatted Sunset header value, "" if none
	auth        []string    // provider names; any one suffices
	policy      *routePolicy
	limit       *routeLimit
	compress    *traffic.Compressor
	cache       *traffic.Cache
	filters     []routeFilter
	// origin answers what the stages before it let through: the upstream
	// pool or the aggregation; nil for a serverless route.
	origin    traffic.Origin
	aggregate bool // origin is an aggregation: it needs the path params

	stages []stage
	names  []string // of stages, for their spans
}

// Stage names, as their spans are named: made once here, not per request.
const (
	stageNameDeprecation = "sluice.deprecation"
	stageNameAccess      = "sluice.access"
	stageNameRateLimit   = "sluice.rate_limit"
	stageNameCompress    = "sluice.compress"
	stageNameRewrite     = "sluice.rewrite"
	stageNameFilters     = "sluice.filters"
	stageNameOrigin      = "sluice.origin"
)

// compileEnv is what compiling a route reads from the snapshot being built.
type compileEnv struct {
	cfg      *config.Config
	pools    map[string]*proxy.Pool
	modules  map[string]*filter.Module
	policies map[string]*policy.Policy
	limiters func(r *config.Route) (traffic.Checker, error)
}

// compileRoute resolves r once: its upstream, policy, filters, rate limit,
// cache, compression and origin, and the list of stages they make.
func compileRoute(r *config.Route, env compileEnv) (compiledRoute, error) {
	c := compiledRoute{
		name:        r.Name,
		pool:        env.pools[r.Upstream],
		deprecation: deprecationHeader(r.Deprecation),
		sunset:      sunsetHeader(r.Sunset),
		auth:        r.Auth,
	}
	if r.Policy != "" {
		c.policy = &routePolicy{name: r.Policy, policy: env.policies[r.Policy]}
		if dl := env.cfg.Policies[r.Policy].DecisionLog; dl != nil {
			c.policy.logDecisions, c.policy.sample = true, dl.Sample
		}
	}
	for _, name := range r.Filters {
		c.filters = append(c.filters, routeFilter{
			name:     name,
			module:   env.modules[name],
			failOpen: env.cfg.Filters[name].OnError == config.FailOpen,
			wait:     filterWait(env.cfg, r),
		})
	}
	if rl := r.RateLimit; rl != nil {
		checker, err := env.limiters(r)
		if err != nil {
			return c, fmt.Errorf("rate_limit: %w", err)
		}
		if c.limit, err = newRouteLimit(rl, checker); err != nil {
			return c, fmt.Errorf("rate_limit: %w", err)
		}
	}
	if len(r.Compress) > 0 {
		cp, err := traffic.NewCompressor(r.Compress)
		if err != nil {
			return c, fmt.Errorf("compress: %w", err)
		}
		c.compress = cp
	}
	if r.Cache != nil {
		c.cache = traffic.NewCache(r.Cache.TTL.D(), traffic.CacheOptions{})
	}
	fwd := proxy.ForwardOptions{Timeout: r.Timeout.D()}
	if p := c.pool; p != nil {
		c.origin = func(w http.ResponseWriter, r *http.Request) error { return p.Forward(w, r, fwd) }
	}
	if len(r.Aggregate) > 0 {
		var backends []traffic.AggregateBackend
		for key, t := range r.Aggregate {
			p := env.pools[t.Upstream]
			if p == nil {
				return c, fmt.Errorf("aggregate %q: unknown upstream %q", key, t.Upstream)
			}
			backends = append(backends, traffic.AggregateBackend{
				Key:      key,
				Path:     t.Path,
				Forward:  func(w http.ResponseWriter, r *http.Request) error { return p.Forward(w, r, fwd) },
				Upstream: t.Upstream,
			})
		}
		a, err := traffic.NewAggregator(backends)
		if err != nil {
			return c, err
		}
		c.origin, c.aggregate = a.Serve, true
	}
	c.pipeline()
	return c, nil
}

// pipeline lists the stages of the route, in the order of the request
// path (RATIONALE.md, "The pipeline: one stage shape on an Exchange"). Each
// stage is one file.
func (c *compiledRoute) pipeline() {
	add := func(name string, s stage) {
		c.names = append(c.names, name)
		c.stages = append(c.stages, s)
	}
	if c.deprecation != "" || c.sunset != "" {
		add(stageNameDeprecation, stageDeprecation)
	}
	if len(c.auth) > 0 || c.policy != nil {
		add(stageNameAccess, stageAccess)
	}
	if c.limit != nil {
		add(stageNameRateLimit, stageRateLimit)
	}
	if c.compress != nil {
		add(stageNameCompress, stageCompress) // outermost writer: response filters write through it
	}
	add(stageNameRewrite, stageRewrite)
	if len(c.filters) > 0 {
		add(stageNameFilters, stageRequestFilters)
	}
	add(stageNameOrigin, stageOrigin)
}
