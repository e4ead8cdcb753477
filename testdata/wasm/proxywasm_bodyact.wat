;; A proxy-wasm guest that acts on the first byte of each request body
;; chunk, after the request went on (it continues at the headers): "L"
;; answers 403 "denied by body" (proxy_send_local_response), "T" traps,
;; anything else continues.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "denied by body")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $first i32)
    (if (i32.eqz (local.get $size)) (then (return (i32.const 0))))
    ;; buffer 0 (HttpRequestBody), its first byte: the pointer lands at 512
    (drop (call $get_buffer_bytes (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 512) (i32.const 516)))
    (local.set $first (i32.load8_u (i32.load (i32.const 512))))
    (if (i32.eq (local.get $first) (i32.const 84)) (then unreachable)) ;; "T"
    (if (i32.eq (local.get $first) (i32.const 76)) ;; "L"
      (then
        (drop (call $send_local_response (i32.const 403) (i32.const 0) (i32.const 0)
          (i32.const 64) (i32.const 14) (i32.const 0) (i32.const 0) (i32.const -1)))
        (return (i32.const 1))))
    (i32.const 0)))
