// Package config holds the YAML schema of a Sluice snapshot, its strict
// decoding (unknown keys are errors reported with their line), validation and
// defaults. One file is one snapshot: the whole desired state of a node.
package config

// Config is one snapshot's desired state, exactly as written in the YAML file.
// Field tags are the config contract documented in docs/config.md (generated
// from the doc comments here: go generate ./runtime/config); do not rename
// them.
//
//go:generate go run ../../cmd/config-docs
type Config struct {
	// Upstreams are the services routes send requests to, by name.
	Upstreams map[string]*Upstream `yaml:"upstreams" json:"upstreams,omitempty"`
	// Filters are the WebAssembly filters routes may run, by name.
	Filters map[string]*Filter `yaml:"filters" json:"filters,omitempty"`
	// Policies are the OPA Rego policies routes may ask, by name.
	Policies map[string]*Policy `yaml:"policies" json:"policies,omitempty"`
	// Auth holds the ways callers authenticate, by name; a route lists the
	// ones it accepts.
	Auth map[string]*AuthProvider `yaml:"auth" json:"auth,omitempty"`
	// Routes map requests to upstreams. The most specific match wins (exact
	// path, then the longest prefix, then host, methods and headers); ties
	// go to the first in the list.
	Routes []*Route `yaml:"routes" json:"routes"`
	// Tracing exports OpenTelemetry traces of every node (release 2).
	Tracing *Tracing `yaml:"tracing" json:"tracing,omitempty"`

	// Dir is the directory of the file the config was read from; relative
	// module paths are resolved against it.
	Dir string `yaml:"-" json:"-"`
}

// Tracing sends traces over OTLP/HTTP; incoming W3C trace context is
// continued and passed upstream.
type Tracing struct {
	// OTLP is the collector's base URL (http or https); spans go to
	// OTLP + "/v1/traces".
	OTLP string `yaml:"otlp" json:"otlp"`
	// Sample is the share of new traces recorded (head sampling), 0 to 1;
	// a request that arrives with a sampled parent is always recorded.
	Sample *float64 `yaml:"sample" json:"sample,omitempty"`
	// Service is the service.name resource attribute.
	Service string `yaml:"service" json:"service"`
}

// Balance strategies for Upstream.Balance.
const (
	BalanceRoundRobin     = "round_robin"
	BalanceLeastRequest   = "least_request"
	BalanceP2CEWMA        = "p2c_ewma"
	BalanceConsistentHash = "consistent_hash"
)

// Upstream is a named service: its endpoints and how traffic is spread, checked
// and retried across them.
type Upstream struct {
	// Endpoints are the service's instances: each a URL
	// (http://host:port or https://host:port, nothing after it) or a
	// mapping {url, weight}. Needed unless discovery is set.
	Endpoints []Endpoint `yaml:"endpoints" json:"endpoints"`
	// Discovery adds instances announced at run time: nats takes those
	// announced with `sluice announce` over the fleet's NATS, without a new
	// snapshot.
	Discovery string `yaml:"discovery" json:"discovery,omitempty"`
	// Balance spreads requests over the endpoints: round_robin (smooth,
	// weighted), least_request, p2c_ewma (the better of two by latency) or
	// consistent_hash (with hash_on).
	Balance string `yaml:"balance" json:"balance"`
	// HashOn is what consistent_hash hashes: header:NAME, cookie:NAME or
	// client_ip. Only with balance: consistent_hash, and needed there.
	HashOn HashOn `yaml:"hash_on" json:"hash_on,omitzero"`
	// HealthCheck probes every endpoint actively; an endpoint that fails
	// takes no traffic until it passes again. No block: no active checks.
	HealthCheck *HealthCheck `yaml:"health_check" json:"health_check,omitempty"`
	// Outlier ejects an endpoint that fails requests in a row (passive
	// checks). No block: no ejection.
	Outlier *Outlier `yaml:"outlier" json:"outlier,omitempty"`
	// Retries try idempotent requests again on another endpoint. Without
	// the block a request whose connection failed is tried once more.
	Retries *Retries `yaml:"retries" json:"retries,omitempty"`
	// Timeout bounds one request to the upstream, from sending it to the
	// end of the response headers; past it the client gets 504.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Protocol is what the endpoints speak (release 2): http1 (default),
	// h2c (HTTP/2 by prior knowledge on http:// endpoints) or h2 (HTTP/2
	// over TLS with ALPN, https:// endpoints). gRPC needs h2c or h2.
	Protocol string `yaml:"protocol" json:"protocol,omitempty"`
	// TLS is how the node checks https:// endpoints and presents itself
	// to them (release 2); nil: the system roots, no client certificate.
	TLS *UpstreamTLS `yaml:"tls" json:"tls,omitempty"`
}

