// Package config holds the YAML schema of a Sluice snapshot, its strict
// decoding (unknown keys are errors reported with their line), validation and
// defaults. One file is one snapshot: the whole desired state of a node.
package config

// Config is one snapshot's desired state, exactly as written in the YAML file.
// Field tags are the contract of DESIGN.md; do not rename them.
type Config struct {
	Upstreams map[string]*Upstream     `yaml:"upstreams" json:"upstreams,omitempty"`
	Filters   map[string]*Filter       `yaml:"filters" json:"filters,omitempty"`
	Policies  map[string]*Policy       `yaml:"policies" json:"policies,omitempty"`
	Auth      map[string]*AuthProvider `yaml:"auth" json:"auth,omitempty"`
	Routes    []*Route                 `yaml:"routes" json:"routes"`
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
	Endpoints   []Endpoint   `yaml:"endpoints" json:"endpoints"`
	Discovery   string       `yaml:"discovery" json:"discovery,omitempty"`
	Balance     string       `yaml:"balance" json:"balance"`
	HashOn      string       `yaml:"hash_on" json:"hash_on,omitempty"`
	HealthCheck *HealthCheck `yaml:"health_check" json:"health_check,omitempty"`
	Outlier     *Outlier     `yaml:"outlier" json:"outlier,omitempty"`
	Retries     *Retries     `yaml:"retries" json:"retries,omitempty"`
	Timeout     Duration     `yaml:"timeout" json:"timeout"`
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
	CA         string `yaml:"ca" json:"ca,omitempty"`     // roots that sign the endpoints' certificates
	Cert       string `yaml:"cert" json:"cert,omitempty"` // client certificate (mutual TLS), with key
	Key        string `yaml:"key" json:"key,omitempty"`
	ServerName string `yaml:"server_name" json:"server_name,omitempty"` // the name checked; default: the endpoint's host
}

// Endpoint is one instance of an upstream. In YAML it is either a bare URL
// string or a mapping {url, weight}.
type Endpoint struct {
	URL    string `yaml:"url" json:"url"`
	Weight int    `yaml:"weight" json:"weight"`
}

// HealthCheck configures active probing of every endpoint.
type HealthCheck struct {
	Path      string   `yaml:"path" json:"path"`
	Interval  Duration `yaml:"interval" json:"interval"`
	Timeout   Duration `yaml:"timeout" json:"timeout"`
	Healthy   int      `yaml:"healthy" json:"healthy"`
	Unhealthy int      `yaml:"unhealthy" json:"unhealthy"`
}

// Outlier configures passive checks: an endpoint answering Consecutive5xx
// server errors (or failing to connect) in a row is ejected for Eject.
type Outlier struct {
	Consecutive5xx int      `yaml:"consecutive_5xx" json:"consecutive_5xx"`
	Eject          Duration `yaml:"eject" json:"eject"`
}

// Retry conditions for Retries.On, besides HTTP status codes written as numbers.
const RetryOnConnectFailure = "connect-failure"

// Retries configures how idempotent requests are retried on another endpoint.
type Retries struct {
	Attempts int      `yaml:"attempts" json:"attempts"`
	On       []string `yaml:"on" json:"on"`
}

// Filter error modes for Filter.OnError.
const (
	FailClosed = "fail_closed"
	FailOpen   = "fail_open"
)

// Filter is a WebAssembly module run on requests and responses.
type Filter struct {
	Module  string       `yaml:"module" json:"module"`
	Config  any          `yaml:"config" json:"config,omitempty"`
	Limits  FilterLimits `yaml:"limits" json:"limits"`
	OnError string       `yaml:"on_error" json:"on_error"`
	// Upstreams is the filter's outbound allow-list: the upstreams its
	// http_call may send a request to (sluice host module); none if empty.
	Upstreams []string `yaml:"upstreams" json:"upstreams,omitempty"`
}

// FilterLimits bound what one filter instance may use.
type FilterLimits struct {
	Memory  Size     `yaml:"memory" json:"memory"`
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// Instances caps the filter's live instances on a node, hence the
	// requests it serves at once (an instance is held from the request
	// phase to the response phase); 0 takes the default.
	Instances int `yaml:"instances" json:"instances,omitempty"`
}

