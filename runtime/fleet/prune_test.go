package fleet

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
)

func TestRevisionsAndUnusedArtifactsArePrunedPastTheRetention(t *testing.T) {
	natsURL := startNATS(t)
	_, js := connect(t, natsURL)
	ctx := context.Background()
	p, err := NewPublisher(ctx, PublisherOptions{DataDir: t.TempDir(), JS: js, Logger: quiet, KeepRevisions: 3, ArtifactGrace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	pub := &testPublisher{Publisher: p, url: srv.URL, client: &Client{URL: srv.URL, Token: p.Identity().Token}}
	e := startEdge(t, natsURL, edgeSpec{id: "edge-a", trust: p.Identity().Public})
	up := upstream(t, "up")

	// Each revision has a policy of its own, so an artifact of its own.
	policy := map[int64]string{}
	apply := func(n int, canary string) int64 {
		t.Helper()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "p.rego"), []byte(fmt.Sprintf("package sluice.authz\n\ndecision := true # %d\n", n)), 0o644)
		bundle, err := PackPolicy(dir)
		if err != nil {
			t.Fatal(err)
		}
		rev := pub.mustApply(t, routeConfig("users", up)+fmt.Sprintf("policies: {authz: {module: %s}}\n", dir), canary)
		policy[rev] = Digest(bundle)
		return rev
	}
	recordsAndArtifacts := func() ([]string, []string) {
		t.Helper()
		keys, err := p.Buckets().keys(ctx, ConfigBucket, revisionPrefix+">")
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
			keys, arts = append(keys, revisionKey(r)), append(arts, policy[r])
		}
		slices.Sort(keys)
		slices.Sort(arts)
		return keys, arts
	}

	stable := apply(1, "")
	eventually(t, 10*time.Second, "the node on revision 1", nodeState(e, stable, StateReady))
	// Five canaries, each replacing the last: stable stays, as does the
	// newest canary, and the newest three records in all.
	for i := 2; i <= 6; i++ {
		apply(i, "region=nowhere")
	}
	gotKeys, gotArts := recordsAndArtifacts()
	wantKeys, wantArts := want(1, 4, 5, 6)
	if !slices.Equal(gotKeys, wantKeys) || !slices.Equal(gotArts, wantArts) {
		t.Fatalf("with stable 1 and canary 6:\nrecords %v, want %v\nartifacts %v, want %v", gotKeys, wantKeys, gotArts, wantArts)
	}

	// A new stable revision: revision 1 is no longer protected.
	rev7 := apply(7, "")
	gotKeys, gotArts = recordsAndArtifacts()
	wantKeys, wantArts = want(5, 6, 7)
	if !slices.Equal(gotKeys, wantKeys) || !slices.Equal(gotArts, wantArts) {
		t.Fatalf("with stable 7:\nrecords %v, want %v\nartifacts %v, want %v", gotKeys, wantKeys, gotArts, wantArts)
	}
	eventually(t, 10*time.Second, "the node on revision 7", nodeState(e, rev7, StateReady))
	if code, body := get(t, e.url+"/users"); code != 200 || !strings.HasPrefix(body, "up:") {
		t.Fatalf("the node after pruning: %d %s", code, body)
	}
	_, err = pub.client.Rollback(ctx, 1)
	apiErr(t, "rollback to a pruned revision", err, 404, "no such revision", "keeps the newest 3")
	if _, err := pub.client.Rollback(ctx, 6); err != nil {
		t.Fatalf("rollback to a kept revision: %v", err)
	}
}

// BenchmarkPrune is what each publish pays to prune at the steady state:
// 50 kept revision records (each decoded for the artifacts it uses) and 50
// artifacts, nothing to remove.
func BenchmarkPrune(b *testing.B) {
	pub := startPublisher(b, startNATS(b))
	ctx := context.Background()
	for i := 1; i <= DefaultKeepRevisions; i++ {
		blob := []byte(fmt.Sprintf("artifact %d", i))
		d := Digest(blob)
		if err := pub.PutArtifact(ctx, d, blob); err != nil {
			b.Fatal(err)
		}
		doc := &Document{Config: routeConfig("users", "http://127.0.0.1:1"), Policies: map[string]string{"p": d}}
		env, err := Seal(pub.Identity().Key, int64(i), "", doc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pub.Buckets().Config.Create(ctx, revisionKey(int64(i)), mustJSON(&Revision{Revision: int64(i), Envelope: env})); err != nil {
			b.Fatal(err)
		}
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for b.Loop() {
		pub.prune(ctx)
	}
}
