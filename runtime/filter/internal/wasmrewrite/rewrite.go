// Package wasmrewrite parses a WebAssembly binary just enough to check what
// a host needs before compiling it, and rewrites it to enforce limits that
// wazero only offers per runtime or at a high price:
//
//   - it lowers the maximum of the module's memory to a per-module limit, so
//     memory.grow past the limit returns -1 whatever the runtime allows;
//   - it adds an exported mutable i32 global (the interrupt flag) and, at
//     every function entry and every loop header, a check of it, so that a
//     host timer setting the flag to 1 stops a runaway guest at its next
//     loop iteration or call (wasmtime's epoch interruption, done by
//     rewriting instead of in the compiler);
//   - optionally it makes every Nth of those points a yield to the Go
//     scheduler (see checkCode), without which a spinning guest can starve
//     the very timer meant to stop it;
//   - it removes the start section and exports the start function instead,
//     so the host runs it under the same deadline as any other call.
//
// The rewriter never renumbers anything: the global is appended after all
// others and the exports are appended, so every existing index, element
// segment and name stays valid. Function bodies are re-encoded with new sizes.
// Custom sections holding DWARF (.debug_*) are dropped when code is
// rewritten, since their code offsets would be wrong.
//
// Validation of everything else (types, stack discipline, UTF-8 names) is
// left to wazero, which compiles the result.
package wasmrewrite

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Section ids of the binary format.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
	secTag      = 13
)

// ExternKind is the kind of an import or export.
type ExternKind byte

// Extern kinds, as encoded in import and export entries.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
	KindTag    ExternKind = 4
)

func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "function"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Import is one entry of the import section.
type Import struct {
	Module, Name string
	Kind         ExternKind
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// Memory describes the limits of a memory defined by the module, in 64 KiB
// pages.
type Memory struct {
	Min, Max uint64
	HasMax   bool
	Shared   bool // threads proposal
	Is64     bool // memory64 proposal
}

// Module is a parsed module. Sections are kept as raw payloads; only those
// the rewriter changes or the host checks are decoded.
type Module struct {
	Imports []Import
	Exports []Export
	// Memories are the memories the module defines (not imports).
	Memories []Memory
	// HasStart reports a start section; StartFunc is its function index.
	HasStart  bool
	StartFunc uint32

	sections        []section
	importedGlobals uint32
	definedGlobals  uint32
	typeParams      []uint32 // parameter count of each function type
	funcTypes       []uint32 // type index of each defined function
}

type section struct {
	id      byte
	payload []byte
	name    string // custom sections only
}

var magic = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Parse decodes the section structure of a binary module. It fails on a
// malformed structure; it does not validate code.
func Parse(wasm []byte) (*Module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], magic) {
		return nil, errors.New("not a WebAssembly 1.0 binary module (bad magic or version)")
	}
	m := &Module{}
	r := reader{b: wasm, pos: 8}
	for !r.eof() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("section %d: size: %w", id, err)
		}
		payload, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", id, err)
		}
		s := section{id: id, payload: payload}
		if id == secCustom {
			pr := reader{b: payload}
			if s.name, err = pr.name(); err != nil {
				return nil, fmt.Errorf("custom section: name: %w", err)
			}
		}
		if err := m.decode(s); err != nil {
			return nil, fmt.Errorf("%s section: %w", sectionName(id), err)
		}
		m.sections = append(m.sections, s)
	}
	return m, nil
}

