;; fib: naive recursive Fibonacci of 60 in handle_request, with no loop at
;; all: billions of calls within a small stack. Only the yield points at
;; function entries can stop it.
(module
  (memory (export "memory") 1)
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "handle_request") (result i64)
    (drop (call $fib (i32.const 60)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
