package fleetnode_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/fleet"
	"github.com/sluicegw/sluice/runtime/fleettest"
	"github.com/sluicegw/sluice/runtime/testkit"
)

// swapConfig is revision i of a one-route config: the route's deprecation
// date moves by i seconds, so every response says which snapshot served
// it (Deprecation: @<unix seconds>, RFC 9745).
func swapConfig(up string, i int) string {
	when := swapEpoch.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
	return fmt.Sprintf("upstreams: {up: {endpoints: [%s]}}\nroutes: [{name: api, match: {path_prefix: /api}, upstream: up, deprecation: %q}]\n", up, when)
}

var swapEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// swapOf reads back which swapConfig served a response.
func swapOf(h http.Header) (int, bool) {
	v, ok := strings.CutPrefix(h.Get("Deprecation"), "@")
	if !ok {
		return 0, false
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return int(sec - swapEpoch.Unix()), true
}

// TestHundredSwapsUnderLoadFailNoRequest applies 100 revisions one after
// another while clients send requests through the node to a real upstream
// without pause: no request may fail, each client must see the revisions
// in order (a swap is one pointer, never a step back), and the node must
// end on the last one, serving it.
func TestHundredSwapsUnderLoadFailNoRequest(t *testing.T) {
	natsURL := fleettest.StartNATS(t)
	pub := fleettest.StartPublisher(t, natsURL)
	e := fleettest.StartEdge(t, natsURL, fleettest.EdgeSpec{ID: "edge-swap", Trust: pub.Identity().Public})
	up := fleettest.Upstream(t, "up")
	first := pub.MustApply(t, swapConfig(up, 0), "")
	testkit.WaitFor(t, 10*time.Second, "the first revision on the node", fleettest.NodeState(e, first, fleet.StateReady))

	const clients, swaps = 4, 100
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			last := 0
			for n := 0; !stop.Load(); n++ {
				resp, err := hc.Get(fmt.Sprintf("%s/api/%d/%d", e.URL, c, n))
				requests.Add(1)
				if err != nil {
					fail("client %d request %d: %v", c, n, err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				swap, ok := swapOf(resp.Header)
				switch {
				case err != nil:
					fail("client %d request %d: body: %v", c, n, err)
				case resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "up:/api/"):
					fail("client %d request %d: %d %q", c, n, resp.StatusCode, body)
				case !ok:
					fail("client %d request %d: no Deprecation header: %v", c, n, resp.Header)
				case swap < last:
					fail("client %d request %d: served by revision %d after %d", c, n, swap, last)
				default:
					last = swap
				}
			}
		}()
	}

	start := time.Now()
	var rev int64
	for i := 1; i <= swaps; i++ {
		rev = pub.MustApply(t, swapConfig(up, i), "")
		// Waiting for each one makes every revision a swap on the node,
		// none coalesced into a later one.
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("revision %d on the node", rev), fleettest.NodeState(e, rev, fleet.StateReady))
	}
	elapsed := time.Since(start)
	// Requests keep going briefly on the last revision, then stop.
	before := requests.Load()
	testkit.WaitFor(t, 5*time.Second, "requests after the last swap", func() bool { return requests.Load() > before+clients*10 })
	stop.Store(true)
	wg.Wait()

	t.Logf("%d swaps in %s (%.0f ms each), %d requests", swaps, elapsed.Round(time.Millisecond),
		float64(elapsed.Milliseconds())/swaps, requests.Load())
	if len(failures) > 0 {
		t.Fatalf("failed requests:\n%s", strings.Join(failures, "\n"))
	}
	if rev != first+swaps {
		t.Fatalf("last revision %d, want %d", rev, first+swaps)
	}
	resp, err := http.Get(e.URL + "/api/final")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if swap, _ := swapOf(resp.Header); swap != swaps {
		t.Fatalf("serving revision of swap %d, want %d", swap, swaps)
	}
}
