package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// publishRaw writes an envelope to a snapshot key directly, as an attacker
// with write access to NATS (or a broken publisher) could.
func publishRaw(t *testing.T, pub *testPublisher, key string, env *Envelope) {
	t.Helper()
	if _, err := pub.Buckets().Config.Put(context.Background(), key, env.Marshal()); err != nil {
		t.Fatal(err)
	}
}

func stableEnvelope(t *testing.T, pub *testPublisher) *Envelope {
	t.Helper()
	env, err := pub.envelope(context.Background(), StableKey)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func errorFor(e *testEdge, wanted int64, running int64, contains string) func() bool {
	return func() bool {
		st := e.sub.Status()
		return st.State == StateError && st.Wanted == wanted && st.Revision == running && strings.Contains(st.Error, contains)
	}
}

func TestBadSignatureIsRefusedAndReported(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "good")), "")
	eventually(t, 10*time.Second, "revision 1 served", serves(t, e, "/users", "good:"))

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := Seal(otherKey, rev+1, "", &Document{Config: routeConfig("users", upstream(t, "evil"))})
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, pub, StableKey, forged)
	eventually(t, 5*time.Second, "the forged snapshot reported as refused", errorFor(e, rev+1, rev, "bad signature"))

	// Tampering with a genuine envelope breaks its signature too.
	genuine, err := Seal(pub.Identity().Key, rev+2, "", &Document{Config: routeConfig("users", upstream(t, "evil"))})
	if err != nil {
		t.Fatal(err)
	}
	genuine.Revision = rev + 3
	publishRaw(t, pub, StableKey, genuine)
	eventually(t, 5*time.Second, "the altered snapshot reported as refused", errorFor(e, rev+3, rev, "bad signature"))
	if code, body := get(t, e.url+"/users"); code != 200 || !strings.HasPrefix(body, "good:") {
		t.Fatalf("node stopped serving its good snapshot: %d %s", code, body)
	}
}

func TestArtifactWithWrongDigestIsRefused(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "good")), "")
	eventually(t, 10*time.Second, "revision 1 served", serves(t, e, "/users", "good:"))

	// The store holds other bytes under the digest of the real module.
	real := []byte("\x00asm\x01\x00\x00\x00")
	digest := Digest(real)
	if _, err := pub.Buckets().Artifacts.PutBytes(context.Background(), digest, []byte("\x00asm\x01\x00\x00\x00\x00")); err != nil {
		t.Fatal(err)
	}
	doc := &Document{Config: "filters: {f: {module: f.wasm}}\nroutes: [{name: fn, match: {path: /fn}, filters: [f]}]\n", Filters: map[string]string{"f": digest}}
	env, err := Seal(pub.Identity().Key, rev+1, "", doc)
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(t, pub, StableKey, env)
	eventually(t, 5*time.Second, "the artifact refused", errorFor(e, rev+1, rev, "digest mismatch"))
	if code, body := get(t, e.url+"/users"); code != 200 || !strings.HasPrefix(body, "good:") {
		t.Fatalf("node stopped serving its good snapshot: %d %s", code, body)
	}
}

func TestReplayedOlderStableRevisionIsRefused(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	rev1 := pub.mustApply(t, routeConfig("users", upstream(t, "v1")), "")
	eventually(t, 10*time.Second, "revision 1 served", serves(t, e, "/users", "v1:"))
	old := stableEnvelope(t, pub)
	rev2 := pub.mustApply(t, routeConfig("users", upstream(t, "v2")), "")
	eventually(t, 10*time.Second, "revision 2 served", serves(t, e, "/users", "v2:"))

	publishRaw(t, pub, StableKey, old) // correctly signed, but old
	eventually(t, 5*time.Second, "the replay refused", errorFor(e, rev1, rev2, "older than"))
	if _, body := get(t, e.url+"/users"); !strings.HasPrefix(body, "v2:") {
		t.Fatalf("node moved back: %s", body)
	}
}

func TestNodeBootsFromLastGoodSnapshotWithoutNATS(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	dataDir := t.TempDir()
	first := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public, dataDir: dataDir})
	dir := t.TempDir()
	wasm := watGuest(t, dir, "answer")
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "kept"))+fmt.Sprintf("filters: {answer: {module: %s}}\n", wasm)+
		"  # the filter is unused by routes but its artifact must be kept\n", "")
	eventually(t, 20*time.Second, "revision served", serves(t, first, "/users", "kept:"))
	eventually(t, 5*time.Second, "revision reported", nodeState(first, rev, StateReady))
	first.stop()

	// Nothing listens here: the node must boot from disk and keep trying.
	dead := deadAddr(t)
	second := startEdge(t, "nats://"+dead, edgeSpec{id: "edge-a", trust: pub.Identity().Public, dataDir: dataDir})
	if code, body := get(t, second.url+"/users"); code != 200 || !strings.HasPrefix(body, "kept:") {
		t.Fatalf("booted node answers %d %s", code, body)
	}
	if st := second.sub.Status(); st.Revision != rev || st.State != StateReady {
		t.Fatalf("booted status %+v", st)
	}
}

