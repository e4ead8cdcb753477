package tracing

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// BenchmarkStartRequestUnsampled is what tracing adds to a request it does
// not record (sample 0): extracting the W3C context and the sampling
// decision. The bound is 1 µs.
func BenchmarkStartRequestUnsampled(b *testing.B) {
	zero := 0.0
	tr, err := New(&config.Tracing{OTLP: "http://127.0.0.1:9", Sample: &zero, Service: "bench"}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close(context.Background())
	for _, tc := range []struct{ name, parent string }{
		{"no-parent", ""},
		{"unsampled-parent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, _ := http.NewRequest(http.MethodGet, "http://gw/api/items", nil)
			if tc.parent != "" {
				r.Header.Set("Traceparent", tc.parent)
			}
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := tr.StartRequest(r.Context(), r, now); ok {
					b.Fatal("recorded at sample 0")
				}
			}
		})
	}
}

// BenchmarkRecordingUnsampled is the check each traced child (an auth
// provider, the policy, an aggregate backend) makes on an unsampled
// request: a context lookup that finds no span.
func BenchmarkRecordingUnsampled(b *testing.B) {
	r, _ := http.NewRequest(http.MethodGet, "http://gw/api/items", nil)
	ctx := r.Context()
	b.ReportAllocs()
	for b.Loop() {
		if Recording(ctx) {
			b.Fatal("recording without a span")
		}
	}
}
