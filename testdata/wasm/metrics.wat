;; metrics: uses the sluice host module's metric functions. Its start
;; function defines the counter hits_total with one label, path (so the id
;; lives in a global of the memory image); handle_request records 1 with
;; the request's URI as the path and logs "hit" at info.
(module
  (import "sluice" "define_metric" (func $define (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "record_metric" (func $record (param i32 f64 i32 i32)))
  (import "http_handler" "get_uri" (func $uri (param i32 i32) (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hits_total")  ;; 10
  (data (i32.const 16) "path\00")    ;; 5
  (data (i32.const 32) "hit")        ;; 3
  (global $hits (mut i32) (i32.const -1))
  (func $init
    (global.set $hits (call $define (i32.const 0) (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 5))))
  (start $init)
  (func (export "handle_request") (result i64)
    (local $len i32)
    (local.set $len (call $uri (i32.const 1024) (i32.const 4096)))
    (if (i32.gt_u (local.get $len) (i32.const 4096)) (then unreachable))
    (call $record (global.get $hits) (f64.const 1) (i32.const 1024) (local.get $len))
    (call $log (i32.const 0) (i32.const 32) (i32.const 3))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
