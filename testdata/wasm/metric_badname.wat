;; metric_badname: defines a metric named "Hits-Total" while initialising,
;; which the host refuses: the module must not load.
(module
  (import "sluice" "define_metric" (func $define (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Hits-Total")  ;; 10
  (func $init (drop (call $define (i32.const 0) (i32.const 0) (i32.const 10) (i32.const 0) (i32.const 0))))
  (start $init)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
