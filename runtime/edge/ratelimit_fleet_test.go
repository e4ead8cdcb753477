package edge

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluicegw/sluice/runtime/testkit"
	"github.com/sluicegw/sluice/runtime/testkit/natstest"
	"github.com/sluicegw/sluice/runtime/traffic"
)

const fleetConfig = `
upstreams:
  svc: {endpoints: [{{.}}]}
routes:
  - name: shared
    match: {path_prefix: /shared}
    upstream: svc
    rate_limit: {requests: 100, per: 1s, key: "header:X-Tenant", scope: fleet}
`

// TestRateLimitFleet: three nodes on one NATS share one limit. Offered 350
// requests per second, unevenly (4:2:1), over 5 s of the test's clock, the
// fleet admits the configured 100/s plus one bucket (100), within ±10%.
func TestRateLimitFleet(t *testing.T) {
	natsURL := natstest.Start(t)
	up := startUpstream(t, "svc", nil)
	clock := newTestClock()
	cfg := render(t, fleetConfig, up.url)
	var nodes []*testNode
	var limiters []*traffic.FleetLimiter
	for range 3 {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		tn := startNode(t, cfg, withClock(clock), func(o *Options, _ *Listeners) {
			o.NATS = nc
			o.fleetSync = time.Hour // the test reports by hand, once per step
		})
		nodes = append(nodes, tn)
		limiters = append(limiters, tn.Current().compiled[0].limit.checker.(*traffic.FleetLimiter))
	}
	// sync reports every node's admissions and waits until every other
	// node has taken them in.
	sync := func() {
		for i, f := range limiters {
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := nodes[i].opts.NATS.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		testkit.WaitFor(t, 5*time.Second, "reports delivered", func() bool {
			var total int64
			for _, f := range limiters {
				p, _ := f.Reports()
				total += p
			}
			for _, f := range limiters {
				if p, a := f.Reports(); a != total-p {
					return false
				}
			}
			return true
		})
	}

	weights := []int{4, 2, 1}
	const steps, step = 250, 20 * time.Millisecond // 5 s
	admitted, steady := 0, 0
	perNode := make([]int, 3)
	for s := range steps {
		for i, tn := range nodes {
			for range weights[i] {
				resp, _ := get(t, tn.url+"/shared", "X-Tenant", "acme")
				switch resp.StatusCode {
				case 200:
					admitted++
					perNode[i]++
					if s >= steps/5 {
						steady++
					}
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
		}
		sync()
		clock.advance(step)
	}
	t.Logf("admitted %d in 5s (per node %v), %d in the last 4s", admitted, perNode, steady)
	if want := 100*5 + 100; admitted < want*9/10 || admitted > want*11/10 {
		t.Errorf("admitted %d, want %d ±10%%", admitted, want)
	}
	if want := 100 * 4; steady < want*9/10 || steady > want*11/10 {
		t.Errorf("admitted %d in the steady 4s, want %d ±10%%", steady, want)
	}
	// Another key has a bucket of its own, fleet-wide too.
	if resp, _ := get(t, nodes[2].url+"/shared", "X-Tenant", "globex"); resp.StatusCode != 200 {
		t.Errorf("another tenant: %d", resp.StatusCode)
	}
}

// TestRateLimitFleetWithoutNATS: with no NATS connection a fleet-scope
// limit is enforced per node, with a warning.
func TestRateLimitFleetWithoutNATS(t *testing.T) {
	up := startUpstream(t, "svc", nil)
	tn := startNode(t, render(t, fleetConfig, up.url), withClock(newTestClock()))
	if _, ok := tn.Current().compiled[0].limit.checker.(*traffic.Limiter); !ok {
		t.Fatalf("checker %T", tn.Current().compiled[0].limit.checker)
	}
	for i := range 101 {
		resp, _ := get(t, tn.url+"/shared", "X-Tenant", "acme")
		if want := map[bool]int{true: 200, false: 429}[i < 100]; resp.StatusCode != want {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	testkit.WaitFor(t, time.Second, "the warning", func() bool {
		return strings.Contains(tn.logs.String(), "scope fleet without NATS")
	})
}

// TestRateLimitFleetSyncsByItself: with the production report loop (a
// ticker, no manual flush), what one node admits soon stops another.
func TestRateLimitFleetSyncsByItself(t *testing.T) {
	natsURL := natstest.Start(t)
	up := startUpstream(t, "svc", nil)
	clock := newTestClock() // frozen: no token comes back during the test
	cfg := render(t, strings.Replace(fleetConfig, "requests: 100, per: 1s", "requests: 50, per: 1h", 1), up.url)
	var nodes []*testNode
	for range 2 {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		nodes = append(nodes, startNode(t, cfg, withClock(clock), func(o *Options, _ *Listeners) {
			o.NATS = nc
			o.fleetSync = 5 * time.Millisecond
		}))
	}
	for i := range 50 {
		if resp, _ := get(t, nodes[0].url+"/shared", "X-Tenant", "acme"); resp.StatusCode != 200 {
			t.Fatalf("request %d on the first node: %d", i, resp.StatusCode)
		}
	}
	// Without reports the second node would admit a whole bucket (50).
	admitted := 0
	testkit.WaitFor(t, 10*time.Second, "the second node to refuse", func() bool {
		resp, _ := get(t, nodes[1].url+"/shared", "X-Tenant", "acme")
		if resp.StatusCode == 200 {
			admitted++
		}
		return resp.StatusCode == http.StatusTooManyRequests
	})
	if admitted >= 50 {
		t.Fatalf("the second node admitted %d: no reports arrived", admitted)
	}
	t.Logf("the second node admitted %d before the reports arrived", admitted)
}
