;; A proxy-wasm guest for the streamed response body. With the global
;; "hold" set (the default) on_response_headers returns StopIteration and
;; on_response_body pauses until the end of the stream; there it adds
;; x-pw-held: 1 to the response headers, which the host holds until then.
;; With hold cleared it continues at once, and the same header write in
;; the body callback must be refused: the headers are sent. "add_status"
;; keeps the status of the last write (0 OK, 2 BadArgument).
(module
  (import "env" "proxy_add_header_map_value"
    (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "x-pw-held")
  (data (i32.const 80) "1")
  (global $hold (export "hold") (mut i32) (i32.const 1))
  (global $add_status (export "add_status") (mut i32) (i32.const -1))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (global.get $hold)) ;; 1: StopIteration
  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.and (global.get $hold) (i32.eqz (local.get $eos)))
      (then (return (i32.const 1)))) ;; StopIterationAndBuffer
    ;; map 2: response headers
    (global.set $add_status (call $add (i32.const 2) (i32.const 64) (i32.const 9) (i32.const 80) (i32.const 1)))
    (i32.const 0)))
