;; A proxy-wasm guest that counts its proxy_on_request_body calls and their
;; end_of_stream flags in exported globals, which the tests read. With the
;; global "pause" set it returns Pause (StopIterationAndBuffer) until the
;; end of the stream, then replaces the whole held body with "rewritten".
(module
  (import "env" "proxy_set_buffer_bytes"
    (func $set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "rewritten")
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (global $eos_calls (export "eos_calls") (mut i32) (i32.const 0))
  (global $max_size (export "max_size") (mut i32) (i32.const 0))
  (global $pause (export "pause") (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (i32.gt_u (local.get $size) (global.get $max_size))
      (then (global.set $max_size (local.get $size))))
    (if (local.get $eos)
      (then (global.set $eos_calls (i32.add (global.get $eos_calls) (i32.const 1)))))
    (if (i32.eqz (global.get $pause))
      (then (return (i32.const 0)))) ;; Continue
    (if (i32.eqz (local.get $eos))
      (then (return (i32.const 1)))) ;; StopIterationAndBuffer
    ;; buffer 0 (HttpRequestBody), [0, size) replaced by "rewritten"
    (drop (call $set_buffer_bytes (i32.const 0) (i32.const 0) (local.get $size) (i32.const 64) (i32.const 9)))
    (i32.const 0)))
