package filter

import (
	"context"
	"runtime"
	"testing"

	"github.com/sluicegw/sluice/runtime/testkit"
)

// A Go guest's linear memory (~4 MiB each) is not Go heap: holding eight
// instances grows the heap by a small fraction of their memory, the
// runtime counts their memory, and closing them gives all of it back.
func TestLinearMemoryOutsideTheGoHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mmap'd on Linux only")
	}
	rt, _ := newTestRuntime(t, RuntimeOptions{})
	ctx := context.Background()
	m, err := rt.Load(ctx, testkit.GoGuest(t), ModuleOptions{Name: "go", MaxInstances: 9})
	if err != nil {
		t.Fatal(err)
	}
	first := rt.MemoryStats() // the instance Load made
	if first.Committed < 2<<20 || first.Reserved < first.Committed {
		t.Fatalf("after Load: %+v, want the first instance's memory counted", first)
	}
	const held = 8
	before := heapInUse()
	insts := make([]*Instance, held)
	for k := range insts {
		if insts[k], err = m.newInstance(ctx); err != nil {
			t.Fatal(err)
		}
	}
	grown := heapInUse() - before
	st := rt.MemoryStats()
	if st.Committed-first.Committed < held*(2<<20) {
		t.Errorf("%d instances committed %d bytes, want at least 2 MiB each", held, st.Committed-first.Committed)
	}
	// What stays on the heap is wazero's own per-instance state (~650 KB
	// for a Go guest: its function table and module context), not the
	// 2-4 MiB of linear memory.
	if perInst := grown / held; perInst > 1<<20 {
		t.Errorf("Go heap grew %d bytes per instance, want linear memory outside it (< 1 MiB)", perInst)
	}
	for _, i := range insts {
		i.close(ctx)
	}
	if st := rt.MemoryStats(); st != first {
		t.Errorf("after closing them: %+v, want %+v", st, first)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := rt.MemoryStats(); st != (MemoryStats{}) {
		t.Errorf("after Close: %+v, want nothing held", st)
	}
}

// The memory gives the guest no byte past its size, and never more than its
// maximum, whatever wazero asks.
func TestLinearMemoryBounds(t *testing.T) {
	var stats memStats
	const page = 64 << 10
	lm := newLinearMemory(&stats, 4*page)
	b := lm.Reallocate(page)
	if len(b) != page || cap(b) != page {
		t.Fatalf("Reallocate(1 page): len %d cap %d", len(b), cap(b))
	}
	b[page-1] = 7
	b = lm.Reallocate(4 * page)
	if len(b) != 4*page || b[page-1] != 7 || b[4*page-1] != 0 {
		t.Fatalf("grown to 4 pages: len %d, kept %d, new %d", len(b), b[page-1], b[4*page-1])
	}
	b[4*page-1] = 1
	if got := lm.Reallocate(5 * page); got != nil {
		t.Errorf("Reallocate past the maximum returned %d bytes, want nil (memory.grow fails)", len(got))
	}
	if c := stats.committed.Load(); c != 4*page {
		t.Errorf("committed %d, want %d", c, 4*page)
	}
	lm.Free()
	if stats.committed.Load() != 0 || stats.reserved.Load() != 0 {
		t.Errorf("after Free: committed %d reserved %d", stats.committed.Load(), stats.reserved.Load())
	}
}