func (m *Module) decode(s section) error {
	r := reader{b: s.payload}
	switch s.id {
	case secImport:
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			var im Import
			if im.Module, err = r.name(); err != nil {
				return err
			}
			if im.Name, err = r.name(); err != nil {
				return err
			}
			k, err := r.byte()
			if err != nil {
				return err
			}
			im.Kind = ExternKind(k)
			switch im.Kind {
			case KindFunc:
				_, err = r.u32()
			case KindTable:
				if _, err = r.byte(); err == nil {
					_, err = readLimits(&r)
				}
			case KindMemory:
				_, err = readLimits(&r)
			case KindGlobal:
				if _, err = r.byte(); err == nil {
					_, err = r.byte()
				}
				m.importedGlobals++
			case KindTag:
				if _, err = r.byte(); err == nil {
					_, err = r.u32()
				}
			default:
				return fmt.Errorf("import %q.%q: unknown kind %d", im.Module, im.Name, k)
			}
			if err != nil {
				return err
			}
			m.Imports = append(m.Imports, im)
		}
	case secType:
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			form, err := r.byte()
			if err != nil {
				return err
			}
			if form != 0x60 {
				return fmt.Errorf("type %d: unsupported form 0x%02x", i, form)
			}
			params, err := r.u32()
			if err != nil {
				return err
			}
			if _, err := r.bytes(int(params)); err != nil {
				return err
			}
			results, err := r.u32()
			if err != nil {
				return err
			}
			if _, err := r.bytes(int(results)); err != nil {
				return err
			}
			m.typeParams = append(m.typeParams, params)
		}
	case secFunction:
		n, err := r.u32()
		if err != nil {
			return err
		}
		if int(n) > len(r.b) {
			return errTruncated
		}
		for i := uint32(0); i < n; i++ {
			t, err := r.u32()
			if err != nil {
				return err
			}
			m.funcTypes = append(m.funcTypes, t)
		}
	case secMemory:
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			mem, err := readLimits(&r)
			if err != nil {
				return err
			}
			m.Memories = append(m.Memories, mem)
		}
	case secGlobal:
		n, err := r.u32()
		if err != nil {
			return err
		}
		m.definedGlobals = n
		return nil // entries are not decoded
	case secExport:
		n, err := r.u32()
		if err != nil {
			return err
		}
		for i := uint32(0); i < n; i++ {
			var ex Export
			if ex.Name, err = r.name(); err != nil {
				return err
			}
			k, err := r.byte()
			if err != nil {
				return err
			}
			ex.Kind = ExternKind(k)
			if ex.Index, err = r.u32(); err != nil {
				return err
			}
			m.Exports = append(m.Exports, ex)
		}
	case secStart:
		f, err := r.u32()
		if err != nil {
			return err
		}
		m.HasStart, m.StartFunc = true, f
	default:
		return nil
	}
	// Entries are appended after a decoded section's payload: trailing
	// bytes would turn into garbage entries.
	if !r.eof() {
		return fmt.Errorf("%d trailing bytes", len(r.b)-r.pos)
	}
	return nil
}

// readLimits reads a limits structure. Flag bit 0: a maximum follows; bit 1:
// shared (threads); bit 2: 64-bit (memory64).
func readLimits(r *reader) (Memory, error) {
	flags, err := r.byte()
	if err != nil {
		return Memory{}, err
	}
	if flags > 7 {
		return Memory{}, fmt.Errorf("unknown limits flags 0x%02x", flags)
	}
	mem := Memory{HasMax: flags&1 != 0, Shared: flags&2 != 0, Is64: flags&4 != 0}
	if mem.Min, err = r.u64(); err != nil {
		return mem, err
	}
	if mem.HasMax {
		if mem.Max, err = r.u64(); err != nil {
			return mem, err
		}
	}
	return mem, nil
}

