;; respbody: enables buffer_response and trailers in handle_request; in
;; handle_response it upper-cases the response body (read 5 bytes at a
;; time), sets the status to the upstream's + 1, and sets response trailer
;; x-trailer: done.
(module
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (import "http_handler" "get_status_code" (func $getStatus (result i32)))
  (import "http_handler" "set_status_code" (func $setStatus (param i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "x-trailer") ;; 9
  (data (i32.const 16) "done")     ;; 4
  (func (export "handle_request") (result i64)
    (if (i32.ne (i32.and (call $enable (i32.const 6)) (i32.const 6)) (i32.const 6)) (then unreachable))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (local $off i32) (local $el i64) (local $i i32) (local $c i32)
    (local.set $off (i32.const 4096))
    (block $eof
      (loop $more
        (local.set $el (call $read (i32.const 1) (local.get $off) (i32.const 5)))
        (local.set $off (i32.add (local.get $off) (i32.wrap_i64 (local.get $el))))
        (br_if $eof (i64.ne (i64.shr_u (local.get $el) (i64.const 32)) (i64.const 0)))
        (br $more)))
    (local.set $i (i32.const 4096))
    (block $done
      (loop $up
        (br_if $done (i32.ge_u (local.get $i) (local.get $off)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $up)))
    (call $write (i32.const 1) (i32.const 4096) (i32.sub (local.get $off) (i32.const 4096)))
    (call $setStatus (i32.add (call $getStatus) (i32.const 1)))
    (call $set (i32.const 3) (i32.const 0) (i32.const 9) (i32.const 16) (i32.const 4))))
