package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/edge"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleetclient"
	"github.com/sluicegw/sluice/runtime/fleetnode"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// startNodeOnNATS runs a real edge node that, as `sluice edge --nats` does,
// shares one NATS connection (made with the node credentials) between its
// subscriber and the node: decisions, rate limits and purges ride on it.
func startNodeOnNATS(t *testing.T, natsURL, id string, pub *fleettest.Publisher, auth *fleet.NATSAuth) string {
	t.Helper()
	nc, err := fleet.Connect(natsURL, "sluice-edge "+id, fleettest.CredsOption(t, fleettest.NodeCreds(t, auth, id)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	data := t.TempDir()
	node := edge.NewNode(edge.Options{NodeID: id, DataDir: data, Logger: fleettest.Quiet, ShutdownTimeout: 2 * time.Second, NATS: nc})
	sub, err := fleetnode.New(fleetnode.Options{Conn: nc, Node: node, NodeID: id, Trust: pub.Identity().Public, DataDir: data,
		Logger: fleettest.Quiet, StatusInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	subDone, nodeDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(subDone); sub.Run(ctx) }()
	go func() { defer close(nodeDone); node.Run(ctx, edge.Listeners{Data: ln}) }()
	t.Cleanup(func() { cancel(); <-subDone; <-nodeDone })
	return "http://" + ln.Addr().String()
}

// gatePolicy writes a policy that allows GET and denies every other method.
func gatePolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rego := `package sluice.authz

default decision := {"allow": false, "status": 403, "reason": "read only"}

decision := {"allow": true} if input.request.method == "GET"
`
	if err := os.WriteFile(filepath.Join(dir, "gate.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// send makes one request and returns its status and decision id.
func send(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(edge.DecisionHeader)
}

// nextDecision waits for tail's next decision.
func nextDecision(t *testing.T, tail *fleetclient.DecisionTail, what string) *edge.DecisionRecord {
	t.Helper()
	type got struct {
		d   *edge.DecisionRecord
		err error
	}
	ch := make(chan got, 1)
	go func() { d, err := tail.Next(); ch <- got{d, err} }()
	select {
	case g := <-ch:
		if g.err != nil {
			t.Fatalf("%s: tail ended: %v", what, g.err)
		}
		return g.d
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no decision within 10s", what)
		return nil
	}
}

// TestDecisionTailEndToEnd: a real node with an OPA policy behind the
// node credentials publishes its decisions into SLUICE_DECISIONS; a tail
// through the publisher's API with a read-role token receives each, with
// the id the response carried, and a filtered tail only the denials of
// one route.
func TestDecisionTailEndToEnd(t *testing.T) {
	natsURL, creds := fleettest.StartAuthNATS(t)
	pub := fleettest.StartPublisher(t, natsURL, fleettest.CredsOption(t, creds.PublisherFile))
	nodeURL := startNodeOnNATS(t, natsURL, "eu-1", pub, creds)
	rev, err := pub.ApplyYAML(t, fmt.Sprintf(`upstreams: {svc: {endpoints: [%s]}}
policies:
  gate: {module: %s, decision_log: {sample: 1}}
routes:
  - {name: orders, match: {path_prefix: /orders}, upstream: svc, policy: gate}
  - {name: users, match: {path_prefix: /users}, upstream: svc, policy: gate}
`, fleettest.Upstream(t, "svc"), gatePolicy(t)), "")
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "the node serving the revision", func() bool {
		code, _ := send(t, "GET", nodeURL+"/orders/1")
		return code == 200
	})

	reader, err := pub.Client.CreateToken(context.Background(), "watcher", publisher.RoleRead)
	if err != nil {
		t.Fatal(err)
	}
	c := &fleetclient.Client{URL: pub.URL, Token: reader.Token}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all, err := c.TailDecisions(ctx, publisher.DecisionFilter{})
	if err != nil {
		t.Fatalf("tail with a read token: %v", err)
	}
	defer all.Close()
	denials, err := c.TailDecisions(ctx, publisher.DecisionFilter{Route: "orders", Deny: true})
	if err != nil {
		t.Fatal(err)
	}
	defer denials.Close()

	type sent struct {
		method, path string
		status       int
		id           string
	}
	var reqs []sent
	for _, r := range []struct{ method, path string }{{"GET", "/orders/1"}, {"DELETE", "/users/1"}, {"DELETE", "/orders/1"}, {"GET", "/users/2"}, {"POST", "/orders"}} {
		code, id := send(t, r.method, nodeURL+r.path)
		if id == "" {
			t.Fatalf("%s %s: no %s", r.method, r.path, edge.DecisionHeader)
		}
		reqs = append(reqs, sent{r.method, r.path, code, id})
	}
	for _, r := range reqs {
		d := nextDecision(t, all, r.method+" "+r.path)
		if d.ID != r.id || d.Method != r.method || d.Path != r.path {
			t.Fatalf("tail got %s %s %s, want %s %s %s (decisions in the order they were made)", d.ID, d.Method, d.Path, r.id, r.method, r.path)
		}
		if d.Allow != (r.status == 200) || d.Node != "eu-1" || d.Policy != "gate" || d.Revision != rev.Revision || d.Digest != rev.Digest {
			t.Errorf("decision %+v: want allow %v (status %d), node eu-1, policy gate, revision %d %s", d, r.status == 200, r.status, rev.Revision, rev.Digest)
		}
	}
	for _, want := range []sent{reqs[2], reqs[4]} {
		d := nextDecision(t, denials, "the denials of orders")
		if d.ID != want.id || d.Route != "orders" || d.Allow {
			t.Fatalf("filtered tail got %+v, want the denial %s of %s %s", d, want.id, want.method, want.path)
		}
	}

	// A token revoked while its tail runs ends the tail.
	if err := pub.Client.RevokeToken(context.Background(), "watcher"); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := all.Next(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the tail of a revoked token still runs after 10s")
	}
}

// TestDecisionTailNeedsAToken: the stream is behind the API's tokens.
func TestDecisionTailNeedsAToken(t *testing.T) {
	pub := fleettest.StartPublisher(t, fleettest.StartNATS(t))
	c := &fleetclient.Client{URL: pub.URL, Token: "nope"}
	_, err := c.TailDecisions(context.Background(), publisher.DecisionFilter{})
	var apiErr *fleetclient.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("tail with an unknown token: %v, want a 401", err)
	}
}
