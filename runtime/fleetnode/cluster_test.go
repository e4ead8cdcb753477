package fleetnode_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sluicegw/sluice/runtime/artifacts"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// startCluster runs n embedded nats-servers with JetStream, routed into one
// cluster on loopback, and waits until JetStream has a meta leader.
// A clustered server only starts listening for routes well into its start,
// so the route ports are picked up front (listen on :0, note, close) and
// every server is given all of them.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	var routes []*url.URL
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		routes = append(routes, &url.URL{Scheme: "nats", Host: ln.Addr().String()})
		ln.Close()
	}
	var servers []*server.Server
	for i := range n {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("sluice-%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "sluice-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		servers = append(servers, ns)
	}
	for i, ns := range servers {
		if !ns.ReadyForConnections(15 * time.Second) {
			t.Fatalf("server %d not ready", i)
		}
	}
	// The JetStream meta group needs a leader before any bucket can be made.
	testkit.WaitFor(t, 15*time.Second, "a JetStream meta leader", func() bool {
		for _, ns := range servers {
			if ns.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return servers
}

// TestClusterServerLossLosesNoRevision runs the fleet on a three-server
// NATS cluster with every bucket kept on all three, nodes connected to
// different servers, and shuts down the server leading the snapshot
// bucket in the middle of a run of applies: every node must end on the
// last revision, and every revision the publisher acknowledged must be
// in the bucket afterwards.
func TestClusterServerLossLosesNoRevision(t *testing.T) {
	servers := startCluster(t, 3)
	var urls []string
	for _, ns := range servers {
		urls = append(urls, ns.ClientURL())
	}
	_, js := fleettest.Connect(t, strings.Join(urls, ","))
	dir := t.TempDir()
	var p *publisher.Publisher
	testkit.WaitFor(t, 15*time.Second, "the publisher's replicated buckets", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		p, err = publisher.New(ctx, publisher.Options{DataDir: dir, JS: js, Logger: fleettest.Quiet, Replicas: 3})
		return err == nil
	})
	t.Cleanup(p.Close)
	info, err := js.Stream(context.Background(), "KV_"+fleet.ConfigBucket)
	if err != nil {
		t.Fatal(err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("config bucket replicas: %d", r)
	}

	// Two nodes on each server, each given only its own server's URL: it
	// learns the others from the cluster's gossip, as a real node would.
	var edges []*fleettest.Edge
	for i := range 6 {
		edges = append(edges, fleettest.StartEdge(t, urls[i%3], fleettest.EdgeSpec{ID: fmt.Sprintf("edge-%d", i), Trust: p.Identity().Public}))
	}
	// Opening the buckets from a node must not scale them down.
	testkit.WaitFor(t, 10*time.Second, "every node in the status bucket", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		nodes, err := fleet.ListNodes(ctx, p.Buckets())
		return err == nil && len(nodes) == len(edges)
	})
	if info, err = js.Stream(context.Background(), "KV_"+fleet.ConfigBucket); err != nil || info.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("config bucket after the nodes opened it: %v %+v", err, info)
	}
	leader := info.CachedInfo().Cluster.Leader

	up := fleettest.Upstream(t, "up")
	publish := func(i int) int64 {
		t.Helper()
		doc, _, err := artifacts.FromFile(fleettest.WriteConfig(t, t.TempDir(), fleettest.RouteConfig(fmt.Sprintf("r%d", i), up)))
		if err != nil {
			t.Fatal(err)
		}
		// During the failover a publish may time out; the operator sees the
		// error and runs apply again, as the test does, within a deadline.
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			rec, err := p.Apply(ctx, doc, "")
			cancel()
			if err == nil {
				return rec.Revision
			}
			if time.Now().After(deadline) {
				t.Fatalf("apply %d: %v", i, err)
			}
			t.Logf("apply %d during the failover: %v; again", i, err)
		}
	}
	const applies = 10
	var acked []int64
	for i := range applies {
		if i == applies/2 {
			for _, ns := range servers {
				if ns.Name() == leader {
					t.Logf("shutting down %s, leader of the snapshot bucket", leader)
					ns.Shutdown()
				}
			}
		}
		acked = append(acked, publish(i))
	}
	last := acked[len(acked)-1]
	acked0 := time.Now()
	for _, e := range edges {
		testkit.WaitFor(t, 15*time.Second, e.ID+" on the last revision", fleettest.NodeState(e, last, fleet.StateReady))
		if code, body := fleettest.Get(t, e.URL+fmt.Sprintf("/r%d", applies-1)); code != 200 || !strings.HasPrefix(body, "up:") {
			t.Fatalf("%s serving the last route: %d %q", e.ID, code, body)
		}
	}
	t.Logf("every node on revision %d %s after the last apply", last, time.Since(acked0).Round(time.Millisecond))
	// Every acknowledged revision survived the loss of a server.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, rev := range acked {
		if _, err := p.Buckets().Config.Get(ctx, fleet.RevisionKey(rev)); err != nil {
			t.Fatalf("revision %d acknowledged, then lost: %v", rev, err)
		}
	}
}
