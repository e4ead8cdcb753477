package fleetnode_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetnode"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// publishRaw writes an envelope to a snapshot key directly, as an attacker
// with write access to NATS (or a broken publisher) could.
func publishRaw(t *testing.T, pub *fleettest.Publisher, key string, env *fleet.Envelope) {
	t.Helper()
	if _, err := pub.Buckets().Config.Put(context.Background(), key, env.Marshal()); err != nil {
		t.Fatal(err)
	}
}

func stableEnvelope(t *testing.T, pub *fleettest.Publisher) *fleet.Envelope {
	t.Helper()
	e, err := pub.Buckets().Config.Get(context.Background(), fleet.StableKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := fleet.ParseEnvelope(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func errorFor(e *fleettest.Edge, wanted int64, running int64, contains string) func() bool {
	return func() bool {
		st := e.Sub.Status()
		return st.State == fleet.StateError && st.Wanted == wanted && st.Revision == running && strings.Contains(st.Error, contains)
	}
}

func TestBadSignatureIsRefusedAndReported(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "good")), "")
	testkit.WaitFor(t, 10*time.Second, "revision 1 served", fleettest.Serves(t, e, "/users", "good:"))

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := fleet.Seal(otherKey, rev+1, "", &fleet.Document{Config: fleettest.RouteConfig("users", fleettest.Upstream(t, "evil"))})
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, pub, fleet.StableKey, forged)
	testkit.WaitFor(t, 5*time.Second, "the forged snapshot reported as refused", errorFor(e, rev+1, rev, "bad signature"))

	// Tampering with a genuine envelope breaks its signature too.
	genuine, err := fleet.Seal(pub.Identity().Key, rev+2, "", &fleet.Document{Config: fleettest.RouteConfig("users", fleettest.Upstream(t, "evil"))})
	if err != nil {
		t.Fatal(err)
	}
	genuine.Revision = rev + 3
	publishRaw(t, pub, fleet.StableKey, genuine)
	testkit.WaitFor(t, 5*time.Second, "the altered snapshot reported as refused", errorFor(e, rev+3, rev, "bad signature"))
	if code, body := fleettest.Get(t, e.URL+"/users"); code != 200 || !strings.HasPrefix(body, "good:") {
		t.Fatalf("node stopped serving its good snapshot: %d %s", code, body)
	}
}

func TestArtifactWithWrongDigestIsRefused(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "good")), "")
	testkit.WaitFor(t, 10*time.Second, "revision 1 served", fleettest.Serves(t, e, "/users", "good:"))

	// The store holds other bytes under the digest of the real module.
	real := []byte("\x00asm\x01\x00\x00\x00")
	digest := fleet.Digest(real)
	if _, err := pub.Buckets().Artifacts.PutBytes(context.Background(), digest, []byte("\x00asm\x01\x00\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	doc := &fleet.Document{Config: "filters: {f: {module: f.wasm}}\nroutes: [{name: fn, match: {path: /fn}, filters: [f]}]\n", Filters: map[string]string{"f": digest}}
	env, err := fleet.Seal(pub.Identity().Key, rev+1, "", doc)
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, pub, fleet.StableKey, env)
	testkit.WaitFor(t, 5*time.Second, "the artifact refused", errorFor(e, rev+1, rev, "digest mismatch"))
	if code, body := fleettest.Get(t, e.URL+"/users"); code != 200 || !strings.HasPrefix(body, "good:") {
		t.Fatalf("node stopped serving its good snapshot: %d %s", code, body)
	}
}

