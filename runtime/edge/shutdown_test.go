package edge

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// TestShutdownDrainsInFlight stops the node while a request is in flight:
// the request completes, new connections are refused, Run returns nil.
func TestShutdownDrainsInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := startUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		w.Write([]byte("finished"))
	}))
	n := startNode(t, render(t, `
upstreams: {s: {endpoints: ["{{.}}"]}}
routes: [{name: s, match: {path_prefix: /}, upstream: s}]
`, slow.url))

	done := make(chan string, 1)
	go func() {
		resp, err := testClient.Get(n.url + "/x")
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	<-started
	n.cancel()
	testkit.WaitFor(t, 5*time.Second, "readiness to drop while draining", func() bool {
		resp, err := http.Get(n.adminURL + "/readyz")
		if err != nil {
			return true // admin already closed
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	testkit.WaitFor(t, 5*time.Second, "listener to stop accepting", func() bool {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		_, err := c.Get(n.url + "/x")
		return err != nil
	})
	close(release)
	if got := <-done; got != "finished" {
		t.Fatalf("in-flight request: %q", got)
	}
	select {
	case err := <-n.done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
		n.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after drain")
	}
}
