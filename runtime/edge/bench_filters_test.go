package edge

import (
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// BenchmarkPipelineFilters is BenchmarkPipeline on three routes to the same
// upstream: no filter, a tiny hand-written guest (headers.wat: sets and
// removes request headers, sets a response header), and a Go filter
// (filters/headers: sets a request and a response header from its config).
// The difference to "none" is what a filter adds per request, both phases,
// instance acquire and release included.
func BenchmarkPipelineFilters(b *testing.B) {
	upURL := startPayloadUpstream(b)

	tiny := testkit.WATFile(b, "headers")
	goFilter := filepath.Join(repoRoot(b), "filters", "headers.wasm")
	n := NewNode(Options{DataDir: testDataDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := strings.NewReplacer("URL", upURL, "TINY", tiny, "GOF", goFilter).Replace(`
upstreams: {u: {endpoints: ["URL"]}}
filters:
  tiny: {module: "TINY"}
  gofilter: {module: "GOF", config: {request: {set: {X-Team: edge}}, response: {set: {X-Frame-Options: DENY}}}}
routes:
  - {name: none, match: {path_prefix: /none}, upstream: u}
  - {name: tiny, match: {path_prefix: /tiny}, upstream: u, filters: [tiny]}
  - {name: go, match: {path_prefix: /go}, upstream: u, filters: [gofilter]}
`)
	if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
		b.Fatal(err)
	}
	defer n.Close()

	for _, route := range []string{"none", "tiny", "go"} {
		b.Run(route, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodGet, "http://gw/"+route+"/items/42", nil)
				r.RemoteAddr = "127.0.0.1:5555"
				w := &discardWriter{h: http.Header{}}
				n.ServeHTTP(w, r)
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
