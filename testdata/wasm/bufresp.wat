;; bufresp: asks for the response body to be buffered (buffer_response) and
;; otherwise passes everything through unchanged.
(module
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (drop (call $enable (i32.const 2)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
