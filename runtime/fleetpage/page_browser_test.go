package fleetpage_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

const chromium = "/usr/bin/chromium"

// TestFleetPageInHeadlessBrowser loads the fleet page in a real headless
// Chromium with the token in the URL fragment and checks the DOM the
// page's script rendered from /v1/fleet: the node, its revision and state.
// CI sets SLUICE_BROWSER_TESTS=1, so a missing browser fails there
// instead of passing unseen.
func TestFleetPageInHeadlessBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("SLUICE_BROWSER_TESTS") == "1" {
			t.Fatalf("SLUICE_BROWSER_TESTS=1 but %s is missing (apt-get install chromium): %v", chromium, err)
		}
		t.Skipf("%s not installed; set SLUICE_BROWSER_TESTS=1 to make this a failure", chromium)
	}
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-browser", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	up := fleettest.Upstream(t, "up")
	pub.MustApply(t, fleettest.RouteConfig("users", up), "")
	rev := pub.MustApply(t, fleettest.RouteConfig("orders", up), "")
	testkit.WaitFor(t, 10*time.Second, "the node on the revision", fleettest.NodeState(e, rev, fleet.StateReady))
	// The page shows what the status bucket says, which the node writes
	// after it swapped: wait for the bucket, not just the node.
	testkit.WaitFor(t, 10*time.Second, "the revision in the status bucket", func() bool {
		st, err := pub.Status(context.Background())
		return err == nil && len(st.Nodes) == 1 && st.Nodes[0].Revision == rev && st.Nodes[0].State == fleet.StateReady
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	// --virtual-time-budget lets the page's fetch and render finish
	// before the DOM is dumped; without it the dump is the static page.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--virtual-time-budget=5000", "--dump-dom",
		pub.URL+"/ui#token="+pub.Identity().Token)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(profile, "home"))
	var stderr capped
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.b)
	}
	row := regexp.MustCompile(fmt.Sprintf(`<tr><td>edge-browser</td><td>region=eu</td><td>%d</td><td class="ready">ready</td>`, rev))
	if !row.Match(dom) {
		t.Fatalf("the rendered page has no row for edge-browser on revision %d, ready:\n%s\nchromium stderr:\n%s", rev, dom, stderr.b)
	}
	if want := fmt.Sprintf("stable revision %d, canary none, 1 live node(s)", rev); !regexp.MustCompile(regexp.QuoteMeta(want)).Match(dom) {
		t.Fatalf("the rendered summary is not %q:\n%s", want, dom)
	}
}

// capped keeps the first 64 KiB written to it: enough of a browser's
// stderr to explain a failure.
type capped struct{ b []byte }

func (c *capped) Write(p []byte) (int, error) {
	if room := 64<<10 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}