func TestReplayedOlderStableRevisionIsRefused(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	rev1 := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v1")), "")
	testkit.WaitFor(t, 10*time.Second, "revision 1 served", fleettest.Serves(t, e, "/users", "v1:"))
	old := stableEnvelope(t, pub)
	rev2 := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "v2")), "")
	testkit.WaitFor(t, 10*time.Second, "revision 2 served", fleettest.Serves(t, e, "/users", "v2:"))

	publishRaw(t, pub, fleet.StableKey, old) // correctly signed, but old
	testkit.WaitFor(t, 5*time.Second, "the replay refused", errorFor(e, rev1, rev2, "older than"))
	if _, body := fleettest.Get(t, e.URL+"/users"); !strings.HasPrefix(body, "v2:") {
		t.Fatalf("node moved back: %s", body)
	}
}

func TestNodeBootsFromLastGoodSnapshotWithoutNATS(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	dataDir := t.TempDir()
	first := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, DataDir: dataDir})
	dir := t.TempDir()
	wasm := fleettest.WatGuest(t, dir, "answer")
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "kept"))+fmt.Sprintf("filters: {answer: {module: %s}}\n", wasm)+
		"  # the filter is unused by routes but its artifact must be kept\n", "")
	testkit.WaitFor(t, 20*time.Second, "revision served", fleettest.Serves(t, first, "/users", "kept:"))
	testkit.WaitFor(t, 5*time.Second, "revision reported", fleettest.NodeState(first, rev, fleet.StateReady))
	first.Stop()

	// Nothing listens here: the node must boot from disk and keep trying.
	dead := fleettest.DeadAddr(t)
	second := fleettest.StartEdge(t, "nats://"+dead, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, DataDir: dataDir})
	if code, body := fleettest.Get(t, second.URL+"/users"); code != 200 || !strings.HasPrefix(body, "kept:") {
		t.Fatalf("booted node answers %d %s", code, body)
	}
	if st := second.Sub.Status(); st.Revision != rev || st.State != fleet.StateReady {
		t.Fatalf("booted status %+v", st)
	}
}

func TestBootRefusesLastGoodSignedByAnotherKey(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	dataDir := t.TempDir()
	first := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, DataDir: dataDir})
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "kept")), "")
	testkit.WaitFor(t, 10*time.Second, "revision served", fleettest.Serves(t, first, "/users", "kept:"))
	first.Stop()

	other, _, _ := ed25519.GenerateKey(rand.Reader)
	sub, err := fleetnode.New(fleetnode.Options{NodeID: "edge-a", Trust: other, DataDir: dataDir, Logger: fleettest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Boot(context.Background()); !errors.Is(err, fleet.ErrBadSignature) {
		t.Fatalf("boot with another trusted key: %v, want ErrBadSignature", err)
	}
}

func TestNodeReconnectsAfterNATSRestart(t *testing.T) {
	addr := fleettest.DeadAddr(t)
	store := t.TempDir()
	ns, err := fleet.StartEmbeddedNATS(addr, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	natsURL := ns.ClientURL()
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "before")), "")
	testkit.WaitFor(t, 10*time.Second, "revision served", fleettest.Serves(t, e, "/users", "before:"))

	ns.Shutdown()
	ns.WaitForShutdown()
	ns, err = fleet.StartEmbeddedNATS(addr, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	// The publisher's own connection reconnects too (nats.go default).
	var rev int64
	testkit.WaitFor(t, 15*time.Second, "a publish after the restart", func() bool {
		r, err := pub.ApplyYAML(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "after")), "")
		if err == nil {
			rev = r.Revision
		}
		return err == nil
	})
	testkit.WaitFor(t, 15*time.Second, "the node following after the restart", fleettest.Serves(t, e, "/users", "after:"))
	testkit.WaitFor(t, 5*time.Second, "status after the restart", fleettest.NodeState(e, rev, fleet.StateReady))
}

