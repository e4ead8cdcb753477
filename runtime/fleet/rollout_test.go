package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCanaryByLabelThenPromote(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	eu := startEdge(t, natsURL, edgeSpec{id: "eu-1", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	us := startEdge(t, natsURL, edgeSpec{id: "us-1", labels: map[string]string{"region": "us"}, trust: pub.Identity().Public})
	stable := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	canary := pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "region=eu")

	eventually(t, 10*time.Second, "the eu node on the canary", serves(t, eu, "/users", "v2:"))
	eventually(t, 5*time.Second, "the eu node reporting the canary", nodeState(eu, canary, StateReady))
	eventually(t, 5*time.Second, "the us node on stable", nodeState(us, stable, StateReady))
	if _, body := get(t, us.url+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the us node left stable: %s", body)
	}
	st, err := pub.client.Status(context.Background())
	if err != nil || st.Stable != stable || st.Canary == nil || *st.Canary != canary || st.CanarySelector != "region=eu" {
		t.Fatalf("status during the canary: %+v %v", st, err)
	}

	rec, err := pub.client.Promote(context.Background())
	if err != nil || rec.Revision != canary {
		t.Fatalf("promote: %+v %v", rec, err)
	}
	eventually(t, 10*time.Second, "the us node on the promoted revision", serves(t, us, "/users", "v2:"))
	eventually(t, 5*time.Second, "both nodes reporting it", func() bool {
		return nodeState(us, canary, StateReady)() && nodeState(eu, canary, StateReady)()
	})
	st, err = pub.client.Status(context.Background())
	if err != nil || st.Stable != canary || st.Canary != nil {
		t.Fatalf("status after promote: %+v %v", st, err)
	}
	if _, err := pub.client.Promote(context.Background()); !isStatus(err, http.StatusConflict) {
		t.Fatalf("a second promote: %v, want 409", err)
	}
}

func TestCanaryAbortReturnsCanaryNodesToStable(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	eu := startEdge(t, natsURL, edgeSpec{id: "eu-1", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	stable := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "region=eu")
	eventually(t, 10*time.Second, "the eu node on the canary", serves(t, eu, "/users", "v2:"))

	if _, err := pub.client.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the eu node back on stable", serves(t, eu, "/users", "v1:"))
	eventually(t, 5*time.Second, "the eu node reporting stable", nodeState(eu, stable, StateReady))
	if _, err := pub.client.Abort(context.Background()); !isStatus(err, http.StatusConflict) {
		t.Fatalf("abort without a canary: %v, want 409", err)
	}
}

func TestCanaryAbortsByItselfWhenANodeFailsToApply(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	eu := startEdge(t, natsURL, edgeSpec{id: "eu-1", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	stable := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	eventually(t, 10*time.Second, "stable served", serves(t, eu, "/users", "v1:"))

	// A canary the publisher accepts but this node cannot build: its wasm
	// artifact is missing from the store. Sealed directly with the
	// publisher's key, as the API would never publish it.
	missing := Digest([]byte("never uploaded"))
	doc := &Document{Config: "filters: {f: {module: f.wasm}}\nroutes: [{name: fn, match: {path: /fn}, filters: [f]}]\n", Filters: map[string]string{"f": missing}}
	env, err := Seal(pub.Identity().Key, stable+1, "region=eu", doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Buckets().Config.Put(context.Background(), CanaryKey, env.Marshal()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the canary aborted by the publisher", func() bool {
		st, err := pub.Status(context.Background())
		return err == nil && st.Canary == nil && st.Stable == stable
	})
	// The abort is in the history, by the publisher, with its reason.
	eventually(t, 5*time.Second, "the abort in the history", func() bool {
		h, _, err := pub.History(context.Background(), 0, 1)
		return err == nil && len(h) == 1 && h[0].Action == ActionAbort && h[0].Who == PublisherWho &&
			h[0].Revision == stable+1 && h[0].Outcome == OutcomeAborted && strings.Contains(h[0].Detail, "node eu-1 failed to apply it")
	})
	if _, body := get(t, eu.url+"/users"); !strings.HasPrefix(body, "v1:") {
		t.Fatalf("the node left its good snapshot: %s", body)
	}
	// With the canary withdrawn, the node reports itself ready on stable.
	eventually(t, 5*time.Second, "the node ready on stable again", func() bool {
		st := eu.sub.Status()
		return st.State == StateReady && st.Revision == stable && st.Error == ""
	})
}

func TestCanaryByPercentageIsStable(t *testing.T) {
	in := 0
	for i := range 1000 {
		id := fmt.Sprintf("node-%d", i)
		ten, _ := ParseSelector("10%")
		fifty, _ := ParseSelector("50%")
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
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("selector %q accepted", bad)
		}
	}
}

func TestRollbackRepublishesAnEarlierRevision(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	rev1 := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "")
	rev3 := pub.mustApply(t, routeConfig("users", upstream(t, "v3")), "")
	eventually(t, 10*time.Second, "v3 served", serves(t, e, "/users", "v3:"))

	back, err := pub.client.Rollback(context.Background(), 0) // the one before 3: 2
	if err != nil || back.Revision != rev3+1 || back.Note != "rollback to 2" {
		t.Fatalf("rollback: %+v %v", back, err)
	}
	eventually(t, 10*time.Second, "v2 served again", serves(t, e, "/users", "v2:"))
	eventually(t, 5*time.Second, "the new revision reported", nodeState(e, back.Revision, StateReady))

	back, err = pub.client.Rollback(context.Background(), rev1)
	if err != nil || back.Revision != rev3+2 {
		t.Fatalf("rollback to 1: %+v %v", back, err)
	}
	eventually(t, 10*time.Second, "v1 served again", serves(t, e, "/users", "v1:"))
	if _, err := pub.client.Rollback(context.Background(), 99); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("rollback to an unknown revision: %v, want 404", err)
	}
}

func TestTwentyNodesConverge(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	var edges []*testEdge
	for i := range 20 {
		edges = append(edges, startEdge(t, natsURL, edgeSpec{id: fmt.Sprintf("n%02d", i), trust: pub.Identity().Public}))
	}
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	start := time.Now()
	eventually(t, 20*time.Second, "20 nodes ready in status", func() bool {
		st, err := pub.Status(context.Background())
		if err != nil || len(st.Nodes) != 20 {
			return false
		}
		for _, n := range st.Nodes {
			if n.Revision != rev || n.State != StateReady {
				return false
			}
		}
		return true
	})
	t.Logf("20 nodes converged on revision %d in %s", rev, time.Since(start).Round(time.Millisecond))
	for _, e := range edges {
		if _, body := get(t, e.url+"/users"); !strings.HasPrefix(body, "v1:") {
			t.Fatalf("%s: %s", e.id, body)
		}
	}
}

func isStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

func TestCanaryNeedsAStableRevisionAndAValidSelector(t *testing.T) {
	pub := startPublisher(t, startNATS(t))
	if _, err := pub.apply(t, routeConfig("users", "http://127.0.0.1:1"), "region=eu"); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "no stable revision") {
		t.Fatalf("canary before any stable: %v", err)
	}
	pub.mustApply(t, routeConfig("users", "http://127.0.0.1:1"), "")
	if _, err := pub.apply(t, routeConfig("users", "http://127.0.0.1:2"), "150%"); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("canary with a bad selector: %v", err)
	}
	if revs, _ := pub.Revisions(context.Background()); len(revs) != 1 {
		t.Fatalf("refused canaries recorded revisions: %d", len(revs))
	}
}

func TestCanaryNodeStartingDuringACanaryBuildsOnlyTheCanary(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	canary := pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "region=eu")

	eu := startEdge(t, natsURL, edgeSpec{id: "eu-1", labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public})
	eventually(t, 10*time.Second, "the new eu node on the canary", nodeState(eu, canary, StateReady))
	// The node's own count of snapshots applied: one, not stable then canary.
	if n := eu.node.Current().Revision; n != 1 {
		t.Fatalf("the node built %d snapshots to reach the canary, want 1", n)
	}
}
