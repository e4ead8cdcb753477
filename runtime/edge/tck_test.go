package edge

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/http-wasm/http-wasm-host-go/tck"
)

// TestHTTPWasmTCK runs the public http-wasm conformance kit against a real
// node: the kit's guest (tck.GuestWASM) is a filter on a route to the kit's
// backend (tck.BackendHandler), and tck.Run sends its requests through the
// node, once over HTTP/1.1 (on the engine under test) and once over HTTP/2
// with TLS. Every case the kit has must pass.
func TestHTTPWasmTCK(t *testing.T) {
	guest := filepath.Join(t.TempDir(), "tck.wasm")
	if err := os.WriteFile(guest, tck.GuestWASM, 0o644); err != nil {
		t.Fatal(err)
	}
	backend := startUpstream(t, "tck", tck.BackendHandler())
	cfg := render(t, `
upstreams: {tck: {endpoints: ["{{.Backend}}"]}}
filters: {tck: {module: "{{.Guest}}"}}
routes: [{name: tck, match: {path_prefix: /}, upstream: tck, filters: [tck]}]
`, map[string]string{"Backend": backend.url, "Guest": guest})

	t.Run("HTTP/1.1", func(t *testing.T) {
		n := startNode(t, cfg)
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		tck.Run(t, &http.Client{Transport: tr}, n.url)
	})
	t.Run("HTTP/2 over TLS", func(t *testing.T) {
		n := startNode(t, cfg, func(_ *Options, l *Listeners) { l.TLS = selfSignedTLS(t) })
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr}
		// The kit's get_protocol_version case compares with the response's
		// protocol; check here that the client did speak HTTP/2.
		resp, err := client.Get(n.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("client spoke %s to the node, want HTTP/2", resp.Proto)
		}
		tck.Run(t, client, n.url)
	})
}