// A node keeps the artifacts its running snapshot uses, not every artifact it
// ever ran: after a config with another module is applied, the old module's
// bytes are gone from its data dir.
func TestNodePrunesArtifactsItNoLongerRuns(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	nodeData := t.TempDir()
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "prune", DataDir: nodeData, Trust: pub.Identity().Public})
	dir := t.TempDir()
	blobs := func() []string {
		entries, _ := os.ReadDir(filepath.Join(nodeData, "artifacts", "blobs"))
		var names []string
		for _, en := range entries {
			if !strings.HasPrefix(en.Name(), ".") {
				names = append(names, en.Name())
			}
		}
		return names
	}
	up := fleettest.Upstream(t, "u")
	apply := func(guest, path string, code int) {
		t.Helper()
		wasm := fleettest.WatGuest(t, dir, guest)
		doc, blobs, err := artifacts.FromFile(fleettest.WriteConfig(t, dir, fmt.Sprintf(
			"upstreams: {u: {endpoints: [%q]}}\nfilters: {f: {module: %s}}\nroutes: [{name: r, match: {path: %s}, upstream: u, filters: [f]}]\n", up, wasm, path)))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := pub.Client.Upload(context.Background(), blobs); err != nil {
			t.Fatal(err)
		}
		if _, err := pub.Client.Apply(context.Background(), doc, ""); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 20*time.Second, "the node serving "+path, func() bool {
			got, _ := fleettest.Get(t, e.URL+path)
			return got == code
		})
	}
	apply("answer", "/first", 418)
	first := blobs()
	if len(first) != 1 {
		t.Fatalf("artifacts after the first snapshot: %v, want its one module", first)
	}
	apply("noop", "/second", 200)
	testkit.WaitFor(t, 10*time.Second, "the first module removed", func() bool {
		now := blobs()
		return len(now) == 1 && now[0] != first[0]
	})
}

// A snapshot a node failed to apply for a passing reason (here its artifact
// cache could not be written) is applied again after a wait, without a new
// revision: the node does not stay behind until the next release.
func TestFailedSnapshotIsRetried(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	nodeData := t.TempDir()
	blocker := filepath.Join(nodeData, "artifacts")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "retry", DataDir: nodeData, Trust: pub.Identity().Public, RetryAfter: 50 * time.Millisecond})
	dir := t.TempDir()
	wasm := fleettest.WatGuest(t, dir, "answer")
	doc, blobs, err := artifacts.FromFile(fleettest.WriteConfig(t, dir, fmt.Sprintf("filters: {f: {module: %s}}\nroutes: [{name: r, match: {path: /fn}, filters: [f]}]\n", wasm)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pub.Client.Upload(context.Background(), blobs); err != nil {
		t.Fatal(err)
	}
	sum, err := pub.Client.Apply(context.Background(), doc, "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "the node reporting the failure", func() bool {
		st := e.Sub.Status()
		return st.State == fleet.StateError && st.Wanted == sum.Revision
	})
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "the node applying the same revision again", func() bool {
		code, _ := fleettest.Get(t, e.URL+"/fn")
		return code == 418
	})
	testkit.WaitFor(t, 10*time.Second, "the node reporting ready", fleettest.NodeState(e, sum.Revision, fleet.StateReady))
}

// A node's status report carries its request totals.
func TestStatusCarriesRequestStats(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "stats", Trust: pub.Identity().Public})
	rev := pub.MustApply(t, fleettest.RouteConfig("svc", fleettest.Upstream(t, "svc")), "")
	testkit.WaitFor(t, 20*time.Second, "the node ready", fleettest.NodeState(e, rev, fleet.StateReady))
	for range 3 {
		if code, _ := fleettest.Get(t, e.URL+"/svc"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	fleettest.Get(t, e.URL+"/nowhere") // a 404 counts as a request, not a 5xx
	testkit.WaitFor(t, 10*time.Second, "the request totals in the status bucket", func() bool {
		nodes, err := fleet.ListNodes(context.Background(), pub.Buckets())
		if err != nil || len(nodes) != 1 {
			return false
		}
		st := nodes[0].Stats
		return st.Requests == 4 && st.Errors5xx == 0 && st.OpenConnections >= 0
	})
}
