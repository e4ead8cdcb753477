package filter

import "golang.org/x/sys/unix"

// mmapMemory is a linear memory in its own anonymous mapping, outside the
// Go heap. Its whole maximum (the filter's memory limit) is reserved at
// allocation as inaccessible address space (PROT_NONE, MAP_NORESERVE: no
// RAM, no swap accounting), and made readable and writable as the guest
// grows, so its address never changes and growing never copies (wazero's
// default reallocates and copies the slice). A page costs RAM only once the
// guest touches it; munmap at Free gives everything back.
//
// The limit holds twice: the module's declared maximum is the limit
// (rewritten at load, so wazero refuses memory.grow past it), and
// Reallocate refuses any size past the reservation.
type mmapMemory struct {
	stats     *memStats
	mem       []byte // the reservation: len is the maximum
	committed int    // bytes made readable and writable, from 0
	size      int    // bytes the guest sees
	heap      []byte // fallback when mmap failed: a Go slice, as wazero does
}

func newLinearMemory(stats *memStats, maxBytes uint64) linearMemory {
	m := &mmapMemory{stats: stats}
	if maxBytes == 0 || maxBytes > 1<<32 {
		return m
	}
	b, err := unix.Mmap(-1, 0, int(maxBytes), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		// Out of address space or mappings (vm.max_map_count): the
		// instance still works, its memory on the Go heap.
		return m
	}
	m.mem = b
	stats.reserved.Add(int64(len(b)))
	return m
}

// Reallocate implements experimental.LinearMemory: it commits up to size
// and returns the memory with that length. wazero calls it once at
// instantiation with the module's minimum and at each memory.grow; a nil
// result makes memory.grow return -1 in the guest.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if m.mem == nil {
		return m.heapRealloc(size)
	}
	if size > uint64(len(m.mem)) {
		return nil
	}
	n := int(size)
	if n > m.committed {
		if err := unix.Mprotect(m.mem[m.committed:n], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil // the guest sees a failed memory.grow
		}
		m.stats.committed.Add(int64(n - m.committed))
		m.committed = n
	}
	m.size = n
	return m.mem[:n:n]
}

func (m *mmapMemory) heapRealloc(size uint64) []byte {
	if size > 1<<32 {
		return nil
	}
	if size <= uint64(cap(m.heap)) {
		m.heap = m.heap[:size]
	} else {
		nb := make([]byte, size)
		copy(nb, m.heap)
		m.heap = nb
	}
	m.stats.committed.Add(int64(size) - int64(m.size))
	m.size = int(size)
	return m.heap
}

// Free implements experimental.LinearMemory; wazero calls it when the
// instance is closed.
func (m *mmapMemory) Free() {
	if m.mem != nil {
		_ = unix.Munmap(m.mem)
		m.stats.reserved.Add(-int64(len(m.mem)))
		m.stats.committed.Add(-int64(m.committed))
		m.mem, m.committed = nil, 0
		return
	}
	m.stats.committed.Add(-int64(m.size))
	m.heap = nil
}
