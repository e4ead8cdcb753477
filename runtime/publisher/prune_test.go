package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestRevisionsAndUnusedArtifactsArePrunedPastTheRetention(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	_, js := fleettest.Connect(t, natsURL)
	ctx := context.Background()
	p, err := publisher.New(ctx, publisher.Options{DataDir: t.TempDir(), JS: js, Logger: fleettest.Quiet, KeepRevisions: 3, ArtifactGrace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	pub := &fleettest.Publisher{Publisher: p, URL: srv.URL, Client: &fleetclient.Client{URL: srv.URL, Token: p.Identity().Token}}
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-a", Trust: p.Identity().Public})
	up := fleettest.Upstream(t, "up")

	// Each revision has a policy of its own, so an artifact of its own.
	policy := map[int64]string{}
	apply := func(n int, canary string) int64 {
		t.Helper()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "p.rego"), []byte(fmt.Sprintf("package sluice.authz\n\ndecision := true # %d\n", n)), 0o644)
		bundle, err := artifacts.PackPolicy(dir)
		if err != nil {
			t.Fatal(err)
		}
		rev := pub.MustApply(t, fleettest.RouteConfig("users", up)+fmt.Sprintf("policies: {authz: {module: %s}}\n", dir), canary)
		policy[rev] = fleet.Digest(bundle)
		// With a grace of 1 ns, a prune still running when the next
		// artifact is uploaded would take it before its apply uses it.
		p.WaitPruned()
		return rev
	}
	recordsAndArtifacts := func() ([]string, []string) {
		t.Helper()
		keys, err := p.Buckets().Keys(ctx, fleet.ConfigBucket, fleet.RevisionPrefix+">")
		if err != nil {
			t.Fatal(err)
		}
		objs, err := p.Buckets().Artifacts.List(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
			t.Fatal(err)
		}
		var arts []string
		for _, o := range objs {
			arts = append(arts, o.Name)
		}
		slices.Sort(arts)
		return keys, arts
	}
	want := func(revs ...int64) ([]string, []string) {
		var keys, arts []string
		for _, r := range revs {
			keys, arts = append(keys, fleet.RevisionKey(r)), append(arts, policy[r])
		}
		slices.Sort(keys)
		slices.Sort(arts)
		return keys, arts
	}

	stable := apply(1, "")
	testkit.WaitFor(t, 10*time.Second, "the node on revision 1", fleettest.NodeState(e, stable, fleet.StateReady))
	// Five canaries, each replacing the last: stable stays, as does the
	// newest canary, and the newest three records in all.
	for i := 2; i <= 6; i++ {
		apply(i, "region=nowhere")
	}
	// Pruning follows a publish in the background.
	pruned := func(what string, revs ...int64) {
		t.Helper()
		wantKeys, wantArts := want(revs...)
		var gotKeys, gotArts []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			if gotKeys, gotArts = recordsAndArtifacts(); slices.Equal(gotKeys, wantKeys) && slices.Equal(gotArts, wantArts) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s:\nrecords %v, want %v\nartifacts %v, want %v", what, gotKeys, wantKeys, gotArts, wantArts)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pruned("with stable 1 and canary 6", 1, 4, 5, 6)

	// A new stable revision: revision 1 is no longer protected.
	rev7 := apply(7, "")
	pruned("with stable 7", 5, 6, 7)
	testkit.WaitFor(t, 10*time.Second, "the node on revision 7", fleettest.NodeState(e, rev7, fleet.StateReady))
	if code, body := fleettest.Get(t, e.URL+"/users"); code != 200 || !strings.HasPrefix(body, "up:") {
		t.Fatalf("the node after pruning: %d %s", code, body)
	}
	_, err = pub.Client.Rollback(ctx, 1)
	apiErr(t, "rollback to a pruned revision", err, 404, "no such revision", "keeps the newest 3")
	if _, err := pub.Client.Rollback(ctx, 6); err != nil {
		t.Fatalf("rollback to a kept revision: %v", err)
	}
}

// BenchmarkPrune is what each publish pays to prune at the steady state:
// 50 kept revision records (each decoded for the artifacts it uses) and 50
// artifacts, nothing to remove.
func BenchmarkPrune(b *testing.B) {
	pub := fleettest.StartPublisher(b, fleettest.StartNATS(b))
	ctx := context.Background()
	for i := 1; i <= publisher.DefaultKeepRevisions; i++ {
		blob := []byte(fmt.Sprintf("artifact %d", i))
		d := fleet.Digest(blob)
		if err := pub.PutArtifact(ctx, d, blob); err != nil {
			b.Fatal(err)
		}
		doc := &fleet.Document{Config: fleettest.RouteConfig("users", "http://127.0.0.1:1"), Policies: map[string]string{"p": d}}
		env, err := fleet.Seal(pub.Identity().Key, int64(i), "", doc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pub.Buckets().Config.Create(ctx, fleet.RevisionKey(int64(i)), fleet.MustJSON(&publisher.Revision{Revision: int64(i), Envelope: env})); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		pub.PruneOnce(ctx)
	}
}