// Options say what Encode changes. The zero value changes nothing.
type Options struct {
	// MaxMemoryPages, when non-zero, lowers the maximum of the module's
	// memory to min(declared maximum, MaxMemoryPages). A module whose
	// minimum is above it is refused.
	MaxMemoryPages uint32
	// InterruptExport, when non-empty, adds the interrupt flag global,
	// exported under this name, and the checks that test it.
	InterruptExport string
	// YieldEvery, a power of two when non-zero, makes every loop yield to
	// the Go scheduler once per YieldEvery iterations (`memory.grow 0`),
	// and test the interrupt flag only then. See loopCheck.
	YieldEvery uint32
	// StartExport, when non-empty and the module has a start section,
	// removes the start section and exports the start function under this
	// name, for the host to call.
	StartExport string
	// GlobalsExportPrefix, when non-empty, exports every global the module
	// defines (its own and those Encode adds) under the prefix followed by
	// the global's index, so that the host can read and restore an
	// instance's complete state, which non-exported globals (a Go guest's
	// stack pointer) are part of.
	GlobalsExportPrefix string
	// DropData leaves the data section out, for a host that writes the
	// segments itself (see ActiveData) or not at all (it restores an
	// image of the initialised memory instead).
	DropData bool
}

// Stats says what Encode did.
type Stats struct {
	Functions int // function bodies instrumented
	Loops     int // loop headers instrumented
}

// Encode returns the module rewritten according to o.
func (m *Module) Encode(o Options) ([]byte, Stats, error) {
	var st Stats
	for _, ex := range m.Exports {
		if (o.InterruptExport != "" && ex.Name == o.InterruptExport) || (o.StartExport != "" && m.HasStart && ex.Name == o.StartExport) ||
			(o.GlobalsExportPrefix != "" && strings.HasPrefix(ex.Name, o.GlobalsExportPrefix)) {
			return nil, st, fmt.Errorf("module already exports %q, a name reserved by the host", ex.Name)
		}
	}
	globalIdx := m.importedGlobals + m.definedGlobals
	if o.YieldEvery > 0 && len(m.Memories) == 0 && !m.importsMemory() {
		return nil, st, errors.New("yield points need a memory")
	}
	var newExports []byte
	nNewExports := uint32(0)
	if o.InterruptExport != "" {
		newExports = appendName(newExports, o.InterruptExport)
		newExports = append(newExports, byte(KindGlobal))
		newExports = appendU32(newExports, globalIdx)
		nNewExports++
	}
	if o.StartExport != "" && m.HasStart {
		newExports = appendName(newExports, o.StartExport)
		newExports = append(newExports, byte(KindFunc))
		newExports = appendU32(newExports, m.StartFunc)
		nNewExports++
	}
	// The new globals, appended after all others, each
	// (global (mut i32) (i32.const 0)): the interrupt flag at globalIdx,
	// then the call counter of the yield points at function entries.
	var newGlobals []byte
	nNewGlobals := uint32(0)
	if o.InterruptExport != "" {
		newGlobals = append(newGlobals, 0x7f, 0x01, opI32Const, 0x00, opEnd)
		nNewGlobals++
	}
	counterIdx := globalIdx + nNewGlobals
	if o.YieldEvery > 0 {
		newGlobals = append(newGlobals, 0x7f, 0x01, opI32Const, 0x00, opEnd)
		nNewGlobals++
	}
	if o.GlobalsExportPrefix != "" {
		for g := m.importedGlobals; g < globalIdx+nNewGlobals; g++ {
			newExports = appendName(newExports, o.GlobalsExportPrefix+strconv.FormatUint(uint64(g), 10))
			newExports = append(newExports, byte(KindGlobal))
			newExports = appendU32(newExports, g)
			nNewExports++
		}
	}
	if o.YieldEvery&(o.YieldEvery-1) != 0 {
		return nil, st, fmt.Errorf("YieldEvery must be a power of two, not %d", o.YieldEvery)
	}
	instrument := o.InterruptExport != "" || o.YieldEvery > 0

	out := append([]byte(nil), magic...)
	wroteGlobal, wroteExport := false, false
	emit := func(id byte, payload []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(payload)))
		out = append(out, payload...)
	}
	// emitMissing writes the global and export sections the module lacks,
	// at the position the binary format's section order requires.
	emitMissing := func(beforeRank int) {
		if nNewGlobals > 0 && !wroteGlobal && beforeRank > rank(secGlobal) {
			emit(secGlobal, append(appendU32(nil, nNewGlobals), newGlobals...))
			wroteGlobal = true
		}
		if nNewExports > 0 && !wroteExport && beforeRank > rank(secExport) {
			emit(secExport, append(appendU32(nil, nNewExports), newExports...))
			wroteExport = true
		}
	}
	for _, s := range m.sections {
		if s.id != secCustom {
			emitMissing(rank(s.id))
		}
		switch s.id {
		case secCustom:
			if instrument && strings.HasPrefix(s.name, ".debug") {
				continue // DWARF offsets would no longer match the code
			}
			emit(s.id, s.payload)
		case secMemory:
			p, err := m.encodeMemory(s.payload, o.MaxMemoryPages)
			if err != nil {
				return nil, st, err
			}
			emit(s.id, p)
		case secGlobal:
			if nNewGlobals == 0 {
				emit(s.id, s.payload)
				break
			}
			r := reader{b: s.payload}
			n, _ := r.u32() // already decoded once by Parse
			p := appendU32(nil, n+nNewGlobals)
			p = append(p, s.payload[r.pos:]...)
			emit(s.id, append(p, newGlobals...))
			wroteGlobal = true
		case secExport:
			if nNewExports == 0 {
				emit(s.id, s.payload)
				break
			}
			r := reader{b: s.payload}
			n, _ := r.u32()
			p := appendU32(nil, n+nNewExports)
			p = append(p, s.payload[r.pos:]...)
			emit(s.id, append(p, newExports...))
			wroteExport = true
		case secData:
			if !o.DropData {
				emit(s.id, s.payload)
			}
		case secStart:
			if o.StartExport == "" {
				emit(s.id, s.payload)
			}
		case secCode:
			if !instrument {
				emit(s.id, s.payload)
				break
			}
			p, err := m.instrumentCode(s.payload, o, globalIdx, counterIdx, &st)
			if err != nil {
				return nil, st, fmt.Errorf("code section: %w", err)
			}
			emit(s.id, p)
		default:
			emit(s.id, s.payload)
		}
	}
	emitMissing(rank(secData) + 1)
	return out, st, nil
}

