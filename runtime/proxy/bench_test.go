package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used. The
// machine these run on is shared, so wall time per op moves with the load;
// CPU time per op (proxy and in-process upstream together) moves less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-µs/op metric to b from a cpuTime taken at its start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// discardWriter is the cheapest ResponseWriter, so the benchmark measures
// Forward and the transport rather than a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

func benchPool(b *testing.B) *Pool {
	body := bytes.Repeat([]byte("x"), 1024)
	up := startUpstream(b, "bench", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", "1024")
		_, _ = w.Write(body)
	})
	p, _ := newTestPool(b, upstreamCfg("", up.URL))
	return p
}

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com/users/42?limit=10", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-Request-Id", "0123456789abcdef")
	return r
}

// BenchmarkForward is one in-process round trip through Forward to a real
// upstream on 127.0.0.1 answering 1 KiB.
func BenchmarkForward(b *testing.B) {
	p := benchPool(b)
	r := benchRequest()
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.SetBytes(1024)
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		clear(w.h)
		w.n = 0
		if err := p.Forward(w, r, ForwardOptions{}); err != nil || w.n != 1024 {
			b.Fatalf("Forward: %v, %d bytes", err, w.n)
		}
	}
}

// BenchmarkForwardParallel is the same with concurrent requests, which also
// exercises the keep-alive pool and the balancer's shared state.
func BenchmarkForwardParallel(b *testing.B) {
	p := benchPool(b)
	b.ReportAllocs()
	b.SetBytes(1024)
	defer reportCPU(b, cpuTime())
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		w := &discardWriter{h: make(http.Header)}
		for pb.Next() {
			clear(w.h)
			w.n = 0
			if err := p.Forward(w, r, ForwardOptions{}); err != nil || w.n != 1024 {
				b.Errorf("Forward: %v, %d bytes", err, w.n)
				return
			}
		}
	})
}
