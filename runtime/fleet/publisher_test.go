package fleet

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
)

func TestApplyReachesEveryNodeAndStatusShowsIt(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	var edges []*testEdge
	for i := range 3 {
		edges = append(edges, startEdge(t, natsURL, edgeSpec{id: fmt.Sprintf("edge-%d", i), labels: map[string]string{"region": "eu"}, trust: pub.Identity().Public}))
	}
	rev := pub.mustApply(t, routeConfig("users", upstream(t, "users-v1")), "")
	for _, e := range edges {
		eventually(t, 10*time.Second, e.id+" serving revision 1", serves(t, e, "/users/1", "users-v1:/users/1"))
	}
	eventually(t, 5*time.Second, "status of 3 ready nodes", func() bool {
		st, err := pub.client.Status(context.Background())
		if err != nil || st.Stable != rev || st.Canary != nil || len(st.Nodes) != 3 {
			return false
		}
		for _, n := range st.Nodes {
			if n.Revision != rev || n.State != StateReady || n.Labels["region"] != "eu" || time.Since(n.LastSeen) > 5*time.Second {
				return false
			}
		}
		return true
	})

	// A second revision replaces the first everywhere.
	rev2 := pub.mustApply(t, routeConfig("users", upstream(t, "users-v2")), "")
	if rev2 != rev+1 {
		t.Fatalf("second revision %d, want %d", rev2, rev+1)
	}
	for _, e := range edges {
		eventually(t, 10*time.Second, e.id+" serving revision 2", serves(t, e, "/users/1", "users-v2:"))
		eventually(t, 5*time.Second, e.id+" reporting revision 2", nodeState(e, rev2, StateReady))
	}
}

func TestAPIRefusesMissingOrWrongToken(t *testing.T) {
	pub := startPublisher(t, startNATS(t))
	for _, token := range []string{"", "wrong", pub.Identity().Token + "x", strings.ToUpper(pub.Identity().Token)} {
		c := &Client{URL: pub.url, Token: token}
		_, err := c.Status(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("token %q: got %v, want a 401", token, err)
		}
	}
	// Another scheme with the right token is refused too.
	req, _ := http.NewRequest("GET", pub.url+"/v1/status", nil)
	req.Header.Set("Authorization", "Basic "+pub.Identity().Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("Basic scheme: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := pub.client.Status(context.Background()); err != nil {
		t.Fatalf("right token refused: %v", err)
	}
}

func TestKeysAndTokenAreCreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{TokenFile, SigningKeyFile, SigningPubFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	again, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Token != id.Token || !again.Key.Equal(id.Key) {
		t.Fatal("a second start changed the token or the key")
	}
	pub, err := LoadPublicKey(filepath.Join(dir, SigningPubFile))
	if err != nil || !pub.Equal(id.Public) {
		t.Fatalf("signing.pub: %v", err)
	}
}

func TestInvalidConfigPublishesNothing(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	// Valid YAML that fails only when built: a policy that does not compile.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package sluice.authz\n\ndecision := input.nope +\n"), 0o644)
	text := routeConfig("users", "http://127.0.0.1:1") + fmt.Sprintf("policies: {authz: {module: %s}}\n", dir)
	_, err := pub.apply(t, text, "")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !strings.Contains(ae.Message, `policy "authz"`) {
		t.Fatalf("apply of a broken policy: %v", err)
	}
	if _, err := pub.Buckets().Config.Get(context.Background(), StableKey); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("something was published: %v", err)
	}
	if revs, _ := pub.Revisions(context.Background()); len(revs) != 0 {
		t.Fatalf("revisions recorded: %d", len(revs))
	}
}

