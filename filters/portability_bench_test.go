package filters_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkReferenceHost is what the SDK's buffer_response costs on the
// reference host, 1 MiB responses over loopback: jwt-claims (a RequestFunc:
// nothing buffered) against headers (a response phase: the SDK enables
// buffer_response there, as that host needs to let HandleResponse set a
// header). RATIONALE.md, "Portable SDK filters".
func BenchmarkReferenceHost(b *testing.B) {
	large := strings.Repeat("x", 1<<20)
	backend := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, large) })
	for _, f := range []struct{ name, config string }{
		{"jwt-claims", `{"claims":{"sub":"X-User"}}`},
		{"headers", `{"response":{"set":{"X-Frame-Options":"DENY"}}}`},
	} {
		b.Run(f.name, func(b *testing.B) {
			srv := serveOnReferenceHost(b, f.name, f.config, backend)
			client := srv.Client()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(srv.URL + "/")
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != 1<<20 {
					b.Fatalf("%d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}
