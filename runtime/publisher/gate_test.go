package publisher_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// slowUpstream answers its name after delay, with status code.
func slowUpstream(t testing.TB, name string, code int, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.WriteHeader(code)
		io.WriteString(w, name+":"+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// traffic sends requests to every edge's /users until the test ends, one
// at a time per edge.
func traffic(t *testing.T, edges ...*fleettest.Edge) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range edges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/users", nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Millisecond):
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// gatedFleet is a publisher, a canary node (region=eu) and a stable node
// (region=us) on revision 1, under steady traffic.
func gatedFleet(t *testing.T) (*fleettest.Publisher, *fleettest.Edge, *fleettest.Edge, int64) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	eu := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	us := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "us-1", Labels: map[string]string{"region": "us"}, Trust: pub.Identity().Public})
	stable := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	testkit.WaitFor(t, 10*time.Second, "eu on stable", fleettest.Serves(t, eu, "/users", "v1:"))
	testkit.WaitFor(t, 10*time.Second, "us on stable", fleettest.Serves(t, us, "/users", "v1:"))
	traffic(t, eu, us)
	return pub, eu, us, stable
}

func applyGated(t *testing.T, pub *fleettest.Publisher, text, bake string, maxErr, maxP99 float64) int64 {
	t.Helper()
	doc, _, err := artifacts.FromFile(fleettest.WriteConfig(t, t.TempDir(), text))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := pub.Client.ApplyRequest(context.Background(), publisher.ApplyRequest{Document: doc, Canary: "region=eu", Bake: bake,
		MaxErrorRate: &maxErr, MaxP99Increase: &maxP99})
	if err != nil {
		t.Fatalf("gated apply: %v", err)
	}
	if want, _ := time.ParseDuration(bake); rev.Gate == nil || rev.Gate.Bake != want || rev.Gate.MaxErrorRate != maxErr {
		t.Fatalf("gated apply answered %+v", rev)
	}
	return rev.Revision
}

