package filter

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluicegw/sluice/runtime/filter/internal/wasmrewrite"
)

// Instances from an image. A standard-Go guest's _initialize (the Go
// runtime's start-up and its package inits) takes ~5 ms, on every new
// instance: after a snapshot swap, after scaling to zero, in every burst
// above the idle count. Its result is the same each time but for what it
// drew from the host's clock and randomness, so Load keeps it: the first
// instance's linear memory and globals right after initialisation, before
// it serves anything. A new instance is instantiated (wazero builds its
// tables and host state), its memory grown to the image's size and mapped
// copy-on-write from the image, and its globals set; no guest code runs.
//
// What an instance shares with its siblings this way is what its
// initialisation computed: a random seed drawn at init (Go's map hash seed
// and the runtime's own generator, math/rand's global state, a filter's
// seed) is the same in every instance of a module load. Filters draw
// per-request randomness from crypto/rand (a host call each time) or seed
// on their first request; README and the SDK say so. See RATIONALE.md,
// "Filter instances from an image".

// moduleImage is a module's initialised state.
type moduleImage struct {
	mem     *memImage
	pages   uint32        // memory size, in wasm pages
	globals []imageGlobal // the mutable globals, with their values
}

type imageGlobal struct {
	name string
	val  uint64
}

// imageable reports whether new instances of a module can start from an
// image: it has initialisation code to skip (a start function or the WASI
// reactor's _initialize, not a command's _start, which runs main and is
// never called twice) and its own single memory.
func imageable(p *wasmrewrite.Module, hasStart bool, initFunc string) bool {
	if initFunc == exportStart || (!hasStart && initFunc != exportInitialize) {
		return false
	}
	return len(p.Memories) == 1 && !p.ImportsMemory()
}

// takeImage keeps i's state as m's image, i having just initialised and
// served nothing, and maps i's own memory from it (the content is the same;
// its pages become shared). Without an image (not imageable, or the image
// could not be made) every instance runs the initialisation, as before.
func (m *Module) takeImage(i *Instance) {
	if m.globalsExported == 0 || i.lin == nil {
		return
	}
	b, ok := i.mem.Read(0, i.mem.Size())
	if !ok {
		return
	}
	mi, err := newMemImage(m.name, b)
	if err != nil {
		m.logger.Warn("filter instances will run their initialisation: no memory image", "error", err.Error())
		return
	}
	img := &moduleImage{mem: mi, pages: i.mem.Size() / wasmPageSize}
	for g := uint32(0); g < m.globalsExported; g++ {
		name := exportGlobals + strconv.FormatUint(uint64(g), 10)
		if mg, ok := i.mod.ExportedGlobal(name).(api.MutableGlobal); ok {
			img.globals = append(img.globals, imageGlobal{name: name, val: mg.Get()})
		}
	}
	if err := i.lin.overlay(mi); err != nil {
		mi.close()
		m.logger.Warn("filter instances will run their initialisation: no memory image", "error", err.Error())
		return
	}
	i.globals = resolveGlobals(i.mod, img)
	m.image = img
	m.data = nil // only the image is used from now on
}

// writeData does what instantiation does with the data segments the
// rewriter left out: copies each to its offset, failing as wazero would
// when one does not fit in the memory.
func (i *Instance) writeData(segs []wasmrewrite.DataSegment) error {
	for k, s := range segs {
		if !i.mem.Write(s.Offset, s.Bytes) {
			return filterError(i.m.name, "instantiate", ErrInvalidModule,
				fmt.Sprintf("data segment %d [%d, %d) is outside the memory of %d bytes", k, s.Offset, uint64(s.Offset)+uint64(len(s.Bytes)), i.mem.Size()))
		}
	}
	return nil
}

func resolveGlobals(mod api.Module, img *moduleImage) []api.MutableGlobal {
	gs := make([]api.MutableGlobal, len(img.globals))
	for k, g := range img.globals {
		gs[k] = mod.ExportedGlobal(g.name).(api.MutableGlobal)
	}
	return gs
}

// fromImage brings a freshly instantiated i to the image's state.
func (i *Instance) fromImage(ctx context.Context, img *moduleImage) error {
	if cur := i.mem.Size() / wasmPageSize; cur < img.pages {
		if _, ok := i.mem.Grow(img.pages - cur); !ok {
			return filterError(i.m.name, "instantiate", ErrMemory, "cannot grow to the initialised size")
		}
	}
	if err := i.lin.overlay(img.mem); err != nil {
		return filterError(i.m.name, "instantiate", ErrInvalidModule, err.Error())
	}
	i.globals = resolveGlobals(i.mod, img)
	i.setGlobals(img)
	i.base = i.m.features
	return nil
}

func (i *Instance) setGlobals(img *moduleImage) {
	for k, g := range i.globals {
		g.Set(img.globals[k].val)
	}
}

// reset puts an idle instance back to the image: the RAM of every page it
// wrote goes back to the OS (madvise), its globals are the image's. It is
// then exactly a new instance, without the instantiation. It reports false
// when the instance cannot be reset (no image, or its memory grew).
func (i *Instance) reset() bool {
	img := i.m.image
	if img == nil || i.globals == nil || !i.lin.reset(img.mem) {
		return false
	}
	i.setGlobals(img)
	return true
}
