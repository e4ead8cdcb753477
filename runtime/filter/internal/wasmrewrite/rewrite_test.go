package wasmrewrite

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/sluicegw/sluice/runtime/testkit"
)

func newRuntime(t *testing.T) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	cfg := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	return rt
}

func rewrite(t *testing.T, wasm []byte, o Options) ([]byte, Stats) {
	t.Helper()
	m, err := Parse(wasm)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, st, err := m.Encode(o)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return out, st
}

func instantiate(t *testing.T, rt wazero.Runtime, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return mod
}

// TestInstrumentPreservesBehaviour decodes every instruction kind the
// decoder knows (instrs.wat), counts its loops, and checks the rewritten
// module computes what the original does, then traps once the flag is set.
func TestInstrumentPreservesBehaviour(t *testing.T) {
	ctx := context.Background()
	wasm := testkit.WAT(t, "instrs")
	out, st := rewrite(t, wasm, Options{InterruptExport: "flag", StartExport: "start", YieldEvery: 4})
	if st.Loops != 6 {
		t.Errorf("instrumented %d loops, want 6", st.Loops)
	}
	if st.Functions != 6 {
		t.Errorf("instrumented %d functions, want 6", st.Functions)
	}
	rt := newRuntime(t)
	orig := instantiate(t, rt, wasm)
	re := instantiate(t, rt, out)
	if fn := re.ExportedFunction("start"); fn == nil {
		t.Fatal("start function not exported")
	} else if _, err := fn.Call(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{0, 1, 5, 100} {
		want, err := orig.ExportedFunction("run").Call(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := re.ExportedFunction("run").Call(ctx, n)
		if err != nil {
			t.Fatalf("rewritten run(%d): %v", n, err)
		}
		if got[0] != want[0] {
			t.Errorf("run(%d) = %d after rewriting, want %d", n, got[0], want[0])
		}
	}
	flag, ok := re.ExportedGlobal("flag").(api.MutableGlobal)
	if !ok {
		t.Fatal("flag is not an exported mutable global")
	}
	flag.Set(1)
	if _, err := re.ExportedFunction("run").Call(ctx, 3); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("run with the flag set: err = %v, want unreachable", err)
	}
}

// TestStartSectionMovedToExport checks the start function no longer runs at
// instantiation but is exported for the host to call.
func TestStartSectionMovedToExport(t *testing.T) {
	ctx := context.Background()
	wasm := testkit.WAT(t, "config") // its start function enables a feature
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasStart {
		t.Fatal("config.wat has a start section")
	}
	out, _, err := m.Encode(Options{StartExport: "start"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if m2.HasStart {
		t.Error("start section still present")
	}
	var found bool
	for _, ex := range m2.Exports {
		found = found || (ex.Name == "start" && ex.Kind == KindFunc && ex.Index == m.StartFunc)
	}
	if !found {
		t.Errorf("exports %v lack start -> func %d", m2.Exports, m.StartFunc)
	}
	_ = ctx
}

// TestAddsMissingSections rewrites a module with no global and no export
// section; the new sections must land in a valid order.
func TestAddsMissingSections(t *testing.T) {
	ctx := context.Background()
	// (module (memory 1) (func (loop (br 0))) (start 0)) written by hand:
	// type, function, memory, start, code.
	wasm := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // function: type 0
		0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
		0x08, 0x01, 0x00, // start: func 0
		0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // code
	}
	out, st := rewrite(t, wasm, Options{InterruptExport: "flag", StartExport: "start", MaxMemoryPages: 4, YieldEvery: 128})
	if st.Loops != 1 || st.Functions != 1 {
		t.Errorf("stats %+v, want 1 loop in 1 function", st)
	}
	rt := newRuntime(t)
	mod := instantiate(t, rt, out) // would hang if the start section had been kept
	flag := mod.ExportedGlobal("flag").(api.MutableGlobal)
	flag.Set(1)
	if _, err := mod.ExportedFunction("start").Call(ctx); err == nil {
		t.Fatal("the loop ran on with the flag set")
	}
	if max, ok := mod.Memory().Definition().Max(); !ok || max != 4 {
		t.Errorf("memory max = %d, %v; want 4", max, ok)
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wat     string
		limit   uint32
		wantMax uint32
		wantErr string
	}{
		{"no max gets the limit", "grow", 16, 16, ""},
		{"lower max is kept", "instrs", 16, 2, ""},
		{"higher max is lowered", "instrs", 1, 1, ""},
		{"minimum above the limit", "bigmem", 16, 0, "minimum of 100 pages exceeds the limit of 16 pages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(testkit.WAT(t, tc.wat))
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := m.Encode(Options{MaxMemoryPages: tc.limit})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Parse(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := m2.Memories[0]; !got.HasMax || got.Max != uint64(tc.wantMax) {
				t.Errorf("memory = %+v, want max %d", got, tc.wantMax)
			}
		})
	}
}

func TestReservedExportName(t *testing.T) {
	m, err := Parse(testkit.WAT(t, "noop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Encode(Options{InterruptExport: "handle_request"}); err == nil {
		t.Fatal("a clash with an existing export was accepted")
	}
}

func TestParseErrors(t *testing.T) {
	good := testkit.WAT(t, "headers")
	for name, b := range map[string][]byte{
		"empty":           nil,
		"bad magic":       []byte("\x00asn\x01\x00\x00\x00"),
		"truncated":       good[:len(good)-3],
		"section too big": append(append([]byte{}, magic...), 0x01, 0xff, 0x01),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzRewrite feeds arbitrary bytes to Parse and Encode: they may fail, never
// panic, and whatever they produce must parse again. The stronger oracle:
// a module wazero compiles must still compile once rewritten, since a
// mis-decoded instruction stream (one that hides a loop, say) almost always
// produces a body that no longer validates.
func FuzzRewrite(f *testing.F) {
	for _, name := range []string{"instrs", "headers", "config", "oob", "grow", "fib", "loop10k"} {
		f.Add(testkit.WAT(f, name))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		out, _, err := m.Encode(Options{MaxMemoryPages: 8, InterruptExport: "__flag", StartExport: "__start", YieldEvery: 1024})
		if err != nil {
			return
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("rewritten module does not parse: %v", err)
		}
		in, err := rt.CompileModule(ctx, b)
		if err != nil {
			return // not a valid module to begin with
		}
		in.Close(ctx)
		c, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("wazero compiles the module but not its rewrite: %v", err)
		}
		c.Close(ctx)
	})
}

// Every defined global, the module's own (exported or not) and the ones
// Encode adds, is exported under the prefix and its index; an export that
// already uses the prefix is refused.
func TestGlobalsExported(t *testing.T) {
	// (module (global (mut i32) (i32.const 7)) (global i64 (i64.const 9))
	//   (memory 1) (func (loop (br 0))))
	wasm := []byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // function: type 0
		0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
		0x06, 0x0b, 0x02, 0x7f, 0x01, 0x41, 0x07, 0x0b, 0x7e, 0x00, 0x42, 0x09, 0x0b, // globals
		0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // code
	}
	out, _ := rewrite(t, wasm, Options{InterruptExport: "flag", YieldEvery: 128, GlobalsExportPrefix: "g."})
	mod := instantiate(t, newRuntime(t), out)
	want := map[string]uint64{"g.0": 7, "g.1": 9, "g.2": 0, "g.3": 0} // then the flag and the loop counter
	for name, v := range want {
		g := mod.ExportedGlobal(name)
		if g == nil || g.Get() != v {
			t.Errorf("global %s = %v, want %d", name, g, v)
		}
	}
	if _, ok := mod.ExportedGlobal("g.0").(api.MutableGlobal); !ok {
		t.Error("g.0 is not mutable")
	}
	if mod.ExportedGlobal("g.4") != nil {
		t.Error("g.4 exported: there are four globals")
	}

	m, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Encode(Options{GlobalsExportPrefix: "g."}); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("re-encoding with the prefix in use: %v, want a reserved-name error", err)
	}
}

// ActiveData returns what instantiation would write, and DropData leaves it
// out: the module's memory then starts zeroed.
func TestActiveDataAndDropData(t *testing.T) {
	// (module (memory 1) (data (i32.const 0) "x-stamp") (data (i32.const 8) "1")
	//   (data (i32.const 200) "z"))
	wasm := append([]byte{
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1
		0x0b, 0x1a, 0x03, // data: 3 segments
		0x00, 0x41, 0x00, 0x0b, 0x07}, "x-stamp"...)
	wasm = append(wasm, 0x00, 0x41, 0x08, 0x0b, 0x01, '1')
	wasm = append(wasm, 0x00, 0x41, 0xc8, 0x01, 0x0b, 0x01, 'z')
	m, err := Parse(wasm)
	if err != nil {
		t.Fatal(err)
	}
	segs, ok := m.ActiveData()
	if !ok || len(segs) != 3 || segs[0].Offset != 0 || string(segs[0].Bytes) != "x-stamp" ||
		segs[1].Offset != 8 || string(segs[1].Bytes) != "1" || segs[2].Offset != 200 || string(segs[2].Bytes) != "z" {
		t.Fatalf("ActiveData = %+v, %v", segs, ok)
	}
	rt := newRuntime(t)
	if b, _ := instantiate(t, rt, wasm).Memory().Read(0, 9); string(b) != "x-stamp\x001" {
		t.Fatalf("the module as written starts %q", b)
	}
	out, _ := rewrite(t, wasm, Options{DropData: true})
	if b, _ := instantiate(t, rt, out).Memory().Read(0, 9); string(b) != string(make([]byte, 9)) {
		t.Errorf("memory after DropData starts %q, want zeros", b)
	}
}
