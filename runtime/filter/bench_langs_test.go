package filter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The same header work in three SDKs: filters/stamp (Go), stamp-c (C) and
// stamp-as (AssemblyScript), built by wasm-build.sh. Each sets one request
// header and one response header. BENCHMARKS.md, "Filters by language".
var stampFilters = []struct{ lang, file string }{
	{"go", "stamp"},
	{"c", "stamp-c"},
	{"as", "stamp-as"},
}

func stampWasm(b *testing.B, file string) []byte {
	wasm, err := os.ReadFile(filepath.Join("..", "..", "filters", file+".wasm"))
	if err != nil {
		b.Fatalf("filters/%s.wasm not built (./wasm-build.sh): %v", file, err)
	}
	return wasm
}

// BenchmarkLanguageRoundTrip is one filtered request (Acquire, both phases,
// Release) through each language's stamp.
func BenchmarkLanguageRoundTrip(b *testing.B) {
	for _, f := range stampFilters {
		b.Run(f.lang, func(b *testing.B) {
			rt, _ := newTestRuntime(b, RuntimeOptions{})
			ctx := context.Background()
			m, err := rt.Load(ctx, stampWasm(b, f.file), ModuleOptions{Name: f.file, Timeout: benchTimeout})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			benchSerialRoundTrip(b, m)
		})
	}
}

// BenchmarkLanguageInstanceMemory is the memory one instance of each
// language's stamp holds, idle and after a request.
func BenchmarkLanguageInstanceMemory(b *testing.B) {
	for _, f := range stampFilters {
		b.Run(f.lang, func(b *testing.B) { benchInstanceMemory(b, f.file, stampWasm(b, f.file)) })
	}
}

// TestStampFiltersAgree checks the three stamps do the same header work, so
// that the benchmarks compare like with like.
func TestStampFiltersAgree(t *testing.T) {
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	for _, f := range stampFilters {
		wasm, err := os.ReadFile(filepath.Join("..", "..", "filters", f.file+".wasm"))
		if err != nil {
			t.Fatalf("filters/%s.wasm not built (./wasm-build.sh): %v", f.file, err)
		}
		m, err := rt.Load(ctx, wasm, ModuleOptions{Name: f.file})
		if err != nil {
			t.Fatal(err)
		}
		x := NewExchange(newRequest("GET", "/", ""))
		if next, err := roundTrip(t, m, x, nil); err != nil || !next {
			t.Fatalf("%s: next=%v err=%v", f.lang, next, err)
		}
		if x.Req.Header.Get("X-Stamp") != "on" || x.Resp.Header.Get("X-Stamp") != "on" {
			t.Errorf("%s: request %v, response %v", f.lang, x.Req.Header, x.Resp.Header)
		}
		_ = m.Close(ctx)
	}
}
