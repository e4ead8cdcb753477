package filter

import (
	"context"
	"testing"
	"time"

	"github.com/sluicegw/sluice/runtime/filter/internal/wattest"
)

// The deadline mechanisms compared by the benchmarks (RATIONALE-notes.md).
var mechanisms = []struct {
	name    string
	rt      RuntimeOptions
	timeout time.Duration
}{
	{"none", RuntimeOptions{}, -1},                                                // no deadline, no instrumentation
	{"interrupt", RuntimeOptions{}, time.Second},                                  // rewritten code + timer (the default)
	{"closeOnContextDone", RuntimeOptions{closeOnContextDone: true}, time.Second}, // wazero's mechanism
}

// BenchmarkHandleRequest measures one handle_request call on a pinned
// instance, per guest and deadline mechanism.
func BenchmarkHandleRequest(b *testing.B) {
	guests := []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"noop", func(t testing.TB) []byte { return wattest.Compile(t, "noop") }},
		{"loop10k", func(t testing.TB) []byte { return wattest.Compile(t, "loop10k") }},
		{"go", wattest.GoGuest},
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
	m := loadWAT(b, rt, "headers", ModuleOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x := NewExchange(newRequest("GET", "/", ""))
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
	})
}

// BenchmarkNewInstance measures a cold instance (the first request after a
// snapshot swap or after scaling to zero): instantiate and initialise.
func BenchmarkNewInstance(b *testing.B) {
	for _, g := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"wat", func(t testing.TB) []byte { return wattest.Compile(t, "headers") }},
		{"go", wattest.GoGuest},
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
