//go:build !linux

package filter

import (
	"errors"

	"github.com/tetratelabs/wazero/experimental"
)

// heapMemory is wazero's default behaviour (a Go slice that is reallocated
// and copied as it grows), for platforms without the mmap implementation.
type heapMemory struct {
	stats *memStats
	max   uint64
	buf   []byte
}

func newLinearMemory(stats *memStats, maxBytes uint64) linearMemory {
	stats.reserved.Add(int64(maxBytes))
	return &heapMemory{stats: stats, max: maxBytes}
}

func (h *heapMemory) Reallocate(size uint64) []byte {
	if size > h.max {
		return nil
	}
	h.stats.committed.Add(int64(size) - int64(len(h.buf)))
	if size <= uint64(cap(h.buf)) {
		h.buf = h.buf[:size]
		return h.buf
	}
	nb := make([]byte, size)
	copy(nb, h.buf)
	h.buf = nb
	return h.buf
}

func (h *heapMemory) Free() {
	h.stats.committed.Add(-int64(len(h.buf)))
	h.stats.reserved.Add(-int64(h.max))
	h.buf = nil
}

// memImage is a module's initialised memory, copied into each new instance.
type memImage struct {
	data []byte
	size int
}

func newMemImage(_ string, b []byte) (*memImage, error) {
	return &memImage{data: b, size: len(b)}, nil
}

func (im *memImage) close() {}

func (h *heapMemory) overlay(im *memImage) error {
	if len(h.buf) < im.size {
		return errors.New("memory smaller than its image")
	}
	copy(h.buf, im.data)
	return nil
}

// reset is not possible without mmap: the instance keeps its pages.
func (h *heapMemory) reset(*memImage) bool { return false }

var _ experimental.LinearMemory = (*heapMemory)(nil)
