package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// sickable serves its name, and /healthz as 200 or, while sick, 503.
func sickable(t *testing.T, name string, sick *atomic.Bool) *upstream {
	return startUpstream(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		_, _ = w.Write([]byte(name))
	})
}

func fastHealthCheck() *config.HealthCheck {
	return &config.HealthCheck{
		Path:      "/healthz",
		Interval:  config.Duration(5 * time.Millisecond),
		Timeout:   config.Duration(5 * time.Millisecond),
		Healthy:   2,
		Unhealthy: 2,
	}
}

func TestHealthCheckTakesEndpointOutAndBack(t *testing.T) {
	var sickA, sickB atomic.Bool
	a := sickable(t, "a", &sickA)
	b := sickable(t, "b", &sickB)
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.HealthCheck = fastHealthCheck()
	cfg.HealthCheck.Timeout = config.Duration(time.Second)
	p, logs := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)
	p.Start()

	if got := counts(t, client, url+"/", 4); got["a"] != 2 || got["b"] != 2 {
		t.Fatalf("healthy pool spread %v", got)
	}
	sickA.Store(true)
	testkit.WaitFor(t, 5*time.Second, "a to be marked unhealthy", func() bool { return !p.Endpoints()[0].Healthy })
	if got := counts(t, client, url+"/", 6); got["b"] != 6 {
		t.Fatalf("with a unhealthy, traffic went %v", got)
	}
	if !contains(logs.String(), "endpoint unhealthy") {
		t.Fatalf("transition to unhealthy not logged")
	}
	sickA.Store(false)
	testkit.WaitFor(t, 5*time.Second, "a to be healthy again", func() bool { return p.Endpoints()[0].Healthy })
	if got := counts(t, client, url+"/", 4); got["a"] == 0 {
		t.Fatalf("a recovered but got no traffic: %v", got)
	}
	if !contains(logs.String(), "endpoint healthy again") {
		t.Fatalf("transition to healthy not logged")
	}
}

func TestHealthCheckTimeoutCountsAsFailure(t *testing.T) {
	hang := startUpstream(t, "hang", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			<-r.Context().Done() // never answers in time
		}
	})
	cfg := upstreamCfg("", hang.URL)
	cfg.HealthCheck = fastHealthCheck()
	p, _ := newTestPool(t, cfg)
	p.Start()
	testkit.WaitFor(t, 5*time.Second, "a hanging health check to mark the endpoint unhealthy", func() bool {
		return !p.Endpoints()[0].Healthy
	})
}

func TestAllUnhealthyIs503(t *testing.T) {
	var sick atomic.Bool
	sick.Store(true)
	a := sickable(t, "a", &sick)
	cfg := upstreamCfg("", a.URL)
	cfg.HealthCheck = fastHealthCheck()
	cfg.HealthCheck.Timeout = config.Duration(time.Second)
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)
	if got := p.Endpoints()[0]; !got.Healthy {
		t.Fatalf("before the first check an endpoint must count as healthy: %+v", got)
	}
	p.Start()
	testkit.WaitFor(t, 5*time.Second, "a to be marked unhealthy", func() bool { return !p.Endpoints()[0].Healthy })

	res := do(t, client, "GET", url+"/", nil, map[string]string{"X-Request-Id": "r-1"})
	if res.status != http.StatusServiceUnavailable || !contains(res.body, `"request_id":"r-1"`) || !contains(res.body, "no healthy upstream") {
		t.Fatalf("got %d %q, want a 503 JSON error", res.status, res.body)
	}
	if n := a.hits.Load(); n != 0 {
		t.Fatalf("unhealthy endpoint still received %d requests", n)
	}
}
