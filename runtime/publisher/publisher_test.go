package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

func TestApplyReachesEveryNodeAndStatusShowsIt(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	var edges []*fleettest.Edge
	for i := range 3 {
		edges = append(edges, fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: fmt.Sprintf("edge-%d", i), Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public}))
	}
	rev := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users-v1")), "")
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e.ID+" serving revision 1", fleettest.Serves(t, e, "/users/1", "users-v1:/users/1"))
	}
	testkit.WaitFor(t, 5*time.Second, "status of 3 ready nodes", func() bool {
		st, err := pub.Client.Status(context.Background())
		if err != nil || st.Stable != rev || st.Canary != nil || len(st.Nodes) != 3 {
			return false
		}
		for _, n := range st.Nodes {
			if n.Revision != rev || n.State != fleet.StateReady || n.Labels["region"] != "eu" || time.Since(n.LastSeen) > 5*time.Second {
				return false
			}
		}
		return true
	})

	// A second revision replaces the first everywhere.
	rev2 := pub.MustApply(t, fleettest.RouteConfig("users", fleettest.Upstream(t, "users-v2")), "")
	if rev2 != rev+1 {
		t.Fatalf("second revision %d, want %d", rev2, rev+1)
	}
	for _, e := range edges {
		testkit.WaitFor(t, 10*time.Second, e.ID+" serving revision 2", fleettest.Serves(t, e, "/users/1", "users-v2:"))
		testkit.WaitFor(t, 5*time.Second, e.ID+" reporting revision 2", fleettest.NodeState(e, rev2, fleet.StateReady))
	}
}

func TestAPIRefusesMissingOrWrongToken(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	for _, token := range []string{"", "wrong", pub.Identity().Token + "x", strings.ToUpper(pub.Identity().Token)} {
		c := &fleetclient.Client{URL: pub.URL, Token: token}
		_, err := c.Status(context.Background())
		var ae *fleetclient.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("token %q: got %v, want a 401", token, err)
		}
	}
	// Another scheme with the right token is refused too.
	req, _ := http.NewRequest("GET", pub.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Basic "+pub.Identity().Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("Basic scheme: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := pub.Client.Status(context.Background()); err != nil {
		t.Fatalf("right token refused: %v", err)
	}
}

func TestKeysAndTokenAreCreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	id, err := fleet.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fleet.TokenFile, fleet.SigningKeyFile, fleet.SigningPubFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	again, err := fleet.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Token != id.Token || !again.Key.Equal(id.Key) {
		t.Fatal("a second start changed the token or the key")
	}
	pub, err := fleet.LoadPublicKey(filepath.Join(dir, fleet.SigningPubFile))
	if err != nil || !pub.Equal(id.Public) {
		t.Fatalf("signing.pub: %v", err)
	}
}

func TestInvalidConfigPublishesNothing(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	// Valid YAML that fails only when built: a policy that does not compile.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package sluice.authz\n\ndecision := input.nope +\n"), 0o644)
	text := fleettest.RouteConfig("users", "http://127.0.0.1:1") + fmt.Sprintf("policies: {authz: {module: %s}}\n", dir)
	_, err := pub.ApplyYAML(t, text, "")
	var ae *fleetclient.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !strings.Contains(ae.Message, `policy "authz"`) {
		t.Fatalf("apply of a broken policy: %v", err)
	}
	if _, err := pub.Buckets().Config.Get(context.Background(), fleet.StableKey); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("something was published: %v", err)
	}
	if revs, _ := pub.Revisions(context.Background()); len(revs) != 0 {
		t.Fatalf("revisions recorded: %d", len(revs))
	}
}

