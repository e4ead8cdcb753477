package edge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/filter"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// gatedUpstream holds every request until the test opens its gate,
// counting those that arrived. Opening lets the waiting ones go; later ones
// wait for the next opening (all go once the test ends).
type gatedUpstream struct {
	*upstream
	arrived atomic.Int64
	mu      sync.Mutex
	gate    chan struct{}
	ended   bool
}

func startGatedUpstream(t *testing.T) *gatedUpstream {
	g := &gatedUpstream{gate: make(chan struct{})}
	g.upstream = startUpstream(t, "gated", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gate := g.current()
		g.arrived.Add(1)
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(g.end)
	return g
}

// end lets every request through, now and later. Register it (t.Cleanup)
// after starting the node too, so a failed test does not leave the node's
// shutdown waiting for requests held at the gate.
func (g *gatedUpstream) end() {
	g.mu.Lock()
	was := g.ended
	g.ended = true
	g.mu.Unlock()
	if !was {
		g.open()
	}
}

func (g *gatedUpstream) current() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gate
}

func (g *gatedUpstream) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.gate = make(chan struct{})
	if g.ended {
		close(g.gate) // never block again
	}
}

// statemarkNode serves testdata/wasm/statemark.wat twice through the gated
// upstream: as "pinned" on /p (no declaration, like any third-party guest)
// and as "unpinned" on /u (configured to declare FeatureStateless).
func statemarkNode(t *testing.T, up *gatedUpstream, limits string) *testNode {
	defer t.Cleanup(up.end)
	return startNode(t, render(t, `
upstreams: {gated: {endpoints: ["{{.Up}}"]}}
filters:
  pinned: {module: "{{.Mark}}"`+limits+`}
  unpinned: {module: "{{.Mark}}", config: {stateless: true}`+limits+`}
routes:
  - {name: p, match: {path_prefix: /p}, upstream: gated, filters: [pinned]}
  - {name: u, match: {path_prefix: /u}, upstream: gated, filters: [unpinned]}
`, map[string]string{"Up": up.url, "Mark": testkit.WATFile(t, "statemark")}))
}

// TestUnpinnedFilterPhasesOnTwoInstances: while a request is at the
// upstream, the test takes every idle instance of its filter. A stateless
// filter's instance went back to the pool after handle_request, so its
// handle_response runs on another instance (the guest finds none of the
// state it left: x-state "lost"), with the reqCtx its handle_request
// returned; a pinned filter's runs on its own instance ("kept").
func TestUnpinnedFilterPhasesOnTwoInstances(t *testing.T) {
	up := startGatedUpstream(t)
	n := statemarkNode(t, up, `, limits: {instances: 8}`)
	for _, tc := range []struct{ filter, path, state string }{
		{"pinned", "/p", "kept"},
		{"unpinned", "/u", "lost"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			m := n.Current().modules[tc.filter]
			if m.Pinned() != (tc.filter == "pinned") {
				t.Fatalf("%s loaded with Pinned() = %v", tc.filter, m.Pinned())
			}
			before := up.arrived.Load()
			type result struct {
				resp *http.Response
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := http.Get(n.url + tc.path)
				if err == nil {
					resp.Body.Close()
				}
				done <- result{resp, err}
			}()
			testkit.WaitFor(t, 10*time.Second, "the request at the upstream", func() bool { return up.arrived.Load() > before })
			var held []*filter.Instance
			for m.Stats().Idle > 0 {
				i, err := m.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, i)
			}
			if tc.filter == "unpinned" && len(held) == 0 {
				t.Fatal("the unpinned filter's instance was not back in its pool while the upstream answered")
			}
			up.open()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("no response")
			}
			for _, i := range held {
				m.Release(i)
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.resp.StatusCode != 200 || r.resp.Header.Get("X-Ctx") != "7" {
				t.Errorf("status %d, x-ctx %q (reqCtx not handed to handle_response)", r.resp.StatusCode, r.resp.Header.Get("X-Ctx"))
			}
			if got := r.resp.Header.Get("X-State"); got != tc.state {
				t.Errorf("x-state %q, want %q", got, tc.state)
			}
		})
	}
}

