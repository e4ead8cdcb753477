;; httpcall: calls the upstream named by its config with sluice.http_call
;; (GET /check?q=1, header x-token: abc, the request's body as the call's
;; body) and answers with what came back: the call's status and body, or,
;; when the call failed with error code -N, status 590+N and the reason as
;; the body.
(module
  (import "sluice" "http_call" (func $call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "http_call_result" (func $result (param i32 i32 i32) (result i32)))
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "set_status_code" (func $status (param i32)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "GET")                ;; 0, 3
  (data (i32.const 16) "/check?q=1")        ;; 16, 10
  (data (i32.const 32) "x-token\00abc\00")  ;; 32, 12
  (func (export "handle_request") (result i64)
    (local $cfg i32) (local $body i32) (local $code i32) (local $n i32)
    (local.set $cfg (call $config (i32.const 256) (i32.const 256)))
    (if (i32.gt_u (local.get $cfg) (i32.const 256)) (then unreachable))
    ;; the request body, up to 1 KiB, at 1024
    (local.set $body (i32.wrap_i64 (call $read (i32.const 0) (i32.const 1024) (i32.const 1024))))
    (local.set $code (call $call
      (i32.const 256) (local.get $cfg)
      (i32.const 0) (i32.const 3)
      (i32.const 16) (i32.const 10)
      (i32.const 32) (i32.const 12)
      (i32.const 1024) (local.get $body)))
    (if (i32.lt_s (local.get $code) (i32.const 0))
      (then
        (call $status (i32.sub (i32.const 590) (local.get $code)))
        (local.set $n (call $result (i32.const 2) (i32.const 4096) (i32.const 60000))))
      (else
        (call $status (local.get $code))
        (local.set $n (call $result (i32.const 1) (i32.const 4096) (i32.const 60000)))))
    (if (i32.gt_u (local.get $n) (i32.const 60000)) (then unreachable))
    (call $write (i32.const 1) (i32.const 4096) (local.get $n))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