// MaxFilterInstances bounds limits.instances.
const MaxFilterInstances = 4096

// Policy is an OPA Rego policy: a directory of .rego files and data.json.
type Policy struct {
	Module string `yaml:"module" json:"module"`
	Query  string `yaml:"query" json:"query"`
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
	JWT    *JWTAuth    `yaml:"jwt" json:"jwt,omitempty"`
	APIKey *APIKeyAuth `yaml:"api_key" json:"api_key,omitempty"`
}

// JWTAuth verifies bearer tokens against a JWKS.
type JWTAuth struct {
	Issuer    string   `yaml:"issuer" json:"issuer"`
	JWKSURL   string   `yaml:"jwks_url" json:"jwks_url,omitempty"`
	Audiences []string `yaml:"audiences" json:"audiences,omitempty"`
	Secret    string   `yaml:"secret" json:"-"`
}

// APIKeyAuth accepts static keys from a header or a query parameter.
type APIKeyAuth struct {
	Header string            `yaml:"header" json:"header,omitempty"`
	Query  string            `yaml:"query" json:"query,omitempty"`
	Keys   map[string]APIKey `yaml:"keys" json:"-"`
}

// APIKey maps one key to the consumer it identifies.
type APIKey struct {
	Consumer string `yaml:"consumer" json:"consumer"`
}

// Route maps matching requests to an upstream, an aggregation or filters.
type Route struct {
	Name        string                      `yaml:"name" json:"name"`
	Match       Match                       `yaml:"match" json:"match"`
	Rewrite     *Rewrite                    `yaml:"rewrite" json:"rewrite,omitempty"`
	Upstream    string                      `yaml:"upstream" json:"upstream,omitempty"`
	Auth        []string                    `yaml:"auth" json:"auth,omitempty"`
	Policy      string                      `yaml:"policy" json:"policy,omitempty"`
	Filters     []string                    `yaml:"filters" json:"filters,omitempty"`
	RateLimit   *RateLimit                  `yaml:"rate_limit" json:"rate_limit,omitempty"`
	Cache       *Cache                      `yaml:"cache" json:"cache,omitempty"`
	Compress    []string                    `yaml:"compress" json:"compress,omitempty"`
	Timeout     Duration                    `yaml:"timeout" json:"timeout,omitempty"`
	Deprecation string                      `yaml:"deprecation" json:"deprecation,omitempty"`
	Sunset      string                      `yaml:"sunset" json:"sunset,omitempty"`
	Aggregate   map[string]*AggregateTarget `yaml:"aggregate" json:"aggregate,omitempty"`
}

// Match selects requests. Empty fields match everything.
type Match struct {
	Host       string            `yaml:"host" json:"host,omitempty"`
	Path       string            `yaml:"path" json:"path,omitempty"`
	PathPrefix string            `yaml:"path_prefix" json:"path_prefix,omitempty"`
	Methods    []string          `yaml:"methods" json:"methods,omitempty"`
	Headers    map[string]string `yaml:"headers" json:"headers,omitempty"`
}

// Rewrite changes the request before it goes upstream.
type Rewrite struct {
	StripPrefix string `yaml:"strip_prefix" json:"strip_prefix,omitempty"`
}

// Rate limit scopes for RateLimit.Scope.
const (
	ScopeNode  = "node"
	ScopeFleet = "fleet"
)

// RateLimit is a token bucket per key.
type RateLimit struct {
	Requests int      `yaml:"requests" json:"requests"`
	Per      Duration `yaml:"per" json:"per"`
	Burst    int      `yaml:"burst" json:"burst"`
	Key      string   `yaml:"key" json:"key"`
	Scope    string   `yaml:"scope" json:"scope"`
}

// Cache enables the response cache on a route.
type Cache struct {
	TTL Duration `yaml:"ttl" json:"ttl"`
}

// AggregateTarget is one backend call of an aggregating route.
type AggregateTarget struct {
	Upstream string `yaml:"upstream" json:"upstream"`
	Path     string `yaml:"path" json:"path"`
}
