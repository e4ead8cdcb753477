;; statemark: tells whether handle_response ran on the instance that ran
;; handle_request, and declares FeatureStateless when configured to.
;; _initialize: enables FeatureStateless (1<<31) when the config is longer
;;   than 2 bytes (anything but the edge's "{}" for no config).
;; handle_request: sets the global $mark to 1; returns reqCtx=7, next=1.
;; handle_response: sets response header x-state to "kept" when $mark is 1
;;   (this instance ran handle_request and nothing since) or "lost"
;;   otherwise, x-ctx: 7 when its reqCtx is 7, and clears $mark.
(module
  (import "http_handler" "enable_features" (func $enable (param i32) (result i32)))
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $mark (mut i32) (i32.const 0))
  (data (i32.const 0) "x-state") ;; 0, 7
  (data (i32.const 16) "kept")   ;; 16, 4
  (data (i32.const 32) "lost")   ;; 32, 4
  (data (i32.const 48) "x-ctx")  ;; 48, 5
  (data (i32.const 64) "7")      ;; 64, 1
  (func (export "_initialize")
    (if (i32.gt_u (call $config (i32.const 1024) (i32.const 1024)) (i32.const 2))
      (then (drop (call $enable (i32.const 0x80000000))))))
  (func (export "handle_request") (result i64)
    (global.set $mark (i32.const 1))
    (i64.or (i64.shl (i64.const 7) (i64.const 32)) (i64.const 1)))
  (func (export "handle_response") (param $reqCtx i32) (param $isError i32)
    (if (global.get $mark)
      (then (call $set (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 4)))
      (else (call $set (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 32) (i32.const 4))))
    (if (i32.eq (local.get $reqCtx) (i32.const 7))
      (then (call $set (i32.const 1) (i32.const 48) (i32.const 5) (i32.const 64) (i32.const 1))))
    (global.set $mark (i32.const 0))))