// decision waits for the publisher's own promote or abort of rev in the
// history.
func decision(t *testing.T, pub *fleettest.Publisher, rev int64, within time.Duration) publisher.HistoryEntry {
	t.Helper()
	var got publisher.HistoryEntry
	testkit.WaitFor(t, within, "the publisher's decision on the canary", func() bool {
		h, _, err := pub.History(context.Background(), 0, 5)
		for _, e := range h {
			if err == nil && e.Who == publisher.PublisherWho && e.Revision == rev {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

func TestGatedCanaryWhoseRouteFailsIsAbortedWithinItsBake(t *testing.T) {
	pub, eu, us, stable := gatedFleet(t)
	start := time.Now()
	rev := applyGated(t, pub, fleettest.RouteConfig("users", slowUpstream(t, "broken", 500, 0)), "60s", 1, 50)
	d := decision(t, pub, rev, 30*time.Second)
	t.Logf("decision after %s: %s %v", time.Since(start).Round(time.Millisecond), d.Detail, d.Numbers)
	if d.Action != publisher.ActionAbort || d.Outcome != publisher.OutcomeAborted || !strings.Contains(d.Detail, "exceeds --max-error-rate 1%") ||
		d.Numbers["canary_error_rate_pct"] <= 1 || d.Numbers["canary_requests"] < publisher.MinGateRequests || d.Numbers["canary_nodes"] != 1 {
		t.Fatalf("decision: %+v", d)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("aborted after %s", took)
	}
	testkit.WaitFor(t, 10*time.Second, "eu back on stable", fleettest.Serves(t, eu, "/users", "v1:"))
	if st, _ := pub.Status(context.Background()); st.Canary != nil || st.Stable != stable {
		t.Fatalf("after the abort: %+v", st)
	}
	if _, body := fleettest.Get(t, us.URL+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the stable node left stable: %s", body)
	}
}

func TestGatedCanaryThatStaysHealthyIsPromotedWhenItsBakeEnds(t *testing.T) {
	pub, eu, us, _ := gatedFleet(t)
	// The p99 bound is out of the way: a healthy canary's p99 on a busy
	// machine under -race is noise (330 ms against 30 ms seen once).
	rev := applyGated(t, pub, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "3s", 1, 1e6)
	testkit.WaitFor(t, 10*time.Second, "eu on the canary", fleettest.Serves(t, eu, "/users", "v2:"))
	if _, body := fleettest.Get(t, us.URL+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the stable node took the canary: %s", body)
	}
	d := decision(t, pub, rev, 20*time.Second)
	t.Logf("decision: %s %s %v", d.Action, d.Detail, d.Numbers)
	if d.Action != publisher.ActionPromote || d.Outcome != publisher.OutcomePromoted || d.Numbers["canary_5xx"] != 0 || d.Numbers["canary_requests"] < publisher.MinGateRequests ||
		!strings.Contains(d.Detail, "baked 3s") {
		t.Fatalf("decision: %+v", d)
	}
	recs, err := pub.RecentRevisions(context.Background(), rev, 1)
	if err != nil || len(recs) != 1 || recs[0].Gate == nil || d.Time.Sub(recs[0].Gate.Started) < 3*time.Second {
		t.Fatalf("promoted before its bake ended: decided %v, record %+v %v", d.Time, recs, err)
	}
	testkit.WaitFor(t, 10*time.Second, "us on the promoted revision", fleettest.Serves(t, us, "/users", "v2:"))
	st, _ := pub.Status(context.Background())
	if st.Stable != rev || st.Canary != nil {
		t.Fatalf("after the promotion: %+v", st)
	}
}

func TestGatedCanaryThatRaisesP99IsAborted(t *testing.T) {
	pub, eu, _, stable := gatedFleet(t)
	rev := applyGated(t, pub, fleettest.RouteConfig("users", slowUpstream(t, "slow", 200, 60*time.Millisecond)), "60s", 1, 50)
	start := time.Now()
	d := decision(t, pub, rev, 30*time.Second)
	t.Logf("decision after %s: %s %v", time.Since(start).Round(time.Millisecond), d.Detail, d.Numbers)
	if d.Action != publisher.ActionAbort || !strings.Contains(d.Detail, "more than --max-p99-increase 50%") ||
		d.Numbers["canary_p99_ms"] < 50 || d.Numbers["p99_increase_pct"] <= 50 || d.Numbers["canary_5xx"] != 0 {
		t.Fatalf("decision: %+v", d)
	}
	testkit.WaitFor(t, 10*time.Second, "eu back on stable", fleettest.NodeState(eu, stable, fleet.StateReady))
}

func TestGatedApplyIsChecked(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	pub.MustApply(t, fleettest.RouteConfig("users", "http://127.0.0.1:1"), "")
	doc := &fleet.Document{Config: fleettest.RouteConfig("users", "http://127.0.0.1:2")}
	neg := -1.0
	for _, c := range []struct {
		req  publisher.ApplyRequest
		want string
	}{
		{publisher.ApplyRequest{Document: doc, Bake: "1m"}, "--bake needs --canary"},
		{publisher.ApplyRequest{Document: doc, Canary: "region=eu", Bake: "soon"}, `--bake "soon"`},
		{publisher.ApplyRequest{Document: doc, Canary: "region=eu", Bake: "-1m"}, "positive duration"},
		{publisher.ApplyRequest{Document: doc, Canary: "region=eu", Bake: "1m", MaxErrorRate: &neg}, "--max-error-rate -1"},
		{publisher.ApplyRequest{Document: doc, Canary: "region=eu", Bake: "1m", MaxP99Increase: &neg}, "--max-p99-increase -1"},
		{publisher.ApplyRequest{Document: doc, Canary: "region=eu", MaxP99Increase: &neg}, "need --bake"},
	} {
		_, err := pub.Client.ApplyRequest(context.Background(), c.req)
		apiErr(t, c.want, err, http.StatusBadRequest, c.want)
	}
}