func TestFiltersAndPoliciesTravelAsArtifacts(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	dir := t.TempDir()
	wasm := watGuest(t, dir, "answer")
	pol := filepath.Join(dir, "authz")
	os.MkdirAll(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "authz.rego"), []byte("package sluice.authz\n\ndecision := input.request.method == \"GET\"\n"), 0o644)
	os.WriteFile(filepath.Join(pol, "authz_test.rego"), []byte("package sluice.authz_test\n"), 0o644)
	text := fmt.Sprintf(`filters: {answer: {module: %s}}
policies: {authz: {module: %s}}
routes:
  - {name: fn, match: {path: /fn}, filters: [answer], policy: authz}
`, wasm, pol)
	path := writeConfig(t, dir, text)
	doc, artifacts, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	up, skipped, err := pub.client.Upload(context.Background(), artifacts)
	if err != nil || up != 2 || skipped != 0 {
		t.Fatalf("first upload: %d uploaded, %d skipped, %v", up, skipped, err)
	}
	if up, skipped, err = pub.client.Upload(context.Background(), artifacts); err != nil || up != 0 || skipped != 2 {
		t.Fatalf("second upload: %d uploaded, %d skipped, %v; want everything skipped", up, skipped, err)
	}
	if _, err := pub.client.Apply(context.Background(), doc, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the wasm filter answering on the node", func() bool {
		code, body := get(t, e.url+"/fn")
		return code == 418 && strings.HasPrefix(body, "hello from wasm")
	})
	// The policy came along: POST is denied.
	resp, err := http.Post(e.url+"/fn", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("POST: %d, want 403 from the policy", resp.StatusCode)
	}
}

func TestUploadWithWrongDigestIsRefused(t *testing.T) {
	pub := startPublisher(t, startNATS(t))
	err := pub.client.do(context.Background(), http.MethodPut, "/v1/artifacts/"+Digest([]byte("a")), strings.NewReader("b"), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "digest mismatch") {
		t.Fatalf("got %v", err)
	}
}

// Listing nodes must not miss one that is reporting at that moment (the KV
// ListKeys watch did: 19 of 300 listings came back short).
func TestStatusListsEveryNodeWhileTheyReport(t *testing.T) {
	_, js := connect(t, startNATS(t))
	ctx := context.Background()
	b, err := OpenBuckets(ctx, js, 0)
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
				b.Nodes.Put(ctx, id, mustJSON(NodeStatus{ID: id, State: StateReady, LastSeen: time.Now()}))
			}
		}()
	}
	eventually(t, 5*time.Second, "three nodes reporting", func() bool {
		ns, err := ListNodes(ctx, b)
		return err == nil && len(ns) == 3
	})
	for i := range 200 {
		ns, err := ListNodes(ctx, b)
		if err != nil || len(ns) != 3 {
			t.Fatalf("listing %d: %d nodes, %v", i, len(ns), err)
		}
	}
	// A deleted node is not listed.
	if err := b.Nodes.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if ns, _ := ListNodes(ctx, b); len(ns) != 3 {
		t.Fatalf("after a delete marker: %d nodes", len(ns))
	}
}

func TestAStoppedNodeLeavesTheStatus(t *testing.T) {
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	a := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public})
	startEdge(t, natsURL, edgeSpec{id: "edge-b", trust: pub.Identity().Public})
	count := func(n int) func() bool {
		return func() bool {
			st, err := pub.Status(context.Background())
			return err == nil && len(st.Nodes) == n
		}
	}
	eventually(t, 10*time.Second, "two nodes listed", count(2))
	a.stop()
	eventually(t, 5*time.Second, "one node listed after a clean stop", count(1))
}

// Relative data dirs (the default is ".sluice"): the publisher's build and
// the node's materialized config must find the artifacts they cached.
func TestRelativeDataDirsFindTheirArtifacts(t *testing.T) {
	wasm := watGuest(t, t.TempDir(), "answer") // before the chdir: testdata is relative
	t.Chdir(t.TempDir())
	natsURL := startNATS(t)
	_, js := connect(t, natsURL)
	p, err := NewPublisher(context.Background(), PublisherOptions{DataDir: "pub", JS: js, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	client := &Client{URL: srv.URL, Token: p.Identity().Token, Author: "tester"}
	e := startEdge(t, natsURL, edgeSpec{id: "relative", dataDir: "node", trust: p.Identity().Public})

	doc, artifacts, err := FromFile(writeConfig(t, ".", fmt.Sprintf("filters: {answer: {module: %s}}\nroutes: [{name: fn, match: {path: /fn}, filters: [answer]}]\n", wasm)))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Upload(context.Background(), artifacts); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Apply(context.Background(), doc, ""); err != nil {
		t.Fatalf("apply with the publisher's data dir relative: %v", err)
	}
	eventually(t, 20*time.Second, "the node serving the filter from its relative data dir", func() bool {
		code, _ := get(t, e.url+"/fn")
		return code == 418
	})
}