// Upstream protocols.
const (
	ProtocolHTTP1 = "http1"
	ProtocolH2C   = "h2c"
	ProtocolH2    = "h2"
)

// UpstreamTLS names PEM files on the node, relative to the config file.
type UpstreamTLS struct {
	CA         string `yaml:"ca" json:"ca,omitempty"`                   // roots that sign the endpoints' certificates
	Cert       string `yaml:"cert" json:"cert,omitempty"`               // client certificate (mutual TLS), with key
	Key        string `yaml:"key" json:"key,omitempty"`                 // the client certificate's private key, with cert
	ServerName string `yaml:"server_name" json:"server_name,omitempty"` // the name checked; default: the endpoint's host
}

// Endpoint is one instance of an upstream. In YAML it is either a bare URL
// string or a mapping {url, weight}.
type Endpoint struct {
	// URL is scheme://host[:port]; the scheme is http or https.
	URL string `yaml:"url" json:"url"`
	// Weight is the endpoint's share of traffic relative to the others,
	// 1 to 1000, for round_robin and consistent_hash.
	Weight int `yaml:"weight" json:"weight"`
}

// HealthCheck configures active probing of every endpoint.
type HealthCheck struct {
	// Path is requested (GET) on each endpoint; a 2xx answer passes.
	Path string `yaml:"path" json:"path"`
	// Interval is the time between probes of one endpoint, 100ms at least.
	Interval Duration `yaml:"interval" json:"interval"`
	// Timeout bounds one probe; at most the interval.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Healthy is how many probes in a row must pass to take an endpoint
	// back.
	Healthy int `yaml:"healthy" json:"healthy"`
	// Unhealthy is how many probes in a row must fail to take an endpoint
	// out.
	Unhealthy int `yaml:"unhealthy" json:"unhealthy"`
}

// Outlier configures passive checks: an endpoint answering Consecutive5xx
// server errors (or failing to connect) in a row is ejected for Eject.
type Outlier struct {
	// Consecutive5xx is how many server errors or failed connections in a
	// row eject an endpoint.
	Consecutive5xx int `yaml:"consecutive_5xx" json:"consecutive_5xx"`
	// Eject is how long an ejected endpoint takes no traffic.
	Eject Duration `yaml:"eject" json:"eject"`
}

// Retry conditions for Retries.On, besides HTTP status codes written as numbers.
const RetryOnConnectFailure = "connect-failure"

// Retries configures how idempotent requests are retried on another endpoint.
type Retries struct {
	// Attempts is how many more times a request may be tried, 0 to 10,
	// each on another endpoint. Only idempotent requests are retried.
	Attempts int `yaml:"attempts" json:"attempts"`
	// On lists what is retried: connect-failure (the request never reached
	// the endpoint) and 5xx statuses written as strings ("503").
	On []string `yaml:"on" json:"on"`
}

// Filter error modes for Filter.OnError.
const (
	FailClosed = "fail_closed"
	FailOpen   = "fail_open"
)

// Filter is a WebAssembly module run on requests and responses.
type Filter struct {
	// Module is the .wasm file, relative to the config file: an http-wasm
	// or a proxy-wasm module, told apart by its exports. The publisher
	// stores it by digest and nodes fetch it.
	Module string `yaml:"module" json:"module"`
	// Config is handed to the filter as JSON (http-wasm get_config; a
	// proxy-wasm filter's plugin configuration, a string as that string);
	// its shape is the filter's own business.
	Config any `yaml:"config" json:"config,omitempty"`
	// Limits bound what each instance of the filter may use.
	Limits FilterLimits `yaml:"limits" json:"limits"`
	// OnError says what a filter that traps, runs out of time or memory
	// does to the request: fail_closed answers 500, fail_open carries on
	// as if the filter were not there.
	OnError string `yaml:"on_error" json:"on_error"`
	// Upstreams is the filter's outbound allow-list: the upstreams its
	// http_call may send a request to (sluice host module); none if empty.
	Upstreams []string `yaml:"upstreams" json:"upstreams,omitempty"`
}