func TestBootRefusesLastGoodSignedByAnotherKey(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	dataDir := t.TempDir()
	first := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public, dataDir: dataDir})
	pub.mustApply(t, routeConfig("users", upstream(t, "kept")), "")
	eventually(t, 10*time.Second, "revision served", serves(t, first, "/users", "kept:"))
	first.stop()

	other, _, _ := ed25519.GenerateKey(rand.Reader)
	sub, err := NewSubscriber(SubscriberOptions{NodeID: "edge-a", Trust: other, DataDir: dataDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Boot(context.Background()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("boot with another trusted key: %v, want ErrBadSignature", err)
	}
}

func TestNodeReconnectsAfterNATSRestart(t *testing.T) {
	addr := deadAddr(t)
	store := t.TempDir()
	ns, err := StartEmbeddedNATS(addr, store)
	if err != nil {
		t.Fatal(err)
	}
	natsURL := ns.ClientURL()
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	pub.mustApply(t, routeConfig("users", upstream(t, "before")), "")
	eventually(t, 10*time.Second, "revision served", serves(t, e, "/users", "before:"))

	ns.Shutdown()
	ns.WaitForShutdown()
	ns, err = StartEmbeddedNATS(addr, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	// The publisher's own connection reconnects too (nats.go default).
	var rev int64
	eventually(t, 15*time.Second, "a publish after the restart", func() bool {
		r, err := pub.apply(t, routeConfig("users", upstream(t, "after")), "")
		if err == nil {
			rev = r.Revision
		}
		return err == nil
	})
	eventually(t, 15*time.Second, "the node following after the restart", serves(t, e, "/users", "after:"))
	eventually(t, 5*time.Second, "status after the restart", nodeState(e, rev, StateReady))
}

// deadAddr is a loopback address nothing listens on (for now).
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A node keeps the artifacts its running snapshot uses, not every artifact it
// ever ran: after a config with another module is applied, the old module's
// bytes are gone from its data dir.
func TestNodePrunesArtifactsItNoLongerRuns(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	nodeData := t.TempDir()
	e := startEdge(t, natsURL, edgeSpec{id: "prune", dataDir: nodeData, trust: pub.Identity().Public})
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
	up := upstream(t, "u")
	apply := func(guest, path string, code int) {
		t.Helper()
		wasm := watGuest(t, dir, guest)
		doc, artifacts, err := FromFile(writeConfig(t, dir, fmt.Sprintf(
			"upstreams: {u: {endpoints: [%q]}}\nfilters: {f: {module: %s}}\nroutes: [{name: r, match: {path: %s}, upstream: u, filters: [f]}]\n", up, wasm, path)))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := pub.client.Upload(context.Background(), artifacts); err != nil {
			t.Fatal(err)
		}
		if _, err := pub.client.Apply(context.Background(), doc, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the node serving "+path, func() bool {
			got, _ := get(t, e.url+path)
			return got == code
		})
	}
	apply("answer", "/first", 418)
	first := blobs()
	if len(first) != 1 {
		t.Fatalf("artifacts after the first snapshot: %v, want its one module", first)
	}
	apply("noop", "/second", 200)
	eventually(t, 10*time.Second, "the first module removed", func() bool {
		now := blobs()
		return len(now) == 1 && now[0] != first[0]
	})
}

// A snapshot a node failed to apply for a passing reason (here its artifact
// cache could not be written) is applied again after a wait, without a new
// revision: the node does not stay behind until the next release.
func TestFailedSnapshotIsRetried(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	nodeData := t.TempDir()
	blocker := filepath.Join(nodeData, "artifacts")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startEdge(t, natsURL, edgeSpec{id: "retry", dataDir: nodeData, trust: pub.Identity().Public, retryAfter: 50 * time.Millisecond})
	dir := t.TempDir()
	wasm := watGuest(t, dir, "answer")
	doc, artifacts, err := FromFile(writeConfig(t, dir, fmt.Sprintf("filters: {f: {module: %s}}\nroutes: [{name: r, match: {path: /fn}, filters: [f]}]\n", wasm)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pub.client.Upload(context.Background(), artifacts); err != nil {
		t.Fatal(err)
	}
	sum, err := pub.client.Apply(context.Background(), doc, "")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the node reporting the failure", func() bool {
		st := e.sub.Status()
		return st.State == StateError && st.Wanted == sum.Revision
	})
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the node applying the same revision again", func() bool {
		code, _ := get(t, e.url+"/fn")
		return code == 418
	})
	eventually(t, 10*time.Second, "the node reporting ready", nodeState(e, sum.Revision, StateReady))
}

// A node's status report carries its request totals.
func TestStatusCarriesRequestStats(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "stats", trust: pub.Identity().Public})
	rev := pub.mustApply(t, routeConfig("svc", upstream(t, "svc")), "")
	eventually(t, 20*time.Second, "the node ready", nodeState(e, rev, StateReady))
	for range 3 {
		if code, _ := get(t, e.url+"/svc"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	get(t, e.url+"/nowhere") // a 404 counts as a request, not a 5xx
	eventually(t, 10*time.Second, "the request totals in the status bucket", func() bool {
		nodes, err := ListNodes(context.Background(), pub.Buckets())
		if err != nil || len(nodes) != 1 {
			return false
		}
		st := nodes[0].Stats
		return st.Requests == 4 && st.Errors5xx == 0 && st.OpenConnections >= 0
	})
}
