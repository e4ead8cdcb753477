;; config: answers with its config as the body (get_config echo). Its start
;; function enables the trailers feature, which must then hold for every
;; request (Module.Features). It also logs "config echoed" at info.
(module
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (import "http_handler" "log_enabled" (func $logEnabled (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "config echoed") ;; 13
  (func $init (drop (call $enable (i32.const 4))))
  (start $init)
  (func (export "handle_request") (result i64)
    (local $len i32)
    ;; length first (limit 0 writes nothing), then the bytes
    (local.set $len (call $config (i32.const 1024) (i32.const 0)))
    (if (i32.gt_u (local.get $len) (i32.const 60000)) (then unreachable))
    (drop (call $config (i32.const 1024) (local.get $len)))
    (call $write (i32.const 1) (i32.const 1024) (local.get $len))
    (if (call $logEnabled (i32.const 0))
      (then (call $log (i32.const 0) (i32.const 0) (i32.const 13))))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
