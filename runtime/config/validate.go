package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// checker collects problems; each is located later by its key path.
type checker struct{ problems Problems }

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	tokenRe  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$") // RFC 9110 token
	paramRe  = regexp.MustCompile(`^\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	hostRe   = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
	methodRe = regexp.MustCompile(`^[A-Z]+$`)
)

// validate checks everything that can be checked without touching the
// network or compiling modules. It reports every problem, not the first.
func validate(cfg *Config) Problems {
	c := &checker{}
	for _, name := range sortedKeys(cfg.Upstreams) {
		c.upstream("upstreams."+name, name, cfg.Upstreams[name])
	}
	for _, name := range sortedKeys(cfg.Filters) {
		c.filter("filters."+name, name, cfg.Filters[name])
		c.filterUpstreams("filters."+name, cfg.Filters[name], cfg.Upstreams)
	}
	for _, name := range sortedKeys(cfg.Policies) {
		c.policy("policies."+name, name, cfg.Policies[name])
	}
	for _, name := range sortedKeys(cfg.Auth) {
		c.auth("auth."+name, name, cfg.Auth[name])
	}
	if cfg.Tracing != nil {
		c.tracing("tracing", cfg.Tracing)
	}
	seen := map[string]int{}
	for i, r := range cfg.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		if r == nil {
			c.add(path, "empty route")
			continue
		}
		if r.Name != "" {
			if j, dup := seen[r.Name]; dup {
				c.add(path+".name", "duplicate route name %q (also routes[%d])", r.Name, j)
			}
			seen[r.Name] = i
		}
		c.route(path, r, cfg)
	}
	return c.problems
}

func (c *checker) tracing(path string, t *Tracing) {
	u, err := url.Parse(t.OTLP)
	switch {
	case t.OTLP == "":
		c.add(path+".otlp", "tracing needs otlp: the collector's OTLP/HTTP URL (http://HOST:4318)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.add(path+".otlp", "invalid OTLP/HTTP URL %q (want http://HOST:PORT or https://...)", t.OTLP)
	}
	if t.Sample != nil && (*t.Sample < 0 || *t.Sample > 1) {
		c.add(path+".sample", "sample %v is not between 0 and 1", *t.Sample)
	}
}

// upstreamProtocol checks protocol and tls against the endpoints' schemes.
func (c *checker) upstreamProtocol(path string, u *Upstream) {
	want := ""
	switch u.Protocol {
	case "", ProtocolHTTP1:
	case ProtocolH2C:
		want = "http"
	case ProtocolH2:
		want = "https"
	default:
		c.add(path+".protocol", "unknown protocol %q (want http1, h2c or h2)", u.Protocol)
	}
	for i, e := range u.Endpoints {
		scheme, _, _ := strings.Cut(e.URL, "://")
		if want != "" && scheme != want {
			c.add(fmt.Sprintf("%s.endpoints[%d]", path, i), "protocol %s needs %s:// endpoints, not %q", u.Protocol, want, e.URL)
		}
		if u.TLS != nil && scheme == "http" {
			c.add(fmt.Sprintf("%s.endpoints[%d]", path, i), "tls applies to https:// endpoints, not %q", e.URL)
		}
	}
	if t := u.TLS; t != nil && (t.Cert == "") != (t.Key == "") {
		c.add(path+".tls", "tls.cert and tls.key go together")
	}
}

func (c *checker) upstream(path, name string, u *Upstream) {
	if !nameRe.MatchString(name) {
		c.add(path, "invalid upstream name %q (letters, digits, _ . -)", name)
	}
	if u == nil {
		c.add(path, "upstream has no endpoints")
		return
	}
	switch u.Discovery {
	case "", "nats":
	default:
		c.add(path+".discovery", "unknown discovery %q (want nats)", u.Discovery)
	}
	if len(u.Endpoints) == 0 && u.Discovery == "" {
		c.add(path+".endpoints", "upstream has no endpoints and no discovery")
	}
	for i, e := range u.Endpoints {
		c.endpointURL(fmt.Sprintf("%s.endpoints[%d]", path, i), e.URL)
		if e.Weight < 0 || e.Weight > 1000 {
			c.add(fmt.Sprintf("%s.endpoints[%d].weight", path, i), "weight %d out of range 1..1000", e.Weight)
		}
	}
	switch u.Balance {
	case "", BalanceRoundRobin, BalanceLeastRequest, BalanceP2CEWMA:
		if !u.HashOn.IsZero() {
			c.add(path+".hash_on", "hash_on only applies to balance: consistent_hash")
		}
	case BalanceConsistentHash:
		if u.HashOn.IsZero() {
			c.add(path+".hash_on", "balance: consistent_hash needs hash_on (header:NAME, cookie:NAME or client_ip)")
		}
	default:
		c.add(path+".balance", "unknown balance %q (want round_robin, least_request, p2c_ewma or consistent_hash)", u.Balance)
	}
	c.upstreamProtocol(path, u)
	if hc := u.HealthCheck; hc != nil {
		hp := path + ".health_check"
		if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
			c.add(hp+".path", "health check path %q must start with /", hc.Path)
		}
		if hc.Interval != 0 && hc.Interval.D() < 100*time.Millisecond {
			c.add(hp+".interval", "interval %s is below 100ms", hc.Interval.D())
		}
		switch {
		case hc.Interval != 0 && hc.Timeout > hc.Interval:
			c.add(hp+".timeout", "timeout %s is longer than interval %s", hc.Timeout.D(), hc.Interval.D())
		case hc.Interval == 0 && hc.Timeout > Duration(DefaultHealthInterval):
			c.add(hp+".timeout", "timeout %s is longer than the default interval %s; set interval", hc.Timeout.D(), DefaultHealthInterval)
		}
		if hc.Healthy < 0 {
			c.add(hp+".healthy", "healthy threshold %d must be positive", hc.Healthy)
		}
		if hc.Unhealthy < 0 {
			c.add(hp+".unhealthy", "unhealthy threshold %d must be positive", hc.Unhealthy)
		}
	}
	if o := u.Outlier; o != nil && o.Consecutive5xx < 0 {
		c.add(path+".outlier.consecutive_5xx", "consecutive_5xx %d must be positive", o.Consecutive5xx)
	}
	if r := u.Retries; r != nil {
		if r.Attempts < 0 || r.Attempts > 10 {
			c.add(path+".retries.attempts", "attempts %d out of range 0..10", r.Attempts)
		}
		for i, on := range r.On {
			if on == RetryOnConnectFailure {
				continue
			}
			if code, err := strconv.Atoi(on); err != nil || code < 500 || code > 599 {
				c.add(fmt.Sprintf("%s.retries.on[%d]", path, i), "unknown retry condition %q (want connect-failure or a 5xx status)", on)
			}
		}
	}
}

func (c *checker) endpointURL(path, raw string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		c.add(path, "endpoint has no url")
	case !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://"):
		c.add(path, "endpoint url %q must start with http:// or https://", raw)
	case err != nil:
		c.add(path, "invalid endpoint url %q: %v", raw, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		c.add(path, "endpoint url %q must start with http:// or https://", raw)
	case u.Host == "":
		c.add(path, "endpoint url %q has no host", raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		c.add(path, "endpoint url %q must be scheme://host[:port] only", raw)
	}
}

func (c *checker) filter(path, name string, f *Filter) {
	if !nameRe.MatchString(name) {
		c.add(path, "invalid filter name %q", name)
	}
	if f == nil || f.Module == "" {
		c.add(path+".module", "filter has no module")
		return
	}
	if f.Config != nil {
		f.Config = c.jsonValue(path+".config", f.Config)
	}
	switch m := f.Limits.Memory; {
	case m != 0 && m < MinFilterMemory:
		c.add(path+".limits.memory", "memory limit %d bytes is below one wasm page (64KiB)", m)
	case m > MaxFilterMemory:
		c.add(path+".limits.memory", "memory limit %d bytes is over 4GiB, all a 32-bit wasm memory can address", m)
	}
	if f.Limits.Instances < 0 || f.Limits.Instances > MaxFilterInstances {
		c.add(path+".limits.instances", "instances %d must be between 1 and %d (0 or unset: the default)", f.Limits.Instances, MaxFilterInstances)
	}
	switch f.OnError {
	case "", FailClosed, FailOpen:
	default:
		c.add(path+".on_error", "unknown on_error %q (want fail_closed or fail_open)", f.OnError)
	}
}

// filterUpstreams checks a filter's outbound allow-list: each entry names
// an upstream of the config, once.
func (c *checker) filterUpstreams(path string, f *Filter, upstreams map[string]*Upstream) {
	if f == nil {
		return
	}
	seen := map[string]bool{}
	for i, name := range f.Upstreams {
		p := fmt.Sprintf("%s.upstreams[%d]", path, i)
		switch _, ok := upstreams[name]; {
		case !ok:
			c.add(p, "unknown upstream %q", name)
		case seen[name]:
			c.add(p, "upstream %q is listed twice", name)
		}
		seen[name] = true
	}
}

func (c *checker) policy(path, name string, p *Policy) {
	if !nameRe.MatchString(name) {
		c.add(path, "invalid policy name %q", name)
	}
	if p == nil || p.Module == "" {
		c.add(path+".module", "policy has no module")
		return
	}
	if p.Query != "" && !strings.HasPrefix(p.Query, "data.") {
		c.add(path+".query", "query %q must start with data.", p.Query)
	}
	if d := p.DecisionLog; d != nil && (d.Sample < 0 || d.Sample > 1 || d.Sample != d.Sample) {
		c.add(path+".decision_log.sample", "sample %v must be between 0 and 1", d.Sample)
	}
}

func (c *checker) auth(path, name string, a *AuthProvider) {
	if a == nil || (a.JWT == nil) == (a.APIKey == nil) {
		c.add(path, "an auth provider sets exactly one of jwt or api_key")
		return
	}
	if j := a.JWT; j != nil {
		if j.Issuer == "" {
			c.add(path+".jwt.issuer", "jwt needs an issuer")
		}
		if (j.JWKSURL == "") == (j.Secret == "") {
			c.add(path+".jwt", "jwt needs exactly one of jwks_url or secret")
		}
		if j.JWKSURL != "" {
			if u, err := url.Parse(j.JWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				c.add(path+".jwt.jwks_url", "invalid jwks_url %q", j.JWKSURL)
			}
		}
	}
	if k := a.APIKey; k != nil {
		if k.Header != "" && k.Query != "" {
			c.add(path+".api_key", "api_key reads a header or a query parameter, not both")
		}
		if len(k.Keys) == 0 {
			c.add(path+".api_key.keys", "api_key has no keys")
		}
		for _, v := range k.Keys {
			if v.Consumer == "" {
				c.add(path+".api_key.keys", "a key has no consumer")
				break
			}
		}
	}
}

func (c *checker) route(path string, r *Route, cfg *Config) {
	if r.Name == "" {
		c.add(path+".name", "route has no name")
	} else if !nameRe.MatchString(r.Name) {
		c.add(path+".name", "invalid route name %q", r.Name)
	}
	params := c.match(path+".match", &r.Match)

	if r.Rewrite != nil && r.Rewrite.StripPrefix != "" {
		sp := r.Rewrite.StripPrefix
		base := r.Match.PathPrefix
		if base == "" {
			base = r.Match.Path
		}
		if !strings.HasPrefix(sp, "/") || !segmentPrefix(base, strings.TrimSuffix(sp, "/")) {
			c.add(path+".rewrite.strip_prefix", "strip_prefix %q is not a segment prefix of the route's path %q", sp, base)
		}
	}

	switch {
	case r.Upstream != "" && len(r.Aggregate) > 0:
		c.add(path, "a route has an upstream or an aggregate, not both")
	case r.Upstream != "":
		if _, ok := cfg.Upstreams[r.Upstream]; !ok {
			c.add(path+".upstream", "unknown upstream %q", r.Upstream)
		}
	case len(r.Aggregate) > 0:
		if r.Match.Path == "" {
			c.add(path+".aggregate", "aggregate needs match.path")
		}
		for _, key := range sortedKeys(r.Aggregate) {
			t, tp := r.Aggregate[key], path+".aggregate."+key
			if t == nil || t.Upstream == "" {
				c.add(tp, "aggregate target needs an upstream")
				continue
			}
			if _, ok := cfg.Upstreams[t.Upstream]; !ok {
				c.add(tp+".upstream", "unknown upstream %q", t.Upstream)
			}
			if !strings.HasPrefix(t.Path, "/") {
				c.add(tp+".path", "path %q must start with /", t.Path)
			}
			for _, m := range placeholderRe.FindAllStringSubmatch(t.Path, -1) {
				if !params[m[1]] {
					c.add(tp+".path", "{%s} is not a parameter of match.path", m[1])
				}
			}
		}
	case len(r.Filters) == 0:
		c.add(path, "route has no upstream, aggregate or filters to answer it")
	}
	for i, name := range r.Auth {
		if _, ok := cfg.Auth[name]; !ok {
			c.add(fmt.Sprintf("%s.auth[%d]", path, i), "unknown auth provider %q", name)
		}
	}
	if r.Policy != "" {
		if _, ok := cfg.Policies[r.Policy]; !ok {
			c.add(path+".policy", "unknown policy %q", r.Policy)
		}
	}
	for i, name := range r.Filters {
		if _, ok := cfg.Filters[name]; !ok {
			c.add(fmt.Sprintf("%s.filters[%d]", path, i), "unknown filter %q", name)
		}
	}
	if rl := r.RateLimit; rl != nil {
		c.rateLimit(path+".rate_limit", rl)
	}
	if r.Cache != nil && r.Cache.TTL <= 0 {
		c.add(path+".cache.ttl", "cache needs a positive ttl")
	}
	seenEnc := map[string]bool{}
	for i, enc := range r.Compress {
		switch enc {
		case "zstd", "br", "gzip":
		default:
			c.add(fmt.Sprintf("%s.compress[%d]", path, i), "unknown encoding %q (want zstd, br or gzip)", enc)
		}
		if seenEnc[enc] {
			c.add(fmt.Sprintf("%s.compress[%d]", path, i), "encoding %q listed twice", enc)
		}
		seenEnc[enc] = true
	}
	var dep, sun time.Time
	if r.Deprecation != "" {
		var err error
		if dep, err = time.Parse(time.RFC3339, r.Deprecation); err != nil {
			c.add(path+".deprecation", "deprecation %q is not an RFC 3339 time", r.Deprecation)
		}
	}
	if r.Sunset != "" {
		var err error
		if sun, err = time.Parse(time.RFC3339, r.Sunset); err != nil {
			c.add(path+".sunset", "sunset %q is not an RFC 3339 time", r.Sunset)
		}
	}
	if !dep.IsZero() && !sun.IsZero() && sun.Before(dep) {
		c.add(path+".sunset", "sunset is before deprecation")
	}
}

var placeholderRe = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// match checks a matcher can ever match and returns its path parameters.
func (c *checker) match(path string, m *Match) map[string]bool {
	params := map[string]bool{}
	if m.Path != "" && m.PathPrefix != "" {
		c.add(path, "path and path_prefix cannot both be set")
	}
	if m.Host != "" && !hostRe.MatchString(m.Host) {
		c.add(path+".host", "invalid host %q (a name like api.example.com or *.example.com)", m.Host)
	}
	if m.Path != "" {
		if !strings.HasPrefix(m.Path, "/") {
			c.add(path+".path", "path %q must start with /", m.Path)
		}
		for _, seg := range strings.Split(m.Path, "/") {
			if !strings.ContainsAny(seg, "{}") {
				continue
			}
			pm := paramRe.FindStringSubmatch(seg)
			switch {
			case pm == nil:
				c.add(path+".path", "path segment %q: a parameter is a whole segment like {id}", seg)
			case params[pm[1]]:
				c.add(path+".path", "parameter {%s} appears twice", pm[1])
			default:
				params[pm[1]] = true
			}
		}
	}
	if m.PathPrefix != "" {
		if !strings.HasPrefix(m.PathPrefix, "/") {
			c.add(path+".path_prefix", "path_prefix %q must start with /", m.PathPrefix)
		}
		if strings.ContainsAny(m.PathPrefix, "{}") {
			c.add(path+".path_prefix", "path_prefix %q cannot hold parameters; use path", m.PathPrefix)
		}
	}
	seen := map[string]bool{}
	for i, meth := range m.Methods {
		up := strings.ToUpper(meth)
		if !methodRe.MatchString(up) {
			c.add(fmt.Sprintf("%s.methods[%d]", path, i), "invalid method %q", meth)
		}
		if seen[up] {
			c.add(fmt.Sprintf("%s.methods[%d]", path, i), "method %s listed twice", up)
		}
		seen[up] = true
	}
	for _, name := range sortedKeys(m.Headers) {
		if !tokenRe.MatchString(name) {
			c.add(path+".headers."+name, "invalid header name %q", name)
		}
	}
	return params
}

func (c *checker) rateLimit(path string, rl *RateLimit) {
	if rl.Requests <= 0 {
		c.add(path+".requests", "requests must be positive")
	}
	if rl.Per <= 0 {
		c.add(path+".per", "per must be a positive duration")
	}
	if rl.Burst < 0 {
		c.add(path+".burst", "burst cannot be negative")
	}
	switch rl.Scope {
	case "", ScopeNode, ScopeFleet:
	default:
		c.add(path+".scope", "unknown scope %q (want node or fleet)", rl.Scope)
	}
}

// segmentPrefix reports whether prefix covers whole segments of path.
func segmentPrefix(path, prefix string) bool {
	if prefix == "" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonValue makes a filter's config, decoded from YAML into any, writable as
// the JSON the guest receives: YAML mapping keys that are numbers or
// booleans become their text, and values JSON cannot hold are problems.
func (c *checker) jsonValue(path string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			v[k] = c.jsonValue(path+"."+k, v[k])
		}
		return v
	case map[any]any:
		out := make(map[string]any, len(v))
		keys := make([]string, 0, len(v))
		byKey := make(map[string]any, len(v))
		for k, e := range v {
			ks := keyText(k)
			if _, dup := byKey[ks]; dup {
				c.add(path+"."+ks, "key %q is written twice once keys are text", ks)
			}
			byKey[ks] = e
			keys = append(keys, ks)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out[k] = c.jsonValue(path+"."+k, byKey[k])
		}
		return out
	case []any:
		for i := range v {
			v[i] = c.jsonValue(fmt.Sprintf("%s[%d]", path, i), v[i])
		}
		return v
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			c.add(path, "%v cannot be written as JSON; use a number or a string", v)
		}
	}
	return v
}

// keyText writes a non-string YAML key as JSON object keys must be: text.
func keyText(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case nil:
		return "null"
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64)
	}
	return fmt.Sprint(k)
}
