;; reqphasebody: writes "before:" as the response body in handle_request and
;; passes the request on (next=1): the upstream's body must follow it, as on
;; http-wasm-host-go. With any config but the empty {} it also enables
;; buffer_response for the request, so the buffered path is tested too.
(module
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "before:") ;; 7
  (func (export "handle_request") (result i64)
    (if (i32.gt_u (call $config (i32.const 1024) (i32.const 0)) (i32.const 2))
      (then (drop (call $enable (i32.const 2)))))
    (call $write (i32.const 1) (i32.const 0) (i32.const 7))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
