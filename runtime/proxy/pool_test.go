package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestNewPoolRefusesWhatItCannotRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*config.Upstream)
		want string
	}{
		{"scheme", func(u *config.Upstream) { u.Endpoints[1].URL = "ftp://x:21" }, `endpoints[1] "ftp://x:21"`},
		{"no host", func(u *config.Upstream) { u.Endpoints[1].URL = "http://" }, `endpoints[1] "http://"`},
		{"path", func(u *config.Upstream) { u.Endpoints[1].URL = "http://h/base" }, "scheme://host[:port] only"},
		{"unparsable", func(u *config.Upstream) { u.Endpoints[1].URL = "http://[::1" }, `endpoints[1] "http://[::1"`},
		{"balance", func(u *config.Upstream) { u.Balance = "random" }, `unknown balance "random"`},
		{"hash_on", func(u *config.Upstream) {
			u.Balance, u.HashOn = config.BalanceConsistentHash, config.HashOn{Kind: "query", Name: "x"}
		}, `hash_on "query:x"`},
		{"retry", func(u *config.Upstream) { u.Retries = &config.Retries{Attempts: 1, On: []string{"reset"}} }, `on[0]: unknown condition "reset"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := upstreamCfg("", "http://127.0.0.1:1", "http://127.0.0.1:2")
			tc.edit(cfg)
			_, err := NewPool("users", cfg, Options{})
			if err == nil || !strings.Contains(err.Error(), `upstream "users"`) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming the upstream and %q", err, tc.want)
			}
		})
	}
}

func TestEndpointsReportsState(t *testing.T) {
	cfg := upstreamCfg("", "http://127.0.0.1:1", "http://127.0.0.1:2")
	cfg.Endpoints[1].Weight = 3
	p, _ := newTestPool(t, cfg)
	p.endpoints[0].healthy.Store(false)
	p.endpoints[1].ejectedUntil.Store(monotonic() + int64(time.Minute))
	p.endpoints[1].inflight.Store(2)
	got := p.Endpoints()
	want := []EndpointState{
		{URL: "http://127.0.0.1:1", Weight: 1, Healthy: false},
		{URL: "http://127.0.0.1:2", Weight: 3, Healthy: true, Ejected: true, InFlight: 2},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || p.Name() != "svc" {
		t.Fatalf("Endpoints() = %+v, want %+v", got, want)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	var probes atomic.Int64
	ln := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			probes.Add(1)
		}
	})
	cfg := upstreamCfg("", ln.URL, deadURL(t))
	cfg.HealthCheck = fastHealthCheck()
	cfg.HealthCheck.Timeout = config.Duration(time.Second)
	p, err := NewPool("svc", cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	p.Start() // a second Start must not start a second set of checks
	testkit.WaitFor(t, 5*time.Second, "health checks to run", func() bool { return probes.Load() >= 3 })
	for range 5 {
		if err := p.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	_ = ln.srv.Close()

	n := probes.Load()
	testkit.Eventually(t, 5*time.Second, "the pool's goroutines to end after Close", func() (bool, string) {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			return false, fmt.Sprintf("%d goroutines, %d before the pool:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return true, ""
	})
	// No check goroutine is left (above), so no probe can start any more.
	// One probe may have been on the wire when Close cancelled it: the
	// server can still hand it to the handler after Close returned.
	if late := probes.Load() - n; late > 1 {
		t.Fatalf("%d probes after Close: health checks kept running", late)
	}
}
