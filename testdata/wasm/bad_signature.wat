;; bad_signature: imports get_uri with the wrong signature.
(module
  (import "http_handler" "get_uri" (func $uri (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (drop (call $uri (i32.const 0))) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
