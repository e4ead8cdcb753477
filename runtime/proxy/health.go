package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// healthChecker probes every endpoint of a pool on its own goroutine: GET
// path every interval, each probe bounded by timeout. An endpoint leaves
// rotation after `unhealthy` failures in a row and returns after `healthy`
// successes in a row, so one lost probe does not flap it.
type healthChecker struct {
	pool      *Pool
	path      string
	interval  time.Duration
	timeout   time.Duration
	healthy   int
	unhealthy int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newHealthChecker(p *Pool, hc *config.HealthCheck) (*healthChecker, error) {
	h := &healthChecker{
		pool:      p,
		path:      hc.Path,
		interval:  hc.Interval.D(),
		timeout:   hc.Timeout.D(),
		healthy:   max(hc.Healthy, 1),
		unhealthy: max(hc.Unhealthy, 1),
	}
	switch {
	case h.interval <= 0:
		return nil, fmt.Errorf("interval must be positive, got %v", h.interval)
	case h.path == "" || h.path[0] != '/':
		return nil, fmt.Errorf("path %q must start with /", h.path)
	}
	if h.timeout <= 0 || h.timeout > h.interval {
		h.timeout = h.interval
	}
	return h, nil
}

func (h *healthChecker) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	for _, e := range h.pool.endpoints {
		h.wg.Add(1)
		go h.loop(ctx, e)
	}
}

// stop cancels in-flight probes and waits for every goroutine to return.
func (h *healthChecker) stop() {
	if h.cancel == nil {
		return // never started
	}
	h.cancel()
	h.wg.Wait()
}

// loop probes e at once, then every interval, until ctx is canceled.
func (h *healthChecker) loop(ctx context.Context, e *endpoint) {
	defer h.wg.Done()
	url := e.scheme + "://" + e.host + h.path
	t := time.NewTicker(h.interval)
	defer t.Stop()
	var successes, failures int
	for {
		err := h.probe(ctx, url)
		if ctx.Err() != nil {
			return // stopped mid-probe: the failure is ours, not the endpoint's
		}
		if err == nil {
			failures = 0
			successes++
			if !e.healthy.Load() && successes >= h.healthy {
				e.healthy.Store(true)
				e.log.Info("endpoint healthy again", "checks", successes)
			}
		} else {
			successes = 0
			failures++
			if e.healthy.Load() && failures >= h.unhealthy {
				e.healthy.Store(false)
				e.log.Warn("endpoint unhealthy, out of rotation", "checks", failures, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errProbeStatus is a health check answered with a status outside 2xx/3xx.
var errProbeStatus = errors.New("health check status")

// probe sends one GET and reports why it failed, or nil for 2xx/3xx.
// Redirects are not followed: a 3xx proves the service is up.
func (h *healthChecker) probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "sluice-health-check")
	resp, err := h.pool.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	// Drain a little so the connection can be reused for the next probe.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("%w %d", errProbeStatus, resp.StatusCode)
	}
	return nil
}
