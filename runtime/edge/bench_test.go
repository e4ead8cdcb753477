package edge

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// discardWriter is a minimal ResponseWriter so the benchmark measures the
// node, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }

// BenchmarkPipeline is one request through the node's pipeline (guard
// verdict, routing, rewrite, request id, forwarding to a real loopback
// upstream answering 1 KiB, metrics) without the client side of HTTP.
func BenchmarkPipeline(b *testing.B) {
	upURL := startPayloadUpstream(b)

	n := NewNode(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := strings.ReplaceAll(`
upstreams: {u: {endpoints: ["URL"]}}
routes:
  - {name: api, match: {path_prefix: /api}, rewrite: {strip_prefix: /api}, upstream: u}
`, "URL", upURL)
	c := mustParseB(b, cfg)
	if _, err := n.Apply(c); err != nil {
		b.Fatal(err)
	}
	defer n.Close()

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodGet, "http://gw/api/items/42", nil)
		r.RemoteAddr = "127.0.0.1:5555"
		w := &discardWriter{h: http.Header{}}
		n.ServeHTTP(w, r)
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// startPayloadUpstream is a loopback upstream answering every request with
// 1 KiB of text, the benchmarks' origin; it returns its URL.
func startPayloadUpstream(b *testing.B) string {
	payload := strings.Repeat("x", 1024)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, payload)
	})}
	go up.Serve(ln)
	b.Cleanup(func() { up.Close() })
	return "http://" + ln.Addr().String()
}
