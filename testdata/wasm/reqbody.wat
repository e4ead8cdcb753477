;; reqbody: reads the request body with buffer_request, 7 bytes at a time.
;; With config "peek" it only reads (the upstream must still get the whole
;; body); otherwise it replaces the body with "<" body ">".
(module
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "<>")
  (func (export "handle_request") (result i64)
    (local $off i32) (local $el i64)
    (if (i32.eqz (i32.and (call $enable (i32.const 1)) (i32.const 1))) (then unreachable))
    (local.set $off (i32.const 4096))
    (block $eof
      (loop $more
        (local.set $el (call $read (i32.const 0) (local.get $off) (i32.const 7)))
        (local.set $off (i32.add (local.get $off) (i32.wrap_i64 (local.get $el))))
        (br_if $eof (i64.ne (i64.shr_u (local.get $el) (i64.const 32)) (i64.const 0)))
        (br $more)))
    ;; config "peek": only read
    (if (i32.eq (call $config (i32.const 64) (i32.const 16)) (i32.const 4))
      (then (return (i64.const 1))))
    (call $write (i32.const 0) (i32.const 0) (i32.const 1))
    (call $write (i32.const 0) (i32.const 4096) (i32.sub (local.get $off) (i32.const 4096)))
    (call $write (i32.const 0) (i32.const 1) (i32.const 1))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
