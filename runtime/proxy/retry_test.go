package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicegw/sluice/runtime/config"
)

func TestRetryConnectFailureAnyMethodWithoutBody(t *testing.T) {
	b := startUpstream(t, "b", nil)
	cfg := upstreamCfg("", deadURL(t), b.URL)
	cfg.Retries = &config.Retries{Attempts: 1, On: []string{config.RetryOnConnectFailure}}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)

	for i := range 6 {
		if res := do(t, client, "POST", url+"/", nil, nil); res.status != 200 || res.upstream != "b" {
			t.Fatalf("POST %d without a body: %d from %q, want 200 from b after a retry", i, res.status, res.upstream)
		}
	}
}

func TestRetryOn503GoesToAnotherEndpoint(t *testing.T) {
	// Both balancers would send a retry straight back to the endpoint that
	// failed (a's weight, b's ring position) unless tried ones are avoided.
	for _, balance := range []string{config.BalanceRoundRobin, config.BalanceConsistentHash} {
		t.Run(balance, func(t *testing.T) {
			var mu sync.Mutex
			path := map[string][]string{} // request id → upstreams in order
			record := func(name string, status int) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					id := r.Header.Get("X-Request-Id")
					path[id] = append(path[id], name)
					mu.Unlock()
					w.WriteHeader(status)
					fmt.Fprint(w, name)
				}
			}
			a := startUpstream(t, "a", record("a", 503))
			b := startUpstream(t, "b", record("b", 503))
			c := startUpstream(t, "c", record("c", 200))
			cfg := upstreamCfg(balance)
			cfg.Endpoints = []config.Endpoint{{URL: a.URL, Weight: 5}, {URL: b.URL, Weight: 5}, {URL: c.URL, Weight: 1}}
			cfg.HashOn = hashOn(t, "header:X-Request-Id")
			cfg.Retries = &config.Retries{Attempts: 2, On: []string{"503"}}
			p, _ := newTestPool(t, cfg)
			url := startProxy(t, p, ForwardOptions{})
			client := newClient(t)

			for i := range 12 {
				id := fmt.Sprint("req-", i)
				res := do(t, client, "GET", url+"/", nil, map[string]string{"X-Request-Id": id})
				mu.Lock()
				tries := path[id]
				mu.Unlock()
				if res.status != 200 || res.body != "c" {
					t.Fatalf("%s: %d %q after %v, want 200 from c", id, res.status, res.body, tries)
				}
				seen := map[string]bool{}
				for _, u := range tries {
					if seen[u] {
						t.Fatalf("%s was retried on %s twice: %v", id, u, tries)
					}
					seen[u] = true
				}
			}
			if a.hits.Load() == 0 || b.hits.Load() == 0 {
				t.Fatalf("retries never started on a (%d) or b (%d)", a.hits.Load(), b.hits.Load())
			}
		})
	}
}

func TestRetriesExhaustedPassUpstreamAnswer(t *testing.T) {
	busy := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "busy-"+name)
		}
	}
	a := startUpstream(t, "a", busy("a"))
	b := startUpstream(t, "b", busy("b"))
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.Retries = &config.Retries{Attempts: 1, On: []string{"503"}}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})

	res := do(t, newClient(t), "GET", url+"/", nil, nil)
	if res.status != 503 || res.body != "busy-b" {
		t.Fatalf("got %d %q, want the last upstream's own 503 (busy-b)", res.status, res.body)
	}
	if n := a.hits.Load() + b.hits.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}

func TestRetriesEndingInConnectFailureAre502(t *testing.T) {
	a := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	cfg := upstreamCfg("", a.URL, deadURL(t)) // round robin starts with a
	cfg.Retries = &config.Retries{Attempts: 1, On: []string{config.RetryOnConnectFailure, "503"}}
	p, _ := newTestPool(t, cfg)

	rec := httptest.NewRecorder()
	err := p.Forward(rec, httptest.NewRequest("GET", "/", nil), ForwardOptions{})
	if got := statusOf(t, err); got != http.StatusBadGateway {
		t.Fatalf("Forward: status %d (%v), want 502", got, err)
	}
	if a.hits.Load() != 1 || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Fatalf("a hit %d times, recorder got %q %v; want one 503 drained and nothing written", a.hits.Load(), rec.Body, rec.Header())
	}
}

func TestNoRetryForPOSTWithBody(t *testing.T) {
	a := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
	})
	b := startUpstream(t, "b", nil)
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.Retries = &config.Retries{Attempts: 2, On: []string{config.RetryOnConnectFailure, "502", "503"}}
	p, _ := newTestPool(t, cfg)
	url := startProxy(t, p, ForwardOptions{})
	client := newClient(t)

	statuses := map[int]int{}
	for range 4 {
		statuses[do(t, client, "POST", url+"/", strings.NewReader("payload"), nil).status]++
	}
	if statuses[503] != 2 || statuses[200] != 2 || a.hits.Load()+b.hits.Load() != 4 {
		t.Fatalf("statuses %v after %d upstream hits: a POST with a body must not be retried", statuses, a.hits.Load()+b.hits.Load())
	}

	// Not even with a replayable body, nor without one: a POST that reached
	// the upstream may have taken effect.
	a.hits.Store(0)
	b.hits.Store(0)
	for _, body := range []string{"payload", ""} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		fresh, _ := newTestPool(t, cfg) // round robin starts with a
		rec := httptest.NewRecorder()
		if err := fresh.Forward(rec, r, ForwardOptions{}); err != nil || rec.Code != 503 {
			t.Fatalf("POST %q: %v %d, want a's 503 passed through", body, err, rec.Code)
		}
	}
	if a.hits.Load() != 2 || b.hits.Load() != 0 {
		t.Fatalf("POSTs retried: a %d, b %d hits", a.hits.Load(), b.hits.Load())
	}

	// Not even on a connect failure: the body cannot be sent again.
	cfg2 := upstreamCfg("", deadURL(t), b.URL)
	cfg2.Retries = cfg.Retries
	p2, _ := newTestPool(t, cfg2)
	url2 := startProxy(t, p2, ForwardOptions{})
	if res := do(t, client, "POST", url2+"/", strings.NewReader("payload"), nil); res.status != http.StatusBadGateway {
		t.Fatalf("POST with a body to a dead endpoint: %d, want 502 without retry", res.status)
	}
}

func TestRetryReplaysBodyWithGetBody(t *testing.T) {
	a := startUpstream(t, "a", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
	})
	b := startUpstream(t, "b", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) })
	cfg := upstreamCfg("", a.URL, b.URL)
	cfg.Retries = &config.Retries{Attempts: 1, On: []string{"503"}}
	p, _ := newTestPool(t, cfg)

	payload := []byte("replayable body")
	r := httptest.NewRequest("PUT", "/", bytes.NewReader(payload))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	rec := httptest.NewRecorder()
	if err := p.Forward(rec, r, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Body.String() != string(payload) || a.hits.Load() != 1 {
		t.Fatalf("got %d %q (a hit %d times), want b to echo the replayed body", rec.Code, rec.Body, a.hits.Load())
	}
}
