package proxy

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// grpcTimeoutOf is r's grpc-timeout as a duration (0 when it has none).
func grpcTimeoutOf(t *testing.T, r *http.Request) time.Duration {
	d, ok := grpcTimeout(r)
	if !ok {
		t.Errorf("upstream got grpc-timeout %q", r.Header.Get("Grpc-Timeout"))
	}
	return d
}

// TestGRPCTimeoutLeftPerAttempt: each attempt tells the upstream what is
// left of the call's deadline when it is sent. The first attempt takes
// 200 ms to fail with a 503 and is retried on the other endpoint, which must
// be told at least 200 ms less than the first, and something.
func TestGRPCTimeoutLeftPerAttempt(t *testing.T) {
	const firstTakes = 200 * time.Millisecond
	var mu sync.Mutex
	var got []time.Duration
	h := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, grpcTimeoutOf(t, r))
		first := len(got) == 1
		mu.Unlock()
		if first {
			time.Sleep(firstTakes) // the first attempt's share of the budget; not a wait for an event
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
	}
	a, b := startUpstream(t, "a", h), startUpstream(t, "b", h)
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.Retries = &config.Retries{Attempts: 1, On: []string{"503"}}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})

	// A GET without a body, so the 503 may be retried.
	res := do(t, newH2CClient(t), "GET", url+"/svc/M", nil, map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "2S"})
	if res.status != http.StatusOK {
		t.Fatalf("status %d %s, want the retry's 200", res.status, res.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d attempts, want 2", len(got))
	}
	if got[0] <= 0 || got[0] > 2*time.Second {
		t.Errorf("first attempt told %v, want at most the client's 2s", got[0])
	}
	if got[1] <= 0 || got[1] > got[0]-firstTakes {
		t.Errorf("retry told %v after the first (told %v) took %v; want what is left", got[1], got[0], firstTakes)
	}
}

// TestGRPCTimeoutBoundedByRoute: a route timeout shorter than the call's
// deadline is what the upstream is told.
func TestGRPCTimeoutBoundedByRoute(t *testing.T) {
	var told atomic.Int64
	up := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) { told.Store(int64(grpcTimeoutOf(t, r))) })
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	url := startProxy(t, p, ForwardOptions{Timeout: 700 * time.Millisecond})
	res := do(t, newH2CClient(t), "POST", url+"/svc/M", nil, map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": "20S"})
	if d := time.Duration(told.Load()); res.status != http.StatusOK || d <= 0 || d > 700*time.Millisecond {
		t.Errorf("status %d, upstream told %v; want at most the route's 700ms", res.status, d)
	}
}

// TestGRPCDeadlineSpentBeforeForward: a call whose deadline passed while
// the node worked on it (received 1 s ago, 500 ms budget) is answered 504,
// DEADLINE_EXCEEDED to a gRPC client, and the upstream is not called.
func TestGRPCDeadlineSpentBeforeForward(t *testing.T) {
	up := startUpstream(t, "a", nil)
	p, _ := newTestPool(t, upstreamCfg("", up.URL))
	fwd := forwardHandler(p, ForwardOptions{})
	srv := startHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwd.ServeHTTP(w, r.WithContext(WithReceivedAt(r.Context(), time.Now().Add(-time.Second))))
	}))
	for _, timeout := range []string{"500m", "0n"} {
		res := do(t, newH2CClient(t), "POST", srv+"/svc/M", nil, map[string]string{"Content-Type": "application/grpc", "Grpc-Timeout": timeout})
		if res.status != http.StatusGatewayTimeout || !contains(res.body, reasonDeadlineSpent) {
			t.Errorf("grpc-timeout %s: %d %s, want 504: %s", timeout, res.status, res.body, reasonDeadlineSpent)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Errorf("the upstream was called %d times", n)
	}
}
