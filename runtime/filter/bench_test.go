package filter

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// The deadline mechanisms compared by the benchmarks (RATIONALE.md, "Filter
// deadlines").
var mechanisms = []struct {
	name    string
	rt      RuntimeOptions
	timeout time.Duration
}{
	{"none", RuntimeOptions{}, -1},                                                // no deadline, no instrumentation
	{"interrupt", RuntimeOptions{}, time.Second},                                  // rewritten code + timer (the default)
	{"closeOnContextDone", RuntimeOptions{closeOnContextDone: true}, time.Second}, // wazero's mechanism
}

// benchTimeout is the filter deadline of the round-trip benchmarks: what the
// deadline costs does not depend on its length, and the node's default
// (50 ms) fails a run of millions of calls on a shared, loaded machine
// whenever the benchmark's goroutine waits that long for a core.
const benchTimeout = time.Second

// BenchmarkHandleRequest measures one handle_request call on a pinned
// instance, per guest and deadline mechanism.
func BenchmarkHandleRequest(b *testing.B) {
	guests := []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"noop", func(t testing.TB) []byte { return testkit.WAT(t, "noop") }},
		{"loop10k", func(t testing.TB) []byte { return testkit.WAT(t, "loop10k") }},
		{"go", testkit.GoGuest},
	}
	for _, g := range guests {
		for _, mech := range mechanisms {
			b.Run(g.name+"/"+mech.name, func(b *testing.B) {
				rt, _ := newTestRuntime(b, mech.rt)
				ctx := context.Background()
				m, err := rt.Load(ctx, g.wasm(b), ModuleOptions{Name: g.name, Timeout: mech.timeout, MemoryLimit: 16 << 20})
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close(ctx)
				i, err := m.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Release(i)
				x := NewExchange(newRequest("GET", "/", ""))
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					if _, err := i.HandleRequest(ctx, x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRoundTrip measures what the edge pays per request for a tiny
// guest: Acquire, both phases, Release.
func BenchmarkRoundTrip(b *testing.B) {
	rt, _ := newTestRuntime(b, RuntimeOptions{})
	m := loadWAT(b, rt, "headers", ModuleOptions{Timeout: benchTimeout})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// One request per goroutine, its headers reset each time: building
		// an http.Request costs more than the filter and is the edge's
		// cost anyway, not the filter's.
		r := newRequest("GET", "/", "")
		base := r.Header.Clone()
		for pb.Next() {
			roundTripOnce(ctx, b, m, r, base)
		}
	})
}

// BenchmarkRoundTripTinyGuest is the same round trip for the smallest
// useful filter (stamp.wat: one request header, one response header), on
// one goroutine: the host's own cost per filtered request.
func BenchmarkRoundTripTinyGuest(b *testing.B) {
	rt, _ := newTestRuntime(b, RuntimeOptions{})
	benchSerialRoundTrip(b, loadWAT(b, rt, "stamp", ModuleOptions{Timeout: benchTimeout}))
}

// BenchmarkRoundTripGoFilter is the round trip for a real Go filter,
// filters/headers (built by `make wasm`): it sets one request and one
// response header from its config. What a header-only Go filter adds to a
// request.
func BenchmarkRoundTripGoFilter(b *testing.B) {
	wasm, err := os.ReadFile(filepath.Join("..", "..", "filters", "headers.wasm"))
	if err != nil {
		b.Skipf("filters/headers.wasm not built (make wasm): %v", err)
	}
	rt, _ := newTestRuntime(b, RuntimeOptions{})
	ctx := context.Background()
	m, err := rt.Load(ctx, wasm, ModuleOptions{Name: "headers", Timeout: benchTimeout,
		Config: []byte(`{"request": {"set": {"X-Team": "edge"}}, "response": {"set": {"X-Frame-Options": "DENY"}}}`)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	benchSerialRoundTrip(b, m)
}

// benchSerialRoundTrip runs what the edge does per request with a filter,
// on one goroutine: Acquire, handle_request, handle_response, Release. The
// request is built once and its headers reset each time.
func benchSerialRoundTrip(b *testing.B, m *Module) {
	ctx := context.Background()
	r := newRequest("GET", "/", "")
	base := r.Header.Clone()
	b.ReportAllocs()
	for b.Loop() {
		roundTripOnce(ctx, b, m, r, base)
	}
}

// roundTripOnce is one filtered request as the edge runs it: Acquire,
// handle_request, handle_response, Release. r's headers are reset to base
// first, since the guest changes them.
func roundTripOnce(ctx context.Context, b *testing.B, m *Module, r *http.Request, base http.Header) {
	r.Header = base.Clone()
	x := NewExchange(r)
	i, err := m.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := i.HandleRequest(ctx, x); err != nil {
		b.Fatal(err)
	}
	if err := i.HandleResponse(ctx, x, false); err != nil {
		b.Fatal(err)
	}
	m.Release(i)
}

// BenchmarkNewInstance measures a cold instance (the first request after a
// snapshot swap or after scaling to zero): instantiate and initialise.
func BenchmarkNewInstance(b *testing.B) {
	for _, g := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"wat", func(t testing.TB) []byte { return testkit.WAT(t, "headers") }},
		{"go", testkit.GoGuest},
	} {
		b.Run(g.name, func(b *testing.B) {
			rt, _ := newTestRuntime(b, RuntimeOptions{})
			ctx := context.Background()
			m, err := rt.Load(ctx, g.wasm(b), ModuleOptions{Name: g.name})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				i, err := m.newInstance(ctx)
				if err != nil {
					b.Fatal(err)
				}
				i.close(ctx)
			}
		})
	}
}

// BenchmarkInstanceMemory reports the Go heap one live instance holds,
// idle (initialised, never called) and busy (after a request), for a tiny
// guest and a Go guest: what scale-to-zero saves per idle instance. Each
// iteration holds 8 instances of a fresh module at once.
func BenchmarkInstanceMemory(b *testing.B) {
	for _, g := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"wat", func(t testing.TB) []byte { return testkit.WAT(t, "headers") }},
		{"go", testkit.GoGuest},
	} {
		b.Run(g.name, func(b *testing.B) { benchInstanceMemory(b, g.name, g.wasm(b)) })
	}
}

