package edge

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// BenchmarkResponsePhaseBuffering is what buffer_response costs a route on
// Sluice: the same pass-through guest streamed (headers.wat: its response
// phase sets a header, which Sluice allows without buffering) and buffered
// (bufresp.wat: enables buffer_response), on 1 KiB and 1 MiB responses.
// It is the price the SDK would make every filter with a response phase pay
// on Sluice if it enabled buffer_response everywhere (RATIONALE.md,
// "Portable SDK filters").
func BenchmarkResponsePhaseBuffering(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	small, large := strings.Repeat("x", 1<<10), strings.Repeat("x", 1<<20)
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/1MiB") {
			io.WriteString(w, large)
			return
		}
		io.WriteString(w, small)
	})}
	go up.Serve(ln)
	defer up.Close()

	n := NewNode(Options{DataDir: testDataDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := strings.NewReplacer("URL", "http://"+ln.Addr().String(), "STREAMED", testkit.WATFile(b, "headers"), "BUFFERED", testkit.WATFile(b, "bufresp")).Replace(`
upstreams: {u: {endpoints: ["URL"]}}
filters:
  streamed: {module: "STREAMED"}
  buffered: {module: "BUFFERED"}
routes:
  - {name: streamed, match: {path_prefix: /streamed}, upstream: u, filters: [streamed]}
  - {name: buffered, match: {path_prefix: /buffered}, upstream: u, filters: [buffered]}
`)
	if _, err := n.Apply(mustParseB(b, cfg)); err != nil {
		b.Fatal(err)
	}
	defer n.Close()

	for _, size := range []string{"1KiB", "1MiB"} {
		for _, route := range []string{"streamed", "buffered"} {
			b.Run(size+"/"+route, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r, _ := http.NewRequest(http.MethodGet, "http://gw/"+route+"/"+size, nil)
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
}
