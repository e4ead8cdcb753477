package filter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The same header work in three SDKs: filters/stamp (Go), stamp-c (C) and
// stamp-as (AssemblyScript), built by wasm-build.sh. Each sets one request
// header and one response header (runtime/edge's
// TestStampFiltersInEveryLanguage checks that they agree). BENCHMARKS.md,
// "Filters by language".
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
