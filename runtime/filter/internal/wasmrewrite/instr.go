package wasmrewrite

import "fmt"

// Opcodes the rewriter treats specially. Every other opcode is only skipped
// over, which still requires knowing the exact shape of its immediates: a
// wrong length would desynchronise the walk and make a constant's bytes look
// like a `loop`.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24

	opCall               = 0x10
	opCallIndirect       = 0x11
	opReturnCall         = 0x12
	opReturnCallIndirect = 0x13
	opDrop               = 0x1a
	opMemoryGrow         = 0x40
	opI32Const           = 0x41
	opI32Add             = 0x6a
	opBrIf               = 0x0d
	opI32And             = 0x71
	opLocalGet           = 0x20
	opLocalTee           = 0x22

	prefixFC   = 0xfc // saturating truncation, bulk memory, table ops
	prefixSIMD = 0xfd // 128-bit SIMD, relaxed SIMD
	prefixAtom = 0xfe // threads (atomics)

	blockTypeEmpty = 0x40
)

// skipBlockType skips a block type: 0x40 (empty), a one-byte value type, or a
// signed LEB128 (s33) type index.
func skipBlockType(r *reader) error {
	if r.pos >= len(r.b) {
		return errTruncated
	}
	switch c := r.b[r.pos]; c {
	case blockTypeEmpty, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.pos++
		return nil
	default:
		return r.skipLEB(5)
	}
}

// skipMemArg skips a memory argument: alignment then offset. With the
// multi-memory proposal, bit 6 of the alignment says a memory index follows.
// The offset is read as a u64 so that memory64 encodings are skipped too.
func skipMemArg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u64()
	return err
}

// skipImmediates advances r past the immediates of the instruction whose
// first opcode byte op has just been read. It knows the core specification
// 2.0 instruction set (MVP, sign extension, saturating truncation, bulk
// memory, reference types, multi-value, SIMD), tail calls, relaxed SIMD and
// the threads proposal's atomics: everything wazero v1.12 can compile, and
// then some. An unknown opcode is an error: guessing would be unsafe.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x00 || op == 0x01: // unreachable, nop
		return nil
	case op == opBlock || op == opLoop || op == opIf:
		return skipBlockType(r)
	case op == 0x05 || op == opEnd: // else, end
		return nil
	case op == 0x0c || op == 0x0d: // br, br_if
		_, err := r.u32()
		return err
	case op == 0x0e: // br_table: vec(labelidx) labelidx
		n, err := r.u32()
		if err != nil {
			return err
		}
		if int(n) > len(r.b)-r.pos { // each label takes at least a byte
			return errTruncated
		}
		for i := uint32(0); i <= n; i++ {
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		return nil
	case op == 0x0f: // return
		return nil
	case op == 0x10 || op == 0x12: // call, return_call: funcidx
		_, err := r.u32()
		return err
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect: typeidx tableidx
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	case op == 0x14 || op == 0x15: // call_ref, return_call_ref: typeidx
		_, err := r.u32()
		return err
	case op == 0x1a || op == 0x1b: // drop, select
		return nil
	case op == 0x1c: // select t*: vec(valtype)
		n, err := r.u32()
		if err != nil {
			return err
		}
		_, err = r.bytes(int(n))
		return err
	case op >= 0x20 && op <= 0x26: // local.get/set/tee, global.get/set, table.get/set
		_, err := r.u32()
		return err
	case op >= 0x28 && op <= 0x3e: // loads and stores
		return skipMemArg(r)
	case op == 0x3f || op == 0x40: // memory.size, memory.grow: memidx
		_, err := r.u32()
		return err
	case op == 0x41: // i32.const: s32
		return r.skipLEB(5)
	case op == 0x42: // i64.const: s64
		return r.skipLEB(10)
	case op == 0x43: // f32.const
		_, err := r.bytes(4)
		return err
	case op == 0x44: // f64.const
		_, err := r.bytes(8)
		return err
	case op >= 0x45 && op <= 0xc4: // numeric and sign-extension ops: no immediates
		return nil
	case op == 0xd0: // ref.null: heap type (s33)
		return r.skipLEB(5)
	case op == 0xd1: // ref.is_null
		return nil
	case op == 0xd2: // ref.func: funcidx
		_, err := r.u32()
		return err
	case op == prefixFC:
		return skipFC(r)
	case op == prefixSIMD:
		return skipSIMD(r)
	case op == prefixAtom:
		return skipAtomic(r)
	}
	return fmt.Errorf("unsupported opcode 0x%02x at offset %d", op, r.pos-1)
}

func skipFC(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // i32/i64.trunc_sat_f32/f64_s/u
		return nil
	case sub == 8, sub == 10, sub == 12, sub == 14:
		// memory.init dataidx memidx; memory.copy memidx memidx;
		// table.init elemidx tableidx; table.copy tableidx tableidx
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
		// data.drop, memory.fill, elem.drop, table.grow, table.size, table.fill
		_, err := r.u32()
		return err
	}
	return fmt.Errorf("unsupported opcode 0xfc %d at offset %d", sub, r.pos)
}

func skipSIMD(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // v128 loads/stores, load splats, load zero
		return skipMemArg(r)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle: 16 bytes
		_, err := r.bytes(16)
		return err
	case sub >= 21 && sub <= 34: // extract_lane / replace_lane: lane index
		_, err := r.byte()
		return err
	case sub >= 84 && sub <= 91: // v128.load*_lane / store*_lane: memarg, lane
		if err := skipMemArg(r); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case sub <= 0x113: // every other SIMD and relaxed-SIMD op has no immediates
		return nil
	}
	return fmt.Errorf("unsupported opcode 0xfd %d at offset %d", sub, r.pos)
}

func skipAtomic(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub == 0x03: // atomic.fence: one reserved byte
		_, err := r.byte()
		return err
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e: // notify, wait, atomic loads/stores/rmw
		return skipMemArg(r)
	}
	return fmt.Errorf("unsupported opcode 0xfe %d at offset %d", sub, r.pos)
}
