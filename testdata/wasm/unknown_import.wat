;; unknown_import: imports a function the host does not provide.
(module
  (import "http_handler" "get_foo" (func $foo (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (drop (call $foo (i32.const 0))) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
