;; A proxy-wasm guest for streamed bodies, several to a route. Its plugin
;; configuration is its marker byte, then optionally "H": it appends the
;; marker to every body chunk it is given (and to the empty last call at
;; end_of_stream), so a chain of them shows which saw what, in which
;; order. On the response: "H" holds the headers (StopIteration at
;; on_response_headers); a chunk starting with "T" traps (unreachable);
;; one starting with "L" answers 403 (proxy_send_local_response) and
;; pauses; the trailer x-up-trailer gets the marker appended.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes"
    (func $set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value"
    (func $get_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response"
    (func $send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "x-up-trailer")
  (data (i32.const 96) "answered from the body")
  ;; 128: the marker; 129: 1 to hold the response headers.
  ;; 512, 516: where the host puts a returned pointer and size.
  (func (export "proxy_abi_version_0_2_1"))
  ;; One allocation at a time: whatever the host returns is read at once.
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (local $p i32)
    ;; buffer 7: the plugin configuration
    (drop (call $get_buffer_bytes (i32.const 7) (i32.const 0) (i32.const 2) (i32.const 512) (i32.const 516)))
    (local.set $p (i32.load (i32.const 512)))
    (i32.store8 (i32.const 128) (i32.load8_u (local.get $p)))
    (if (i32.ge_u (i32.load (i32.const 516)) (i32.const 2))
      (then (i32.store8 (i32.const 129)
        (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 1))) (i32.const 72))))) ;; "H"
    (i32.const 1))
  ;; Appends the marker to buffer $buf (0 request body, 1 response body).
  (func $mark (param $buf i32) (param $size i32)
    (drop (call $set_buffer_bytes (local.get $buf) (local.get $size) (i32.const 0) (i32.const 128) (i32.const 1))))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (i32.or (local.get $size) (local.get $eos))
      (then (call $mark (i32.const 0) (local.get $size))))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (i32.load8_u (i32.const 129))) ;; 1: StopIteration
  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $first i32)
    (if (local.get $size)
      (then
        (drop (call $get_buffer_bytes (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 512) (i32.const 516)))
        (local.set $first (i32.load8_u (i32.load (i32.const 512))))
        (if (i32.eq (local.get $first) (i32.const 84)) (then unreachable)) ;; "T"
        (if (i32.eq (local.get $first) (i32.const 76)) ;; "L"
          (then
            (drop (call $send_local_response (i32.const 403) (i32.const 0) (i32.const 0)
              (i32.const 96) (i32.const 22) (i32.const 0) (i32.const 0) (i32.const -1)))
            (return (i32.const 1))))))
    (if (i32.or (local.get $size) (local.get $eos))
      (then (call $mark (i32.const 1) (local.get $size))))
    (i32.const 0))
  (func (export "proxy_on_response_trailers") (param $ctx i32) (param $n i32) (result i32)
    (local $p i32)
    (local $len i32)
    ;; map 3: the response trailers
    (if (i32.eqz (call $get_value (i32.const 3) (i32.const 64) (i32.const 12) (i32.const 512) (i32.const 516)))
      (then
        (local.set $p (i32.load (i32.const 512)))
        (local.set $len (i32.load (i32.const 516)))
        (i32.store8 (i32.add (local.get $p) (local.get $len)) (i32.load8_u (i32.const 128)))
        (drop (call $replace_value (i32.const 3) (i32.const 64) (i32.const 12)
          (local.get $p) (i32.add (local.get $len) (i32.const 1))))))
    (i32.const 0)))
