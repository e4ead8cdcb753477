package edge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

const twoUpstreams = `
upstreams:
  a: {endpoints: ["{{.A}}"]}
  b: {endpoints: ["{{.B}}"]}
routes:
  - {name: r, match: {path_prefix: /}, upstream: {{.To}}}
`

// TestReloadUnderLoadLosesNothing swaps snapshots back and forth while
// clients keep sending requests; every request must succeed.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	a, b := startUpstream(t, "a", nil), startUpstream(t, "b", nil)
	cfgA := render(t, twoUpstreams, map[string]string{"A": a.url, "B": b.url, "To": "a"})
	cfgB := render(t, twoUpstreams, map[string]string{"A": a.url, "B": b.url, "To": "b"})
	n := startNode(t, cfgA)

	ctx, cancel := context.WithCancel(context.Background())
	var ok, failed atomic.Int64
	var seen sync.Map
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := testClient.Get(n.url + "/x")
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed during reload: %v", err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("status %d during reload: %s", resp.StatusCode, body)
					continue
				}
				var e echoed
				json.Unmarshal(body, &e)
				seen.Store(e.Upstream, true)
				ok.Add(1)
			}
		}()
	}
	for i := range 40 {
		cfg := cfgA
		if i%2 == 0 {
			cfg = cfgB
		}
		if _, err := n.Apply(mustParse(t, cfg)); err != nil {
			t.Fatal(err)
		}
		// Let some requests through on each snapshot.
		target := ok.Load() + 20
		testkit.WaitFor(t, 10*time.Second, "requests to flow", func() bool { return ok.Load() >= target })
	}
	cancel()
	wg.Wait()
	_, sawA := seen.Load("a")
	_, sawB := seen.Load("b")
	if failed.Load() > 0 || !sawA || !sawB {
		t.Fatalf("ok=%d failed=%d sawA=%v sawB=%v", ok.Load(), failed.Load(), sawA, sawB)
	}
}

func TestInFlightRequestFinishesOnOldSnapshot(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		w.Write([]byte("old snapshot answer"))
	}))
	other := startUpstream(t, "other", nil)
	n := startNode(t, render(t, twoUpstreams, map[string]string{"A": slow.url, "B": other.url, "To": "a"}))
	old := n.Current()

	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := testClient.Get(n.url + "/x")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{body: string(b)}
	}()
	<-started
	if _, err := n.Apply(mustParse(t, render(t, twoUpstreams, map[string]string{"A": slow.url, "B": other.url, "To": "b"}))); err != nil {
		t.Fatal(err)
	}
	if old.refs.Load() != 1 {
		t.Fatalf("old snapshot refs = %d, want 1 (the in-flight request)", old.refs.Load())
	}
	close(release)
	r := <-done
	if r.err != nil || r.body != "old snapshot answer" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	testkit.WaitFor(t, 5*time.Second, "old snapshot to close", func() bool { return old.refs.Load() == 0 })
	_, body := get(t, n.url+"/x")
	if decodeEcho(t, body).Upstream != "other" {
		t.Fatalf("new snapshot not serving: %s", body)
	}
}

func TestBadConfigKeepsOldSnapshot(t *testing.T) {
	up := startUpstream(t, "a", nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	good := render(t, `
upstreams: {a: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: a}]
`, up.url)
	os.WriteFile(path, []byte(good), 0o644)

	n := startNode(t, good)
	src := &FileSource{Path: path, Node: n.Node}
	if err := src.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	rev := n.Current().Revision

	// A broken file: refused, logged, the old snapshot keeps serving.
	os.WriteFile(path, []byte(good+"\n  bogus: [\n"), 0o644)
	testkit.WaitFor(t, 5*time.Second, "refusal to be logged", func() bool {
		return strings.Contains(n.logs.String(), "config reload refused")
	})
	if n.Current().Revision != rev {
		t.Fatal("a bad config replaced the running snapshot")
	}
	if resp, _ := get(t, n.url+"/x"); resp.StatusCode != 200 {
		t.Fatalf("old snapshot stopped serving: %d", resp.StatusCode)
	}

	// A good change is picked up without a signal.
	os.WriteFile(path, []byte(strings.Replace(good, "name: r,", "name: renamed,", 1)), 0o644)
	testkit.WaitFor(t, 5*time.Second, "file change to apply", func() bool {
		return n.Current().Config.Routes[0].Name == "renamed"
	})
}

// SIGHUP rebuilds even when the file did not change (an operator's "reload
// now", e.g. after a certificate or DNS change behind an endpoint).
func TestSignalForcesRebuild(t *testing.T) {
	up := startUpstream(t, "a", nil)
	cfg := render(t, `
upstreams: {a: {endpoints: ["{{.}}"]}}
routes: [{name: r, match: {path_prefix: /}, upstream: a}]
`, up.url)
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	n := startNode(t, cfg)
	hup := make(chan os.Signal, 1)
	src := &FileSource{Path: path, Node: n.Node, Reload: hup}
	if err := src.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	rev := n.Current().Revision
	hup <- syscall.SIGHUP
	testkit.WaitFor(t, 5*time.Second, "SIGHUP to rebuild the snapshot", func() bool { return n.Current().Revision == rev+1 })
}