// Globals is the number of globals in the module's index space before
// Encode adds any: imported, then defined.
func (m *Module) Globals() uint32 { return m.importedGlobals + m.definedGlobals }

// ImportsMemory reports whether the module imports its memory.
func (m *Module) ImportsMemory() bool { return m.importsMemory() }

func (m *Module) importsMemory() bool {
	for _, im := range m.Imports {
		if im.Kind == KindMemory {
			return true
		}
	}
	return false
}

func (m *Module) encodeMemory(payload []byte, maxPages uint32) ([]byte, error) {
	if maxPages == 0 {
		return payload, nil
	}
	p := appendU32(nil, uint32(len(m.Memories)))
	for i, mem := range m.Memories {
		if mem.Shared || mem.Is64 {
			return nil, fmt.Errorf("memory %d: shared and 64-bit memories cannot be limited", i)
		}
		if mem.Min > uint64(maxPages) {
			return nil, fmt.Errorf("memory %d: minimum of %d pages exceeds the limit of %d pages", i, mem.Min, maxPages)
		}
		max := uint64(maxPages)
		if mem.HasMax && mem.Max < max {
			max = mem.Max
		}
		p = append(p, 0x01)
		p = appendU32(p, uint32(mem.Min))
		p = appendU32(p, uint32(max))
	}
	return p, nil
}

