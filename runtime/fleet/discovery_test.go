package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// announce runs Announce in the background until the returned stop is
// called; stop waits for the withdrawal.
func announce(t *testing.T, natsURL, service, url string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Announce(ctx, natsURL, service, url, 100*time.Millisecond, quiet) }()
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
	natsURL := startNATS(t)
	pub := startPublisher(t, natsURL)
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: pub.Identity().Public, discovery: true})
	static := upstream(t, "static")
	text := "upstreams:\n  billing: {discovery: nats}\n  other: {endpoints: [" + static + "]}\n" +
		"routes:\n  - {name: billing, match: {path_prefix: /billing}, upstream: billing}\n  - {name: other, match: {path: /other}, upstream: other}\n"
	rev := pub.mustApply(t, text, "")
	eventually(t, 10*time.Second, "the snapshot applied", nodeState(e, rev, StateReady))
	if code, _ := get(t, e.url+"/billing"); code != 503 {
		t.Fatalf("no instance announced yet: %d, want 503", code)
	}

	stopA := announce(t, natsURL, "billing", upstream(t, "billing-a"))
	eventually(t, 5*time.Second, "billing-a discovered", serves(t, e, "/billing", "billing-a:"))
	announce(t, natsURL, "billing", upstream(t, "billing-b"))
	eventually(t, 5*time.Second, "billing-b discovered too", serves(t, e, "/billing", "billing-b:"))

	stopA() // withdrawn: only b answers from now on
	eventually(t, 5*time.Second, "billing-a gone", func() bool { return len(e.discovery.Instances("billing")) == 1 })
	for range 10 {
		if _, body := get(t, e.url+"/billing"); !strings.HasPrefix(body, "billing-b:") {
			t.Fatalf("after billing-a left: %s", body)
		}
	}

	// A new snapshot starts with the instances known now.
	rev2 := pub.mustApply(t, strings.Replace(text, "path: /other", "path: /other2", 1), "")
	eventually(t, 10*time.Second, "revision 2 applied", nodeState(e, rev2, StateReady))
	if _, body := get(t, e.url+"/billing"); !strings.HasPrefix(body, "billing-b:") {
		t.Fatalf("after a new snapshot: %s", body)
	}
	// An upstream without discovery: nats ignores announcements.
	announce(t, natsURL, "other", upstream(t, "intruder"))
	eventually(t, 5*time.Second, "the other announcement seen", func() bool { return len(e.discovery.Instances("other")) == 1 })
	for range 10 {
		if _, body := get(t, e.url+"/other2"); !strings.HasPrefix(body, "static:") {
			t.Fatalf("a static upstream took an announced instance: %s", body)
		}
	}
}

func TestInstanceKeyRefusesBadServiceNames(t *testing.T) {
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>"} {
		if _, err := InstanceKey(bad, "http://x"); err == nil {
			t.Errorf("service %q accepted", bad)
		}
	}
	k1, _ := InstanceKey("svc", "http://10.0.0.1:80")
	k2, _ := InstanceKey("svc", "http://10.0.0.1:80")
	k3, _ := InstanceKey("svc", "http://10.0.0.2:80")
	if k1 != k2 || k1 == k3 || !strings.HasPrefix(k1, "svc.") || strings.Count(k1, ".") != 1 {
		t.Fatalf("keys %s %s %s", k1, k2, k3)
	}
}

// An instance whose announcer stops refreshing expires: the watch sees the
// bucket's expiry marker and the instance is dropped. (A bucket with a
// 1 s TTL stands in for sluice_services, whose TTL is 15 s.)
func TestUnrefreshedInstanceExpires(t *testing.T) {
	_, js := connect(t, startNATS(t))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "services_short", TTL: time.Second, LimitMarkerTTL: time.Second, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDiscovery(quiet)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Follow(fctx, kv) }()
	defer func() { cancel(); <-done }()

	key, _ := InstanceKey("billing", "http://10.0.0.1:80")
	if _, err := kv.Put(ctx, key, mustJSON(Announcement{Service: "billing", URL: "http://10.0.0.1:80"})); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the instance seen", func() bool { return len(d.Instances("billing")) == 1 })
	eventually(t, 10*time.Second, "the instance expired", func() bool { return len(d.Instances("billing")) == 0 })
}
