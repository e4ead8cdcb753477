package fleetpage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/publisher"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// chromiumOrSkip skips the test without a browser, unless CI demands one.
func chromiumOrSkip(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("SLUICE_BROWSER_TESTS") == "1" {
			t.Fatalf("SLUICE_BROWSER_TESTS=1 but %s is missing (apt-get install chromium): %v", chromium, err)
		}
		t.Skipf("%s not installed; set SLUICE_BROWSER_TESTS=1 to make this a failure", chromium)
	}
}

// runChromium loads url in headless Chromium with extra flags and returns
// its stdout.
func runChromium(t *testing.T, url string, flags ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--virtual-time-budget=5000"}, flags...)
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(profile, "home"))
	var stderr capped
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.b)
	}
	return out
}

// plotted is what one rendered chart plots: the data-* of its circles.
type plotted struct {
	requests, errors int64
	p50s             []float64
	points           int
}

// chartsIn finds every chart <svg> in dom and reads its points, keyed by
// "kind track|node route" ("rate stable ok", "latency node:canary-1 slow").
func chartsIn(t *testing.T, dom []byte) map[string]*plotted {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	out := map[string]*plotted{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "svg" {
			if kind, ok := attr(n, "data-chart"); ok {
				route, _ := attr(n, "data-route")
				where, _ := attr(n, "data-track")
				if node, ok := attr(n, "data-node"); ok {
					where = "node:" + node
				}
				p := &plotted{}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type != html.ElementNode || c.Data != "circle" {
						continue
					}
					p.points++
					r, _ := attr(c, "data-requests")
					e, _ := attr(c, "data-errors")
					nr, _ := strconv.ParseInt(r, 10, 64)
					ne, _ := strconv.ParseInt(e, 10, 64)
					p.requests += nr
					p.errors += ne
					if v, ok := attr(c, "data-p50"); ok && nr > 0 {
						f, _ := strconv.ParseFloat(v, 64)
						p.p50s = append(p.p50s, f)
					}
				}
				out[kind+" "+where+" "+route] = p
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// TestFleetDashboardInHeadlessBrowser drives traffic through two real
// nodes, one on the stable revision and one on a canary, and checks what
// the page's charts plot against what the nodes served: requests and 5xx
// per route, per node and per track, and the latency of a slow route.
// It saves a screenshot (the path is logged; the directory is
// $SLUICE_TEST_ARTIFACTS, else the test's temporary directory).
func TestFleetDashboardInHeadlessBrowser(t *testing.T) {
	chromiumOrSkip(t)
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	stable := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "stable-1", Labels: map[string]string{"region": "us"}, Trust: pub.Identity().Public})
	canary := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "canary-1", Labels: map[string]string{"region": "eu"}, Trust: pub.Identity().Public})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail"):
			w.WriteHeader(http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/slow"):
			time.Sleep(30 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	cfg := fmt.Sprintf(`upstreams: {svc: {endpoints: [%s]}}
routes:
  - {name: ok, match: {path_prefix: /ok}, upstream: svc}
  - {name: fail, match: {path_prefix: /fail}, upstream: svc}
  - {name: slow, match: {path_prefix: /slow}, upstream: svc}
`, up.URL)
	stableRev := pub.MustApply(t, cfg, "")
	canaryRev := pub.MustApply(t, cfg+"  - {name: extra, match: {path_prefix: /extra}, upstream: svc}\n", "region=eu")
	testkit.WaitFor(t, 20*time.Second, "stable-1 on the stable revision", fleettest.NodeState(stable, stableRev, fleet.StateReady))
	testkit.WaitFor(t, 20*time.Second, "canary-1 on the canary", fleettest.NodeState(canary, canaryRev, fleet.StateReady))

	drive := func(e *fleettest.Edge, path string, n int) {
		for i := 0; i < n; i++ {
			if code, _ := fleettest.Get(t, e.URL+path); code == 0 {
				t.Fatalf("%s%s: no answer", e.URL, path)
			}
		}
	}
	drive(stable, "/ok", 40)
	drive(stable, "/fail", 10)
	drive(stable, "/slow", 20)
	drive(canary, "/ok", 15)
	drive(canary, "/fail", 5)

	// What the nodes served, as they count it themselves.
	served := func(e *fleettest.Edge, route string) (int64, int64) {
		st := e.Node.RouteStats()[route]
		return st.Requests, st.Errors5xx
	}
	if n, _ := served(stable, "ok"); n != 40 {
		t.Fatalf("stable-1 counts %d requests on ok, want 40", n)
	}
	// The page shows what the publisher got from the status reports:
	// wait until the last requests are in a report it has read.
	testkit.WaitFor(t, 20*time.Second, "the publisher's charts to hold all the traffic", func() bool {
		d, err := pub.Dashboard(context.Background())
		return err == nil && d.Stable != nil && d.Canary != nil &&
			requestsIn(d.Stable.Routes["slow"]) == 20 && requestsIn(d.Canary.Routes["fail"]) == 5 && requestsIn(d.Stable.Routes["fail"]) == 10 &&
			requestsIn(d.Canary.Routes["ok"]) == 15 && requestsIn(d.Stable.Routes["ok"]) == 40
	})

	dom := runChromium(t, pub.URL+"/ui#token="+pub.Identity().Token, "--dump-dom")
	charts := chartsIn(t, dom)
	check := func(key string, wantRequests, wantErrors int64) {
		t.Helper()
		p := charts[key]
		if p == nil {
			t.Fatalf("no chart %q in the rendered page (charts: %d)", key, len(charts))
		}
		if p.requests != wantRequests || p.errors != wantErrors {
			t.Errorf("chart %q plots %d requests and %d 5xx, the nodes served %d and %d", key, p.requests, p.errors, wantRequests, wantErrors)
		}
	}
	for _, c := range []struct {
		e           *fleettest.Edge
		track, node string
	}{{stable, "stable", "stable-1"}, {canary, "canary", "canary-1"}} {
		for _, route := range []string{"ok", "fail", "slow"} {
			n, errs := served(c.e, route)
			check("rate "+c.track+" "+route, n, errs)
			check("latency node:"+c.node+" "+route, n, errs)
		}
	}
	check("rate stable *", 70, 10)
	check("rate canary *", 20, 5)
	slow := charts["latency stable slow"]
	if len(slow.p50s) == 0 {
		t.Fatal("the slow route's latency chart plots no p50")
	}
	for _, p50 := range slow.p50s {
		if p50 < 25 { // every request waited 30 ms upstream: at least the 25 ms bucket
			t.Errorf("slow route p50 plotted %.1f ms; its upstream alone takes 30 ms", p50)
		}
	}
	for _, want := range []string{`data-config="stable"`, `data-config="canary"`, "<td>extra</td>", "<td>path_prefix /slow</td>"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("the running configuration lacks %s", want)
		}
	}

	dir := os.Getenv("SLUICE_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "fleet-dashboard.png")
	runChromium(t, pub.URL+"/ui#token="+pub.Identity().Token, "--screenshot="+shot, "--window-size=1400,2600", "--hide-scrollbars")
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (size %v)", shot, err, info)
	}
	t.Logf("screenshot of the fleet dashboard: %s", shot)
}

// requestsIn sums the requests of a series as the publisher serves it.
func requestsIn(ps []publisher.ChartPoint) int64 {
	var n int64
	for _, p := range ps {
		n += p.Requests
	}
	return n
}
