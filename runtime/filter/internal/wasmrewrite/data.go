package wasmrewrite

import "errors"

// DataSegment is an active data segment of memory 0 at a constant offset:
// Len bytes copied to Offset at instantiation.
type DataSegment struct {
	Offset uint32
	Bytes  []byte
}

// ActiveData returns the module's data segments when every one of them is
// active, for memory 0, at an i32.const offset, and the module has no data
// count section (so no code refers to a segment by index): a host can then
// write them into memory itself, exactly as instantiation would, and the
// module can be encoded without them (Options.DropData). ok is false
// otherwise.
func (m *Module) ActiveData() (segs []DataSegment, ok bool) {
	for _, s := range m.sections {
		switch s.id {
		case secDataCnt:
			return nil, false
		case secData:
			var err error
			if segs, err = decodeActiveData(s.payload); err != nil {
				return nil, false
			}
		}
	}
	return segs, true
}

var errNotActive = errors.New("not an active segment at a constant offset")

func decodeActiveData(payload []byte) ([]DataSegment, error) {
	r := reader{b: payload}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	segs := make([]DataSegment, 0, n)
	for i := uint32(0); i < n; i++ {
		flag, err := r.u32()
		if err != nil {
			return nil, err
		}
		if flag != 0 { // 1: passive; 2: active with an explicit memory index
			return nil, errNotActive
		}
		if op, err := r.byte(); err != nil || op != opI32Const {
			return nil, errNotActive
		}
		off, err := r.s32()
		if err != nil {
			return nil, err
		}
		if end, err := r.byte(); err != nil || end != opEnd {
			return nil, errNotActive
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(int(size))
		if err != nil {
			return nil, err
		}
		segs = append(segs, DataSegment{Offset: uint32(off), Bytes: b})
	}
	if !r.eof() {
		return nil, errors.New("trailing bytes")
	}
	return segs, nil
}

// s32 reads a signed LEB128 i32.
func (r *reader) s32() (int32, error) {
	var v int64
	var shift uint
	for k := 0; k < 5; k++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return int32(v), nil
		}
	}
	return 0, errors.New("signed LEB128 too long")
}
