package filter

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

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
	imaged    int    // bytes mapped from a memImage, from 0
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

// memImage is a module's linear memory as its first instance left it after
// initialisation, in a sealed memfd. New instances map it copy-on-write
// (overlay) instead of running the guest's initialisation: mapping is a few
// microseconds whatever the size, a page is copied only when an instance
// writes to it, and pages it only reads are shared by every instance (page
// cache). MADV_DONTNEED on such a mapping drops the instance's private
// copies, which puts it back to the image and gives their RAM back.
type memImage struct {
	size int

	// mu orders overlay against close: a descriptor number is reused as
	// soon as it is closed, and an instance created while its module
	// closes must fail, not map whatever file got the number.
	mu     sync.RWMutex
	fd     int
	closed bool
}

func newMemImage(name string, b []byte) (*memImage, error) {
	fd, err := unix.MemfdCreate("sluice-filter-"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("write the memory image: %w", err)
		}
		off += n
	}
	// Sealed: nothing can change the image under the instances mapping it.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("seal the memory image: %w", err)
	}
	return &memImage{fd: fd, size: len(b)}, nil
}

func (im *memImage) close() {
	im.mu.Lock()
	defer im.mu.Unlock()
	if !im.closed {
		im.closed = true
		_ = unix.Close(im.fd)
	}
}

// overlay replaces the first im.size bytes of the memory, which must be
// committed, with a private copy-on-write mapping of the image, at the same
// address (MAP_FIXED): wazero's view of the memory does not change, its
// content becomes the image's. Whatever the pages held before (the data
// segments wazero wrote at instantiation) is discarded with them.
func (m *mmapMemory) overlay(im *memImage) error {
	im.mu.RLock()
	defer im.mu.RUnlock()
	if im.closed {
		return errors.New("the module was closed")
	}
	if m.mem == nil { // the Go-heap fallback
		if len(m.heap) < im.size {
			return errors.New("memory smaller than its image")
		}
		_, err := unix.Pread(im.fd, m.heap[:im.size], 0)
		return err
	}
	if m.committed < im.size {
		return errors.New("memory smaller than its image")
	}
	_, err := unix.MmapPtr(im.fd, 0, unsafe.Pointer(unsafe.SliceData(m.mem)), uintptr(im.size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("map the memory image: %w", err)
	}
	m.imaged = im.size
	return nil
}

// reset puts a memory overlaid with im back to the image and gives the RAM
// of every page the instance wrote back to the OS. It reports false, and
// changes nothing, when that is not possible: the memory is not mapped from
// the image, or has grown past it (wazero cannot shrink it, and zeroing the
// growth would not make it the image).
func (m *mmapMemory) reset(im *memImage) bool {
	if m.mem == nil || m.imaged != im.size || m.size != im.size {
		return false
	}
	return unix.Madvise(m.mem[:im.size], unix.MADV_DONTNEED) == nil
}
