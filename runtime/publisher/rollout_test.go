package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestCanaryByLabelThenPromote(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	eu := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	us := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "us-1", Labels: map[string]string{"region": "us"}, Trust: pub.Identity().Public})
	stable := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	canary := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "region=eu")

	testkit.WaitFor(t, 10*time.Second, "the eu node on the canary", fleettest.Serves(t, eu, "/users", "v2:"))
	testkit.WaitFor(t, 5*time.Second, "the eu node reporting the canary", fleettest.NodeState(eu, canary, fleet.StateReady))
	testkit.WaitFor(t, 5*time.Second, "the us node on stable", fleettest.NodeState(us, stable, fleet.StateReady))
	if _, body := fleettest.Get(t, us.URL+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the us node left stable: %s", body)
	}
	st, err := pub.Client.Status(context.Background())
	if err != nil || st.Stable != stable || st.Canary == nil || *st.Canary != canary || st.CanarySelector != "region=eu" {
		t.Fatalf("status during the canary: %+v %v", st, err)
	}

	rec, err := pub.Client.Promote(context.Background())
	if err != nil || rec.Revision != canary {
		t.Fatalf("promote: %+v %v", rec, err)
	}
	testkit.WaitFor(t, 10*time.Second, "the us node on the promoted revision", fleettest.Serves(t, us, "/users", "v2:"))
	testkit.WaitFor(t, 5*time.Second, "both nodes reporting it", func() bool {
		return fleettest.NodeState(us, canary, fleet.StateReady)() && fleettest.NodeState(eu, canary, fleet.StateReady)()
	})
	st, err = pub.Client.Status(context.Background())
	if err != nil || st.Stable != canary || st.Canary != nil {
		t.Fatalf("status after promote: %+v %v", st, err)
	}
	if _, err := pub.Client.Promote(context.Background()); !isStatus(err, http.StatusConflict) {
		t.Fatalf("a second promote: %v, want 409", err)
	}
}

func TestCanaryAbortReturnsCanaryNodesToStable(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	eu := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	stable := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "region=eu")
	testkit.WaitFor(t, 10*time.Second, "the eu node on the canary", fleettest.Serves(t, eu, "/users", "v2:"))

	if _, err := pub.Client.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the eu node back on stable", fleettest.Serves(t, eu, "/users", "v1:"))
	testkit.WaitFor(t, 5*time.Second, "the eu node reporting stable", fleettest.NodeState(eu, stable, fleet.StateReady))
	if _, err := pub.Client.Abort(context.Background()); !isStatus(err, http.StatusConflict) {
		t.Fatalf("abort without a canary: %v, want 409", err)
	}
}

func TestCanaryAbortsByItselfWhenANodeFailsToApply(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	eu := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	stable := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	testkit.WaitFor(t, 10*time.Second, "stable served", fleettest.Serves(t, eu, "/users", "v1:"))

	// A canary the publisher accepts but this node cannot build: its wasm
	// artifact is missing from the store. Sealed directly with the
	// publisher's key, as the API would never publish it.
	missing := fleet.Digest([]byte("never uploaded"))
	doc := &fleet.Document{Config: "filters: {f: {module: f.wasm}}\nroutes: [{name: fn, match: {path: /fn}, filters: [f]}]\n", Filters: map[string]string{"f": missing}}
	env, err := fleet.Seal(pub.Identity().Key, stable+1, "region=eu", doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Buckets().Config.Put(context.Background(), fleet.CanaryKey, env.Marshal()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the canary aborted by the publisher", func() bool {
		st, err := pub.Status(context.Background())
		return err == nil && st.Canary == nil && st.Stable == stable
	})
	// The abort is in the history, by the publisher, with its reason.
	testkit.WaitFor(t, 5*time.Second, "the abort in the history", func() bool {
		h, _, err := pub.History(context.Background(), 0, 1)
		return err == nil && len(h) == 1 && h[0].Action == publisher.ActionAbort && h[0].Who == publisher.PublisherWho &&
			h[0].Revision == stable+1 && h[0].Outcome == publisher.OutcomeAborted && strings.Contains(h[0].Detail, "node eu-1 failed to apply it")
	})
	if _, body := fleettest.Get(t, eu.URL+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the node left its good snapshot: %s", body)
	}
	// With the canary withdrawn, the node reports itself ready on stable.
	testkit.WaitFor(t, 5*time.Second, "the node ready on stable again", func() bool {
		st := eu.Sub.Status()
		return st.State == fleet.StateReady && st.Revision == stable && st.Error == ""
	})
}