// FilterLimits bound what one filter instance may use.
type FilterLimits struct {
	// Memory caps an instance's linear memory (64KiB to 4GiB: one wasm
	// page to all a 32-bit memory can address); growing past it traps.
	Memory Size `yaml:"memory" json:"memory"`
	// Timeout bounds one call into the filter (one phase of one request).
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Instances caps the filter's live instances on a node, hence the
	// requests it serves at once (an instance is held from the request
	// phase to the response phase); 0 takes the default.
	Instances int `yaml:"instances" json:"instances,omitempty"`
}

// MaxFilterInstances bounds limits.instances.
const MaxFilterInstances = 4096

// MinFilterMemory and MaxFilterMemory bound limits.memory: one wasm page,
// and all a 32-bit wasm memory can address (65536 pages). The wasm host
// checks the same bounds (a test there holds them to its page size).
const (
	MinFilterMemory = 64 << 10
	MaxFilterMemory = 4 << 30
)

// Policy is an OPA Rego policy: a directory of .rego files and data.json.
type Policy struct {
	// Module is a directory of .rego files and an optional data.json,
	// relative to the config file; _test.rego files are left out.
	Module string `yaml:"module" json:"module"`
	// Query is the rule evaluated for each request; it starts with data.
	Query string `yaml:"query" json:"query"`
	// DecisionLog, when set, logs decisions: every deny, and the given
	// fraction of allows.
	DecisionLog *DecisionLog `yaml:"decision_log" json:"decision_log,omitempty"`
}

// DecisionLog configures a policy's decision log.
type DecisionLog struct {
	// Sample is the fraction of allowed requests logged, 0 to 1; denies
	// and errors are always logged.
	Sample float64 `yaml:"sample" json:"sample"`
}

// AuthProvider is one way to authenticate a caller; exactly one field is set.
type AuthProvider struct {
	// JWT accepts bearer tokens (Authorization: Bearer ...) signed by the
	// issuer.
	JWT *JWTAuth `yaml:"jwt" json:"jwt,omitempty"`
	// APIKey accepts static keys, each naming a consumer.
	APIKey *APIKeyAuth `yaml:"api_key" json:"api_key,omitempty"`
}

// JWTAuth verifies bearer tokens against a JWKS.
type JWTAuth struct {
	// Issuer must equal the token's iss claim.
	Issuer string `yaml:"issuer" json:"issuer"`
	// JWKSURL is where the issuer's public keys are fetched (RS256, ES256,
	// EdDSA); keys are cached by kid and kept when the URL is down. Set
	// exactly one of jwks_url and secret.
	JWKSURL string `yaml:"jwks_url" json:"jwks_url,omitempty"`
	// Audiences, when set, must hold one of the token's aud values.
	Audiences []string `yaml:"audiences" json:"audiences,omitempty"`
	// Secret is a shared HS256 key, for issuers without a JWKS. It is
	// never shown by the admin API.
	Secret string `yaml:"secret" json:"-"`
}

// APIKeyAuth accepts static keys from a header or a query parameter.
type APIKeyAuth struct {
	// Header carrying the key. Set header or query, not both.
	Header string `yaml:"header" json:"header,omitempty"`
	// Query is the query parameter carrying the key, instead of a header.
	Query string `yaml:"query" json:"query,omitempty"`
	// Keys are the accepted keys; a node keeps only their hashes.
	Keys map[string]APIKey `yaml:"keys" json:"-"`
}

// APIKey maps one key to the consumer it identifies.
type APIKey struct {
	// Consumer names who holds the key, for policies (auth.consumer),
	// rate limits (key: consumer) and logs.
	Consumer string `yaml:"consumer" json:"consumer"`
}

