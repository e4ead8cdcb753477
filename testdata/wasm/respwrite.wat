;; respwrite: passes the request on; in handle_response replaces the response
;; body with "replaced" without buffering it (no buffer_response): the
;; upstream body must then be dropped, not streamed after it.
(module
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "replaced")
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (call $write (i32.const 1) (i32.const 0) (i32.const 8))))
