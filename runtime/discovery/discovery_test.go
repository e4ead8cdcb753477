package discovery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluicegw/sluice/runtime/discovery"
	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// announce runs Announce in the background until the returned stop is
// called; stop waits for the withdrawal.
func announce(t *testing.T, natsURL, service, url string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- discovery.Announce(ctx, natsURL, service, url, 100*time.Millisecond, fleettest.Quiet) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("announce %s: %v", url, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestDiscoveredInstancesComeAndGoWithoutASnapshot(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: pub.Identity().Public, Discovery: true})
	static := fleettest.Upstream(t, "static")
	text := "upstreams:\n  billing: {discovery: nats}\n  other: {endpoints: [" + static + "]}\n" +
		"routes:\n  - {name: billing, match: {path_prefix: /billing}, upstream: billing}\n  - {name: other, match: {path: /other}, upstream: other}\n"
	rev := pub.MustApply(t, text, "")
	testkit.WaitFor(t, 10*time.Second, "the snapshot applied", fleettest.NodeState(e, rev, fleet.StateReady))
	if code, _ := fleettest.Get(t, e.URL+"/billing"); code != 503 {
		t.Fatalf("no instance announced yet: %d, want 503", code)
	}

	stopA := announce(t, natsURL, "billing", fleettest.Upstream(t, "billing-a"))
	testkit.WaitFor(t, 5*time.Second, "billing-a discovered", fleettest.Serves(t, e, "/billing", "billing-a:"))
	announce(t, natsURL, "billing", fleettest.Upstream(t, "billing-b"))
	testkit.WaitFor(t, 5*time.Second, "billing-b discovered too", fleettest.Serves(t, e, "/billing", "billing-b:"))

	stopA() // withdrawn: only b answers from now on
	testkit.WaitFor(t, 5*time.Second, "billing-a gone", func() bool { return len(e.Discovery.Instances("billing")) == 1 })
	for range 10 {
		if _, body := fleettest.Get(t, e.URL+"/billing"); !strings.HasPrefix(body, "billing-b:") {
			t.Fatalf("after billing-a left: %s", body)
		}
	}

	// A new snapshot starts with the instances known now.
	rev2 := pub.MustApply(t, strings.Replace(text, "path: /other", "path: /other2", 1), "")
	testkit.WaitFor(t, 10*time.Second, "revision 2 applied", fleettest.NodeState(e, rev2, fleet.StateReady))
	if _, body := fleettest.Get(t, e.URL+"/billing"); !strings.HasPrefix(body, "billing-b:") {
		t.Fatalf("after a new snapshot: %s", body)
	}
	// An upstream without discovery: nats ignores announcements.
	announce(t, natsURL, "other", fleettest.Upstream(t, "intruder"))
	testkit.WaitFor(t, 5*time.Second, "the other announcement seen", func() bool { return len(e.Discovery.Instances("other")) == 1 })
	for range 10 {
		if _, body := fleettest.Get(t, e.URL+"/other2"); !strings.HasPrefix(body, "static:") {
			t.Fatalf("a static upstream took an announced instance: %s", body)
		}
	}
}

func TestInstanceKeyRefusesBadServiceNames(t *testing.T) {
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>"} {
		if _, err := discovery.InstanceKey(bad, "http://x"); err == nil {
			t.Errorf("service %q accepted", bad)
		}
	}
	k1, _ := discovery.InstanceKey("svc", "http://10.0.0.1:80")
	k2, _ := discovery.InstanceKey("svc", "http://10.0.0.1:80")
	k3, _ := discovery.InstanceKey("svc", "http://10.0.0.2:80")
	if k1 != k2 || k1 == k3 || !strings.HasPrefix(k1, "svc.") || strings.Count(k1, ".") != 1 {
		t.Fatalf("keys %s %s %s", k1, k2, k3)
	}
}

// An instance whose announcer stops refreshing expires: the watch sees the
// bucket's expiry marker and the instance is dropped. (A bucket with a
// 1 s TTL stands in for sluice_services, whose TTL is 15 s.)
func TestUnrefreshedInstanceExpires(t *testing.T) {
	_, js := fleettest.Connect(t, fleettest.StartNATS(t))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "services_short", TTL: time.Second, LimitMarkerTTL: time.Second, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	d := discovery.New(fleettest.Quiet)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Follow(fctx, kv) }()
	defer func() { cancel(); <-done }()

	key, _ := discovery.InstanceKey("billing", "http://10.0.0.1:80")
	if _, err := kv.Put(ctx, key, fleet.MustJSON(discovery.Announcement{Service: "billing", URL: "http://10.0.0.1:80"})); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the instance seen", func() bool { return len(d.Instances("billing")) == 1 })
	testkit.WaitFor(t, 10*time.Second, "the instance expired", func() bool { return len(d.Instances("billing")) == 0 })
}
