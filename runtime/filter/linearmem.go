package filter

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memory outside the Go heap. wazero keeps an instance's linear
// memory as a Go []byte by default: a Go guest's 3-4 MiB per live instance
// is then heap that counts toward the collector's target, which GOGC
// multiplies: with GOGC=400, 64 busy instances (~256 MiB) let the heap grow
// to 1.3 GiB. The
// experimental MemoryAllocator hook lets the host supply the memory; on
// Linux it comes from mmap (linearmem_linux.go), elsewhere from the Go heap
// as before (linearmem_other.go). See RATIONALE.md, "Filter memory".

// memStats counts the linear memory of a runtime's instances, in bytes.
type memStats struct {
	reserved  atomic.Int64 // address space reserved: the memory limit of each live instance
	committed atomic.Int64 // readable and writable: each live instance's current size
}

// MemoryStats is how much linear memory a runtime's live instances hold.
type MemoryStats struct {
	// Reserved is address space only: each instance reserves its memory
	// limit up front, so that growing never moves its memory.
	Reserved int64
	// Committed is the linear memory instances may use: the sum of their
	// sizes. Pages the guest never touched, and pages given back after
	// an idle period, take no RAM even when committed.
	Committed int64
}

// MemoryStats returns the linear memory held by r's live instances.
func (r *Runtime) MemoryStats() MemoryStats {
	return MemoryStats{Reserved: r.mem.reserved.Load(), Committed: r.mem.committed.Load()}
}

// allocator returns the MemoryAllocator for one new instance of m: the
// linear memory it creates is remembered in *dst.
func (m *Module) allocator(dst *linearMemory) experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, maxBytes uint64) experimental.LinearMemory {
		lm := newLinearMemory(&m.rt.mem, maxBytes)
		*dst = lm
		return lm
	})
}

// linearMemory is one instance's memory as the allocator made it.
type linearMemory interface {
	experimental.LinearMemory
	// overlay makes the memory's first bytes the module's image.
	overlay(im *memImage) error
	// reset puts an overlaid memory back to the image, giving back the
	// RAM of the pages the instance wrote, and reports whether it could.
	reset(im *memImage) bool
}