// TestUnpinnedFilterInstancesFollowCores: under N concurrent requests
// waiting at a slow upstream, a pinned filter holds one instance per
// request in flight, while a stateless filter's instances stay within its
// default cap of GOMAXPROCS, since each is busy only inside a guest call;
// every request still gets its response phase.
func TestUnpinnedFilterInstancesFollowCores(t *testing.T) {
	up := startGatedUpstream(t)
	n := statemarkNode(t, up, "")
	procs := runtime.GOMAXPROCS(0)
	inFlight := 2*procs + 4
	for _, tc := range []struct{ filter, path string }{
		{"pinned", "/p"},
		{"unpinned", "/u"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			m := n.Current().modules[tc.filter]
			before := up.arrived.Load()
			var wg sync.WaitGroup
			errs := make(chan string, inFlight)
			for range inFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Get(n.url + tc.path)
					if err != nil {
						errs <- err.Error()
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 || resp.Header.Get("X-Ctx") != "7" {
						errs <- resp.Status + ", x-ctx " + resp.Header.Get("X-Ctx")
					}
				}()
			}
			testkit.WaitFor(t, 10*time.Second, "every request at the upstream", func() bool { return up.arrived.Load()-before == int64(inFlight) })
			live := m.Stats().Live
			up.open()
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			switch tc.filter {
			case "pinned":
				if live != inFlight {
					t.Errorf("pinned: %d live instances with %d requests in flight, want one each", live, inFlight)
				}
			case "unpinned":
				if live < 1 || live > procs {
					t.Errorf("unpinned: %d live instances with %d requests in flight, want 1..GOMAXPROCS (%d)", live, inFlight, procs)
				}
			}
			// Instances go back when each request's exchange ends, which
			// may be just after its client read the response.
			testkit.WaitFor(t, 10*time.Second, "every instance back in the pool", func() bool {
				s := m.Stats()
				return s.Waiters == 0 && s.Live == s.Idle
			})
		})
	}
}

// TestUnpinnedResponsePhaseWaitsForAnInstance: when every instance of a
// stateless filter is busy as the upstream answers, the response phase
// waits in line for one (up to the route's timeout) instead of failing, and
// runs when one is released.
func TestUnpinnedResponsePhaseWaitsForAnInstance(t *testing.T) {
	up := startGatedUpstream(t)
	n := statemarkNode(t, up, `, limits: {instances: 1}`)
	m := n.Current().modules["unpinned"]
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(n.url + "/u")
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	testkit.WaitFor(t, 10*time.Second, "the request at the upstream", func() bool { return up.arrived.Load() == 1 })
	held, err := m.Acquire(context.Background()) // the only instance, back in the pool
	if err != nil {
		t.Fatal(err)
	}
	up.open()
	testkit.WaitFor(t, 10*time.Second, "the response phase waiting for the instance", func() bool { return m.Stats().Waiters == 1 })
	m.Release(held)
	select {
	case resp := <-done:
		if resp == nil {
			return
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Ctx") != "7" {
			t.Errorf("status %d, x-ctx %q", resp.StatusCode, resp.Header.Get("X-Ctx"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response after the instance was released")
	}
}

// TestUnpinnedResponsePhaseAfterAFailure: a stateless filter whose request
// went on gets its handle_response, with the reqCtx, also when the request
// fails after it (here: nothing answers), although no instance was held
// for it in between.
func TestUnpinnedResponsePhaseAfterAFailure(t *testing.T) {
	up := startGatedUpstream(t)
	n := statemarkNode(t, up, "")
	m := n.Current().modules["unpinned"]
	chain := []routeFilter{{name: "unpinned", module: m, wait: time.Second}}
	r := httptest.NewRequest("GET", "/u", nil)
	run, err := runRequestFilters(r.Context(), chain, httptest.NewRecorder(), r, n.log, filterRunMeta{})
	if err != nil || run.answered || len(run.pinned) != 1 {
		t.Fatalf("request phase: %v, answered %v, %d passed", err, run.answered, len(run.pinned))
	}
	if s := m.Stats(); s.Live != s.Idle {
		t.Fatalf("an instance is held between the phases: %+v", s)
	}
	run.release()
	if got := run.x.Resp.Header.Get("X-Ctx"); got != "7" {
		t.Errorf("handle_response did not run with the reqCtx: x-ctx %q", got)
	}
	if s := m.Stats(); s.Live != s.Idle {
		t.Errorf("an instance was not returned: %+v", s)
	}
	run.release() // once only
	if run.pinned[0].owed {
		t.Error("the response phase is still owed")
	}
}
