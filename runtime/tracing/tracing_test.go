package tracing

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/config"
)

// TestHeadSampling: a parent's sampled flag decides; a malformed
// traceparent counts as none; a new trace follows the ratio.
func TestHeadSampling(t *testing.T) {
	for _, tc := range []struct {
		sample      float64
		traceparent string
		want        bool
	}{
		{1, "", true},
		{0, "", false},
		{0, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{1, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", false},
		{0, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", false},
		{1, "garbage", true},
		{0, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
	} {
		s := tc.sample
		tr, err := New(&config.Tracing{OTLP: "http://127.0.0.1:9", Sample: &s, Service: "t"}, "n")
		if err != nil {
			t.Fatal(err)
		}
		r, _ := http.NewRequest(http.MethodGet, "http://gw/x", nil)
		if tc.traceparent != "" {
			r.Header.Set("Traceparent", tc.traceparent)
		}
		_, span, ok := tr.StartRequest(context.Background(), r, time.Now())
		if ok != tc.want {
			t.Errorf("sample %v, traceparent %q: recorded %v, want %v", tc.sample, tc.traceparent, ok, tc.want)
		}
		if ok {
			if !span.IsRecording() {
				t.Errorf("sample %v, traceparent %q: span not recording", tc.sample, tc.traceparent)
			}
			span.End()
		}
		tr.Close(context.Background())
	}
}
