;; answer: a serverless filter. handle_request answers by itself (next=0):
;; status 418, content-type text/plain, body "hello from wasm", and echoes
;; the request line as response headers x-method, x-uri, x-proto, x-addr.
;; handle_response must never be called: it traps.
(module
  (import "http_handler" "set_status_code" (func $status (param i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (import "http_handler" "get_method" (func $method (param i32 i32) (result i32)))
  (import "http_handler" "get_uri" (func $uri (param i32 i32) (result i32)))
  (import "http_handler" "get_protocol_version" (func $proto (param i32 i32) (result i32)))
  (import "http_handler" "get_source_addr" (func $addr (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "content-type")    ;; 0, 12
  (data (i32.const 16) "text/plain")     ;; 16, 10
  (data (i32.const 32) "hello from wasm");; 32, 15
  (data (i32.const 64) "x-method")       ;; 64, 8
  (data (i32.const 80) "x-uri")          ;; 80, 5
  (data (i32.const 96) "x-proto")        ;; 96, 7
  (data (i32.const 112) "x-addr")        ;; 112, 6
  ;; echo calls get(buf=1024, limit=1024) and sets response header name=len.
  (func $echo (param $name i32) (param $nameLen i32) (param $len i32)
    (if (i32.gt_u (local.get $len) (i32.const 1024)) (then unreachable))
    (call $set (i32.const 1) (local.get $name) (local.get $nameLen) (i32.const 1024) (local.get $len)))
  (func (export "handle_request") (result i64)
    (call $status (i32.const 418))
    (call $set (i32.const 1) (i32.const 0) (i32.const 12) (i32.const 16) (i32.const 10))
    (call $write (i32.const 1) (i32.const 32) (i32.const 6))
    (call $write (i32.const 1) (i32.const 38) (i32.const 9))
    (call $echo (i32.const 64) (i32.const 8) (call $method (i32.const 1024) (i32.const 1024)))
    (call $echo (i32.const 80) (i32.const 5) (call $uri (i32.const 1024) (i32.const 1024)))
    (call $echo (i32.const 96) (i32.const 7) (call $proto (i32.const 1024) (i32.const 1024)))
    (call $echo (i32.const 112) (i32.const 6) (call $addr (i32.const 1024) (i32.const 1024)))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)
    unreachable))