func TestCanaryByPercentageIsStable(t *testing.T) {
	in := 0
	for i := range 1000 {
		id := fmt.Sprintf("node-%d", i)
		ten, _ := fleet.ParseSelector("10%")
		fifty, _ := fleet.ParseSelector("50%")
		if ten.Matches(id, nil) {
			in++
			if !fifty.Matches(id, nil) {
				t.Fatalf("%s is in 10%% but not in 50%%", id)
			}
		}
		if ten.Matches(id, nil) != ten.Matches(id, map[string]string{"x": "y"}) {
			t.Fatal("labels changed a percentage selection")
		}
	}
	if in < 60 || in > 140 {
		t.Fatalf("10%% chose %d of 1000 nodes", in)
	}
	for _, bad := range []string{"", "0%", "101%", "x%", "region", "=eu"} {
		if _, err := fleet.ParseSelector(bad); err == nil {
			t.Errorf("selector %q accepted", bad)
		}
	}
}

func TestRollbackRepublishesAnEarlierRevision(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	rev1 := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "")
	rev3 := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v3")), "")
	testkit.WaitFor(t, 10*time.Second, "v3 served", fleettest.Serves(t, e, "/users", "v3:"))

	back, err := pub.Client.Rollback(context.Background(), 0) // the one before 3: 2
	if err != nil || back.Revision != rev3+1 || back.Note != "rollback to 2" {
		t.Fatalf("rollback: %+v %v", back, err)
	}
	testkit.WaitFor(t, 10*time.Second, "v2 served again", fleettest.Serves(t, e, "/users", "v2:"))
	testkit.WaitFor(t, 5*time.Second, "the new revision reported", fleettest.NodeState(e, back.Revision, fleet.StateReady))

	back, err = pub.Client.Rollback(context.Background(), rev1)
	if err != nil || back.Revision != rev3+2 {
		t.Fatalf("rollback to 1: %+v %v", back, err)
	}
	testkit.WaitFor(t, 10*time.Second, "v1 served again", fleettest.Serves(t, e, "/users", "v1:"))
	if _, err := pub.Client.Rollback(context.Background(), 99); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("rollback to an unknown revision: %v, want 404", err)
	}
}

func TestTwentyNodesConverge(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	var edges []*fleettest.Edge
	for i := range 20 {
		edges = append(edges, fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: fmt.Sprintf("n%02d", i), Trust: pub.Identity().Public}))
	}
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	start := time.Now()
	testkit.WaitFor(t, 20*time.Second, "20 nodes ready in status", func() bool {
		st, err := pub.Status(context.Background())
		if err != nil || len(st.Nodes) != 20 {
			return false
		}
		for _, n := range st.Nodes {
			if n.Revision != rev || n.State != fleet.StateReady {
				return false
			}
		}
		return true
	})
	t.Logf("20 nodes converged on revision %d in %s", rev, time.Since(start).Round(time.Millisecond))
	for _, e := range edges {
		if _, body := fleettest.Get(t, e.URL+"/users"); !strings.HasPrefix(body, "v1:") {
			t.Fatalf("%s: %s", e.ID, body)
		}
	}
}

func isStatus(err error, status int) bool {
	var ae *fleetclient.APIError
	return errors.As(err, &ae) && ae.Status == status
}

func TestCanaryNeedsAStableRevisionAndAValidSelector(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	if _, err := pub.ApplyYAML(t, fleettest.RouteConfig("users", "http://127.0.0.1:1"), "region=eu"); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "no stable revision") {
		t.Fatalf("canary before any stable: %v", err)
	}
	pub.MustApply(t, fleettest.RouteConfig("users", "http://127.0.0.1:1"), "")
	if _, err := pub.ApplyYAML(t, fleettest.RouteConfig("users", "http://127.0.0.1:2"), "150%"); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("canary with a bad selector: %v", err)
	}
	if revs, _ := pub.Revisions(context.Background()); len(revs) != 1 {
		t.Fatalf("refused canaries recorded revisions: %d", len(revs))
	}
}

func TestCanaryNodeStartingDuringACanaryBuildsOnlyTheCanary(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	canary := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "region=eu")

	eu := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "eu-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	testkit.WaitFor(t, 10*time.Second, "the new eu node on the canary", fleettest.NodeState(eu, canary, fleet.StateReady))
	// The node's own count of snapshots applied: one, not stable then canary.
	if n := eu.Node.Current().Revision; n != 1 {
		t.Fatalf("the node built %d snapshots to reach the canary, want 1", n)
	}
}
