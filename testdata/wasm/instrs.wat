;; instrs: exercises the rewriter's instruction decoder. It holds exactly 6
;; loops, and many immediates whose bytes include 0x03 (the loop opcode), so
;; a decoder that mis-sizes any immediate miscounts or corrupts the code.
;; run(n) returns a value that depends on every loop; the test compares it
;; before and after rewriting.
(module
  (type $pair (func (param i32) (result i32 i32)))
  (type $unop (func (param i32) (result i32)))
  (memory (export "memory") 1 2)
  (table $t 4 funcref)
  (global $g (mut i32) (i32.const 3))
  (data $d "\03\03\03\03")
  (elem (table $t) (i32.const 0) func $inc $dbl)
  (func $inc (type $unop) (i32.add (local.get 0) (i32.const 3)))
  (func $dbl (type $unop) (i32.mul (local.get 0) (i32.const 2)))
  (func $start (global.set $g (i32.const 3)))
  (start $start)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $f f64) (local $v v128) (local $l i64)
    ;; loop 1: counting, with a typed multi-value block inside
    (loop $l1
      (local.get $i)
      (block $b (type $pair)
        (i32.const 0x303)
        (br $b))
      (drop)
      (local.set $acc (i32.add (local.get $acc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l1 (i32.lt_u (local.get $i) (local.get $n))))
    ;; constants with 0x03 bytes
    (local.set $l (i64.const 0x0303030303030303))
    (local.set $f (f64.const 0x1.0303030303p+3))
    (local.set $acc (i32.add (local.get $acc) (i32.wrap_i64 (i64.rem_u (local.get $l) (i64.const 1000)))))
    (local.set $acc (i32.add (local.get $acc) (i32.trunc_sat_f64_s (local.get $f))))
    (local.set $acc (i32.add (local.get $acc) (i32.trunc_sat_f32_u (f32.const 3.3))))
    ;; SIMD: const, shuffle, lanes, load/store with offsets
    (local.set $v (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3))
    (local.set $v (i8x16.shuffle 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 (local.get $v) (local.get $v)))
    (local.set $v (i8x16.replace_lane 3 (local.get $v) (i32.const 7)))
    (v128.store offset=3 (i32.const 16) (local.get $v))
    (local.set $v (v128.load8_lane offset=3 3 (i32.const 16) (local.get $v)))
    (local.set $acc (i32.add (local.get $acc) (i8x16.extract_lane_u 3 (local.get $v))))
    (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 3 (i32x4.add (local.get $v) (local.get $v)))))
    ;; bulk memory and reference types
    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 4))
    (memory.copy (i32.const 200) (i32.const 100) (i32.const 4))
    (memory.fill (i32.const 300) (i32.const 3) (i32.const 3))
    (local.set $acc (i32.add (local.get $acc) (i32.load offset=3 align=1 (i32.const 197))))
    (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.const 302))))
    (local.set $acc (i32.add (local.get $acc) (table.size $t)))
    (if (ref.is_null (table.get $t (i32.const 3)))
      (then (local.set $acc (i32.add (local.get $acc) (i32.const 3)))))
    (local.set $acc (i32.add (local.get $acc) (i32.extend8_s (i32.const 0x83))))
    (local.set $acc (select (result i32) (local.get $acc) (i32.const 3) (i32.const 1)))
    ;; loop 2 and 3: nested, br_table and call_indirect inside
    (local.set $i (i32.const 0))
    (loop $l2
      (loop $l3
        (block $x (block $y (block $z
          (br_table $z $y $x (i32.and (local.get $i) (i32.const 3))))
          (local.set $acc (call_indirect $t (type $unop) (local.get $acc) (i32.const 0))))
          (local.set $acc (call_indirect $t (type $unop) (local.get $acc) (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l3 (i32.and (local.get $i) (i32.const 1))))
      (br_if $l2 (i32.lt_u (local.get $i) (i32.const 9))))
    ;; loop 4 and 5: inside an if/else, with atomics
    (if (i32.gt_u (local.get $n) (i32.const 3))
      (then (loop $l4
        (drop (i32.atomic.rmw.add offset=8 (i32.const 1000) (i32.const 3)))
        (br_if $l4 (i32.lt_u (i32.atomic.load offset=8 (i32.const 1000)) (i32.const 30)))))
      (else (loop $l5
        (memory.atomic.notify offset=8 (i32.const 1000) (i32.const 0)) (drop)
        (atomic.fence))))
    (local.set $acc (i32.add (local.get $acc) (i32.load offset=8 (i32.const 1000))))
    ;; loop 6: with a value type block type and memory.grow/size
    (loop $l6 (result i32)
      (i32.add (memory.size) (global.get $g)))
    (local.get $acc)
    (i32.add))
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