// The code inserted by instrumentation. At every function entry, when there
// is an interrupt flag:
//
//	global.get $flag  if  unreachable  end
//
// At every loop header, with yields every N (a power of two) iterations and
// $n a new i32 local of the function:
//
//	block
//	  local.get $n  i32.const 1  i32.add  local.tee $n
//	  i32.const N-1  i32.and  br_if 0            ;; not the Nth: skip
//	  i32.const 0  memory.grow 0  drop           ;; yield to the Go scheduler
//	  global.get $flag  if  unreachable  end     ;; if there is a flag
//	end
//
// and, without yields, the function entry check again. Functions that call
// others also yield at entry, every N such calls (see callCheck).
//
// Why yield: a goroutine running compiled wasm cannot be preempted by the Go
// scheduler, so guests spinning on every P would starve the very timer that
// sets the flag, and stall garbage collection's stop-the-world (and with it
// the node). memory.grow is the one instruction wazero always implements by
// returning to Go (its grow handler), where the scheduler can preempt the
// goroutine; growing by zero pages changes nothing. It needs no import, so
// no function index shifts.
//
// Why a local counter: it lives in a register. A global counter would be a
// load and a store per iteration, a dependency chain through memory that
// doubled the time of a tight loop when measured. The local starts at zero
// on every call, so the entries of functions that call others count in a
// global instead: recursion without loops (a naive fib) runs exponentially
// long within a bounded stack, and must yield too. Leaf functions without
// loops are bounded by their size.
func flagCheck(flagIdx uint32) []byte {
	c := []byte{opGlobalGet}
	c = appendU32(c, flagIdx)
	return append(c, opIf, blockTypeEmpty, opUnreachable, opEnd)
}

// callCheck is the entry of a function that calls others, with yields:
// every N calls of such functions (counted in a global: locals start at
// zero on every call) it yields and tests the flag, so that recursion
// without loops cannot spin past its deadline either. Otherwise the plain
// flag check.
//
//	block
//	  global.get $calls  i32.const 1  i32.add  global.set $calls
//	  global.get $calls  i32.const N-1  i32.and  br_if 0
//	  i32.const 0  memory.grow 0  drop
//	  global.get $flag  if  unreachable  end    ;; if there is a flag
//	end
//	global.get $flag  if  unreachable  end      ;; if there is a flag
func callCheck(o Options, flagIdx, counterIdx uint32) []byte {
	var flag []byte
	if o.InterruptExport != "" {
		flag = flagCheck(flagIdx)
	}
	c := []byte{opBlock, blockTypeEmpty, opGlobalGet}
	c = appendU32(c, counterIdx)
	c = append(c, opI32Const, 0x01, opI32Add, opGlobalSet)
	c = appendU32(c, counterIdx)
	c = append(c, opGlobalGet)
	c = appendU32(c, counterIdx)
	c = append(c, opI32Const)
	c = appendS32(c, int32(o.YieldEvery-1))
	c = append(c, opI32And, opBrIf, 0x00)
	c = append(c, opI32Const, 0x00, opMemoryGrow, 0x00, opDrop)
	c = append(c, flag...)
	c = append(c, opEnd)
	return append(c, flag...)
}

func loopCheck(o Options, flagIdx, local uint32) []byte {
	var flag []byte
	if o.InterruptExport != "" {
		flag = flagCheck(flagIdx)
	}
	if o.YieldEvery == 0 {
		return flag
	}
	c := []byte{opBlock, blockTypeEmpty, opLocalGet}
	c = appendU32(c, local)
	c = append(c, opI32Const, 0x01, opI32Add, opLocalTee)
	c = appendU32(c, local)
	c = append(c, opI32Const)
	c = appendS32(c, int32(o.YieldEvery-1))
	c = append(c, opI32And, opBrIf, 0x00)
	c = append(c, opI32Const, 0x00, opMemoryGrow, 0x00, opDrop)
	c = append(c, flag...)
	return append(c, opEnd)
}

