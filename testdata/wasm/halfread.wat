;; halfread: changes the exchange, reads 4 bytes of the request body, then
;; traps in handle_request. Config "b" (JSON: "\"b\"") enables buffer_request first (the
;; read can then be replayed); anything else reads without buffering. It
;; sets request and response header x-bad: 1 before the read.
(module
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-bad")
  (data (i32.const 8) "1")
  (func (export "handle_request") (result i64)
    (drop (call $config (i32.const 16) (i32.const 16)))
    (if (i32.eq (i32.load8_u (i32.const 17)) (i32.const 98)) ;; "b" (a JSON string)
      (then (drop (call $enable (i32.const 1)))))
    (call $set (i32.const 0) (i32.const 0) (i32.const 5) (i32.const 8) (i32.const 1))
    (call $set (i32.const 1) (i32.const 0) (i32.const 5) (i32.const 8) (i32.const 1))
    (drop (call $read (i32.const 0) (i32.const 64) (i32.const 4)))
    unreachable)
  (func (export "handle_response") (param i32 i32)))