// Route maps matching requests to an upstream, an aggregation or filters.
type Route struct {
	// Name identifies the route in metrics, logs, traces and the cache
	// purge API; unique in the config.
	Name string `yaml:"name" json:"name"`
	// Match selects the requests the route takes.
	Match Match `yaml:"match" json:"match"`
	// Rewrite changes the request before it goes upstream.
	Rewrite *Rewrite `yaml:"rewrite" json:"rewrite,omitempty"`
	// Upstream answers the route's requests. A route has an upstream, an
	// aggregate, or only filters that answer by themselves.
	Upstream string `yaml:"upstream" json:"upstream,omitempty"`
	// Auth lists providers of auth, any one of which lets a caller in;
	// none passing is a 401. Empty: no authentication.
	Auth []string `yaml:"auth" json:"auth,omitempty"`
	// Policy names the policy that decides, after auth, whether the request
	// goes on (a deny is 403 or the decision's status).
	Policy string `yaml:"policy" json:"policy,omitempty"`
	// Filters run in this order on the request and in reverse order on the
	// response.
	Filters []string `yaml:"filters" json:"filters,omitempty"`
	// RateLimit is a token bucket per key, checked after auth and policy;
	// a refused request gets 429 with Retry-After.
	RateLimit *RateLimit `yaml:"rate_limit" json:"rate_limit,omitempty"`
	// Cache stores the upstream's cacheable GET responses in the node's
	// memory, following HTTP caching rules.
	Cache *Cache `yaml:"cache" json:"cache,omitempty"`
	// Compress lists the encodings offered (zstd, br, gzip), the first
	// breaking ties between equal client preferences.
	Compress []string `yaml:"compress" json:"compress,omitempty"`
	// Timeout bounds the whole request on this route (aggregation waits
	// this long for its backends); unset: the upstream's timeout.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Deprecation (an RFC 3339 time) adds a Deprecation header to every
	// response of the route.
	Deprecation string `yaml:"deprecation" json:"deprecation,omitempty"`
	// Sunset (an RFC 3339 time, not before deprecation) adds a Sunset
	// header to every response of the route.
	Sunset string `yaml:"sunset" json:"sunset,omitempty"`
	// Aggregate answers with one JSON object merging the answers of several
	// backends, called in parallel, under their names. Needs match.path.
	Aggregate map[string]*AggregateTarget `yaml:"aggregate" json:"aggregate,omitempty"`
}

// Match selects requests. Empty fields match everything.
type Match struct {
	// Host is an exact name or a wildcard (*.example.com), compared without
	// case or port.
	Host string `yaml:"host" json:"host,omitempty"`
	// Path matches one path exactly; a whole segment written {name} matches
	// any segment and is available as a parameter. Not with path_prefix.
	Path string `yaml:"path" json:"path,omitempty"`
	// PathPrefix matches a path and everything under it, on segment
	// boundaries (/users takes /users/1, not /usersx).
	PathPrefix string `yaml:"path_prefix" json:"path_prefix,omitempty"`
	// Methods the route takes (any case); empty: every method.
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// Headers that must be present with exactly these values.
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
}

// Rewrite changes the request before it goes upstream.
type Rewrite struct {
	// StripPrefix is removed from the front of the path before it goes
	// upstream; it must be a segment prefix of the route's path or prefix.
	StripPrefix string `yaml:"strip_prefix" json:"strip_prefix,omitempty"`
}

// Rate limit scopes for RateLimit.Scope.
const (
	ScopeNode  = "node"
	ScopeFleet = "fleet"
)

// RateLimit is a token bucket per key.
type RateLimit struct {
	// Requests is how many requests each key may make per period.
	Requests int `yaml:"requests" json:"requests"`
	// Per is the period the requests refill over.
	Per Duration `yaml:"per" json:"per"`
	// Burst is how many requests a key may make beyond the rate after
	// being idle: the bucket holds requests + burst.
	Burst int `yaml:"burst" json:"burst"`
	// Key is what gets its own bucket: client_ip, consumer (the API key's
	// consumer or the token's subject), header:NAME or claim:NAME.
	Key RateKey `yaml:"key" json:"key"`
	// Scope is node (buckets in each node's memory) or fleet (one limit
	// shared by every node over NATS).
	Scope string `yaml:"scope" json:"scope"`
}

// Cache enables the response cache on a route.
type Cache struct {
	// TTL is how long a response without its own freshness is kept, and
	// the most any response is kept.
	TTL Duration `yaml:"ttl" json:"ttl"`
}

// AggregateTarget is one backend call of an aggregating route.
type AggregateTarget struct {
	// Upstream is called for this part of the answer.
	Upstream string `yaml:"upstream" json:"upstream"`
	// Path (with query) is requested from it; {name} parameters of the
	// route's match.path are filled in.
	Path string `yaml:"path" json:"path"`
}
