package config

import (
	"strings"
	"time"
)

// Defaults, chosen to be safe for a production edge; RATIONALE.md says why.
const (
	DefaultUpstreamTimeout    = 30 * time.Second
	DefaultHealthPath         = "/healthz"
	DefaultHealthInterval     = 5 * time.Second
	DefaultHealthTimeout      = 1 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 2
	DefaultOutlier5xx         = 5
	DefaultOutlierEject       = 30 * time.Second
	// The filter limits are also the wasm host's own defaults
	// (filter.DefaultMemoryLimit, filter.DefaultTimeout), so that
	// `sluice filter build` and `sluice filter test` check a filter
	// against the limits a node gives it. Defined here only.
	DefaultFilterMemory  = 16 << 20
	DefaultFilterTimeout = 50 * time.Millisecond
	DefaultPolicyQuery   = "data.sluice.authz.decision"
	DefaultAPIKeyHeader  = "X-API-Key"
	// DefaultTraceService names the nodes in traces.
	DefaultTraceService = "sluice"
)

// MaxBytes bounds a config file: the snapshot carries it as written to
// every node in one NATS message, whose default limit is 1 MiB.
const MaxBytes = 512 << 10

// DefaultTraceSample records every new trace: a tracing block without
// sample asks for traces, and a ratio below 1 is a choice to write down.
const DefaultTraceSample = 1.0

// applyDefaults fills what the file left out. It runs after validation, so
// it can assume every value it reads is well-formed.
func applyDefaults(cfg *Config) {
	if t := cfg.Tracing; t != nil {
		if t.Sample == nil {
			all := DefaultTraceSample
			t.Sample = &all
		}
		setDefault(&t.Service, DefaultTraceService)
		t.OTLP = strings.TrimSuffix(t.OTLP, "/")
	}
	for _, u := range cfg.Upstreams {
		if u.Balance == "" {
			u.Balance = BalanceRoundRobin
		}
		if u.Timeout == 0 {
			u.Timeout = Duration(DefaultUpstreamTimeout)
		}
		for i := range u.Endpoints {
			if u.Endpoints[i].Weight == 0 {
				u.Endpoints[i].Weight = 1
			}
			u.Endpoints[i].URL = strings.TrimSuffix(u.Endpoints[i].URL, "/")
		}
		if hc := u.HealthCheck; hc != nil {
			setDefault(&hc.Path, DefaultHealthPath)
			setDefault(&hc.Interval, Duration(DefaultHealthInterval))
			setDefault(&hc.Timeout, min(Duration(DefaultHealthTimeout), hc.Interval))
			setDefault(&hc.Healthy, DefaultHealthyThreshold)
			setDefault(&hc.Unhealthy, DefaultUnhealthyThreshold)
		}
		if o := u.Outlier; o != nil {
			setDefault(&o.Consecutive5xx, DefaultOutlier5xx)
			setDefault(&o.Eject, Duration(DefaultOutlierEject))
		}
		// Without a retries block, a request that never reached an
		// endpoint (the connection failed) is tried once more elsewhere:
		// it is always safe and hides a single dead instance.
		if u.Retries == nil {
			u.Retries = &Retries{Attempts: 1, On: []string{RetryOnConnectFailure}}
		} else if len(u.Retries.On) == 0 {
			u.Retries.On = []string{RetryOnConnectFailure, "502", "503", "504"}
		}
	}
	for _, f := range cfg.Filters {
		setDefault(&f.Limits.Memory, Size(DefaultFilterMemory))
		setDefault(&f.Limits.Timeout, Duration(DefaultFilterTimeout))
		setDefault(&f.OnError, FailClosed)
	}
	for _, p := range cfg.Policies {
		setDefault(&p.Query, DefaultPolicyQuery)
	}
	for _, a := range cfg.Auth {
		if k := a.APIKey; k != nil && k.Query == "" {
			setDefault(&k.Header, DefaultAPIKeyHeader)
		}
	}
	for _, r := range cfg.Routes {
		for i, m := range r.Match.Methods {
			r.Match.Methods[i] = strings.ToUpper(m)
		}
		r.Match.Host = strings.ToLower(r.Match.Host)
		if rl := r.RateLimit; rl != nil {
			setDefault(&rl.Key, RateKey{Kind: RateKeyClientIP})
			setDefault(&rl.Scope, ScopeNode)
		}
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
