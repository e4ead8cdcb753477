;; noop: the smallest guest: proceeds and does nothing. For benchmarks.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
