;; reqline: rewrites the request line: method PUT, URI /new/path?q=1, then
;; proceeds. Checks buf_limit semantics: get_uri with a limit of 1 must
;; write nothing and return the full length.
(module
  (import "http_handler" "set_method" (func $setMethod (param i32 i32)))
  (import "http_handler" "set_uri" (func $setURI (param i32 i32)))
  (import "http_handler" "get_uri" (func $uri (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "PUT")
  (data (i32.const 16) "/new/path?q=1") ;; 13
  (func (export "handle_request") (result i64)
    (i32.store8 (i32.const 1024) (i32.const 255))
    ;; limit 1 < len: nothing written, length returned
    (if (i32.lt_u (call $uri (i32.const 1024) (i32.const 1)) (i32.const 2)) (then unreachable))
    (if (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 255)) (then unreachable))
    (call $setMethod (i32.const 0) (i32.const 3))
    (call $setURI (i32.const 16) (i32.const 13))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
