;; stamp: the smallest useful filter: sets request header x-stamp: 1 in
;; handle_request and response header x-stamp: 1 in handle_response.
(module
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-stamp")
  (data (i32.const 8) "1")
  (func (export "handle_request") (result i64)
    (call $set (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 8) (i32.const 1))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (call $set (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 8) (i32.const 1))))
