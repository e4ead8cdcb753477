;; loop10k: a loop-heavy but finite guest for benchmarks: 10,000 iterations
;; per call.
(module
  (memory (export "memory") 1)
  (global $sink (mut i32) (i32.const 0))
  (func (export "handle_request") (result i64)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 31))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10000))))
    (global.set $sink (local.get $acc))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