// benchInstanceMemory is BenchmarkInstanceMemory for one module.
func benchInstanceMemory(b *testing.B, name string, wasm []byte) {
	const held = 8
	rt, _ := newTestRuntime(b, RuntimeOptions{})
	ctx := context.Background()
	var idle, busy, rssIdle, rssBusy, rssReleased float64
	for b.Loop() {
		m, err := rt.Load(ctx, wasm, ModuleOptions{Name: name, MaxInstances: held + 1})
		if err != nil {
			b.Fatal(err)
		}
		before, rssBefore := heapInUse(), rss(b)
		insts := make([]*Instance, held)
		for k := range insts {
			if insts[k], err = m.newInstance(ctx); err != nil {
				b.Fatal(err)
			}
		}
		afterInit, rssInit := heapInUse(), rss(b)
		for _, i := range insts {
			x := NewExchange(newRequest("GET", "/", ""))
			if _, err := i.HandleRequest(ctx, x); err != nil {
				b.Fatal(err)
			}
			if err := i.HandleResponse(ctx, x, false); err != nil {
				b.Fatal(err)
			}
		}
		afterCall, rssCall := heapInUse(), rss(b)
		for k, i := range insts {
			// What releaseIdle does to an idle instance: reset
			// it, or close one whose memory grew (counted as a
			// new one from the image, which it is replaced by).
			if !i.reset() {
				i.close(ctx)
				if insts[k], err = m.newInstance(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		rssReset := rss(b)
		idle += float64(afterInit-before) / held
		busy += float64(afterCall-before) / held
		rssIdle += float64(rssInit-rssBefore) / held
		rssBusy += float64(rssCall-rssBefore) / held
		rssReleased += float64(rssReset-rssBefore) / held
		for _, i := range insts {
			i.close(ctx)
		}
		_ = m.Close(ctx)
	}
	b.ReportMetric(idle/float64(b.N), "idle-B/instance")
	b.ReportMetric(busy/float64(b.N), "busy-B/instance")
	b.ReportMetric(rssIdle/float64(b.N), "idle-RSS-B/instance")
	b.ReportMetric(rssBusy/float64(b.N), "busy-RSS-B/instance")
	b.ReportMetric(rssReleased/float64(b.N), "released-RSS-B/instance")
}

// rss is the process's resident set (Linux), after a collection that
// returns freed heap to the OS so that garbage does not count: Go heap and
// linear memory alike.
func rss(b *testing.B) int64 {
	debug.FreeOSMemory()
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(statm), &size, &resident); err != nil {
		b.Fatal(err)
	}
	return resident * int64(os.Getpagesize())
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}
