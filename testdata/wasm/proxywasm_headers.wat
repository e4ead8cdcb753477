;; A proxy-wasm guest that only touches headers: it adds x-pw-seen: 1 to
;; the request and to the response, and has no body callback, so bodies
;; must stream past it.
(module
  (import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "x-pw-seen")
  (data (i32.const 80) "1")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $add (i32.const 0) (i32.const 64) (i32.const 9) (i32.const 80) (i32.const 1)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (drop (call $add (i32.const 2) (i32.const 64) (i32.const 9) (i32.const 80) (i32.const 1)))
    (i32.const 0)))