func TestFiltersAndPoliciesTravelAsArtifacts(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	dir := t.TempDir()
	wasm := fleettest.WatGuest(t, dir, "answer")
	pol := filepath.Join(dir, "authz")
	os.MkdirAll(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "authz.rego"), []byte("package sluice.authz\n\ndecision := input.request.method == \"GET\"\n"), 0o644)
	os.WriteFile(filepath.Join(pol, "authz_test.rego"), []byte("package sluice.authz_test\n"), 0o644)
	text := fmt.Sprintf(`filters: {answer: {module: %s}}
policies: {authz: {module: %s}}
routes:
  - {name: fn, match: {path: /fn}, filters: [answer], policy: authz}
`, wasm, pol)
	path := fleettest.WriteConfig(t, dir, text)
	doc, blobs, err := artifacts.FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	up, skipped, err := pub.Client.Upload(context.Background(), blobs)
	if err != nil || up != 2 || skipped != 0 {
		t.Fatalf("first upload: %d uploaded, %d skipped, %v", up, skipped, err)
	}
	if up, skipped, err = pub.Client.Upload(context.Background(), blobs); err != nil || up != 0 || skipped != 2 {
		t.Fatalf("second upload: %d uploaded, %d skipped, %v; want everything skipped", up, skipped, err)
	}
	if _, err := pub.Client.Apply(context.Background(), doc, ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "the wasm filter answering on the node", func() bool {
		code, body := fleettest.Get(t, e.URL+"/fn")
		return code == 418 && strings.HasPrefix(body, "hello from wasm")
	})
	// The policy came along: POST is denied.
	resp, err := http.Post(e.URL+"/fn", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("POST: %d, want 403 from the policy", resp.StatusCode)
	}
}

func TestUploadWithWrongDigestIsRefused(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	_, _, err := pub.Client.Upload(context.Background(), map[string][]byte{fleet.Digest([]byte("a")): []byte("b")})
	var ae *fleetclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "digest mismatch") {
		t.Fatalf("got %v", err)
	}
}

// Listing nodes must not miss one that is reporting at that moment (the KV
// ListKeys watch did: 19 of 300 listings came back short).
func TestStatusListsEveryNodeWhileTheyReport(t *testing.T) {
	_, js := fleettest.Connect(t, fleettest.StartNATS(t))
	ctx := context.Background()
	b, err := fleet.OpenBuckets(ctx, js, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("n%d", i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				b.Nodes.Put(ctx, id, fleet.MustJSON(fleet.NodeStatus{ID: id, State: fleet.StateReady, LastSeen: time.Now()}))
			}
		}()
	}
	testkit.WaitFor(t, 5*time.Second, "three nodes reporting", func() bool {
		ns, err := fleet.ListNodes(ctx, b)
		return err == nil && len(ns) == 3
	})
	for i := range 200 {
		ns, err := fleet.ListNodes(ctx, b)
		if err != nil || len(ns) != 3 {
			t.Fatalf("listing %d: %d nodes, %v", i, len(ns), err)
		}
	}
	// A deleted node is not listed.
	if err := b.Nodes.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if ns, _ := fleet.ListNodes(ctx, b); len(ns) != 3 {
		t.Fatalf("after a delete marker: %d nodes", len(ns))
	}
}

func TestAStoppedNodeLeavesTheStatus(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	a := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public})
	fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-b", Trust: pub.Identity().Public})
	count := func(n int) func() bool {
		return func() bool {
			st, err := pub.Status(context.Background())
			return err == nil && len(st.Nodes) == n
		}
	}
	testkit.WaitFor(t, 10*time.Second, "two nodes listed", count(2))
	a.Stop()
	testkit.WaitFor(t, 5*time.Second, "one node listed after a clean stop", count(1))
}

// Relative data dirs (the default is ".sluice"): the publisher's build and
// the node's materialized config must find the artifacts they cached.
func TestRelativeDataDirsFindTheirArtifacts(t *testing.T) {
	wasm := fleettest.WatGuest(t, t.TempDir(), "answer") // before the chdir: testdata is relative
	t.Chdir(t.TempDir())
	natsURL := fleettest.StartNATS(t)
	_, js := fleettest.Connect(t, natsURL)
	p, err := publisher.New(context.Background(), publisher.Options{DataDir: "pub", JS: js, Logger: fleettest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	client := &fleetclient.Client{URL: srv.URL, Token: p.Identity().Token, Author: "tester"}
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "relative", DataDir: "node", Trust: p.Identity().Public})

	doc, blobs, err := artifacts.FromFile(fleettest.WriteConfig(t, ".", fmt.Sprintf("filters: {answer: {module: %s}}\nroutes: [{name: fn, match: {path: /fn}, filters: [answer]}]\n", wasm)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Upload(context.Background(), blobs); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Apply(context.Background(), doc, ""); err != nil {
		t.Fatalf("apply with the publisher's data dir relative: %v", err)
	}
	testkit.WaitFor(t, 20*time.Second, "the node serving the filter from its relative data dir", func() bool {
		code, _ := fleettest.Get(t, e.URL+"/fn")
		return code == 418
	})
}