// instrumentCode rewrites every function body of a code section payload.
func (m *Module) instrumentCode(payload []byte, o Options, flagIdx, counterIdx uint32, st *Stats) ([]byte, error) {
	r := reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if int(n) != len(m.funcTypes) {
		return nil, fmt.Errorf("%d function bodies for %d functions", n, len(m.funcTypes))
	}
	var entry []byte
	if o.InterruptExport != "" {
		entry = flagCheck(flagIdx)
	}
	callerEntry := entry
	if o.YieldEvery > 0 {
		callerEntry = callCheck(o, flagIdx, counterIdx)
	}
	out := make([]byte, 0, len(payload)+len(payload)/8)
	out = appendU32(out, n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		in, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		t := m.funcTypes[i]
		if int(t) >= len(m.typeParams) {
			return nil, fmt.Errorf("function %d: unknown type %d", i, t)
		}
		loops := 0
		body, loops, err = instrumentBody(body[:0], in, m.typeParams[t], entry, callerEntry, o, flagIdx)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		st.Functions++
		st.Loops += loops
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.eof() {
		return nil, errors.New("trailing bytes after the last function body")
	}
	return out, nil
}

// maxLocals bounds a function's locals (wazero's own limit is lower).
const maxLocals = 1 << 27

// instrumentBody appends to dst the body with one more i32 local (when
// yielding), the entry check after the local declarations (callerEntry for
// a function that calls others), and the loop check after the block type of
// every loop.
func instrumentBody(dst, body []byte, params uint32, entry, callerEntry []byte, o Options, flagIdx uint32) ([]byte, int, error) {
	r := reader{b: body}
	groups, err := r.u32()
	if err != nil {
		return nil, 0, err
	}
	locals := uint64(params)
	for g := uint32(0); g < groups; g++ {
		n, err := r.u32()
		if err != nil {
			return nil, 0, err
		}
		if _, err := r.byte(); err != nil {
			return nil, 0, err
		}
		locals += uint64(n)
	}
	if locals >= maxLocals {
		return nil, 0, fmt.Errorf("%d locals", locals)
	}
	if o.YieldEvery > 0 { // one more group: (local $n i32)
		dst = appendU32(dst, groups+1)
		dst = append(dst, body[bytesOfU32(body):r.pos]...)
		dst = append(dst, 0x01, 0x7f)
	} else {
		dst = append(dst, body[:r.pos]...)
	}
	codeStart := r.pos
	calls, err := hasCalls(body[codeStart:])
	if err != nil {
		return nil, 0, err
	}
	if calls {
		dst = append(dst, callerEntry...)
	} else {
		dst = append(dst, entry...)
	}
	check := loopCheck(o, flagIdx, uint32(locals))
	copied, loops := r.pos, 0
	for !r.eof() {
		op, _ := r.byte()
		if err := skipImmediates(&r, op); err != nil {
			return nil, 0, err
		}
		if op == opLoop {
			dst = append(dst, body[copied:r.pos]...)
			dst = append(dst, check...)
			copied = r.pos
			loops++
		}
	}
	dst = append(dst, body[copied:]...)
	return dst, loops, nil
}

// hasCalls reports whether code (a function body's instructions) calls
// another function.
func hasCalls(code []byte) (bool, error) {
	r := reader{b: code}
	for !r.eof() {
		op, _ := r.byte()
		switch op {
		case opCall, opCallIndirect, opReturnCall, opReturnCallIndirect:
			return true, nil
		}
		if err := skipImmediates(&r, op); err != nil {
			return false, err
		}
	}
	return false, nil
}

// bytesOfU32 returns the length of the LEB128 u32 at the start of b.
func bytesOfU32(b []byte) int {
	for i, c := range b {
		if c&0x80 == 0 {
			return i + 1
		}
	}
	return len(b)
}

// rank orders non-custom sections as the binary format requires.
func rank(id byte) int {
	switch id {
	case secTag:
		return 6 // between memory and global
	case secGlobal:
		return 7
	case secExport:
		return 8
	case secStart:
		return 9
	case secElement:
		return 10
	case secDataCnt:
		return 11
	case secCode:
		return 12
	case secData:
		return 13
	}
	return int(id) // type 1 .. memory 5
}

func sectionName(id byte) string {
	names := [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count", "tag"}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("unknown (id %d)", id)
}
