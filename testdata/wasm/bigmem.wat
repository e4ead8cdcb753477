;; bigmem: declares a minimum of 100 pages (6.25 MiB): refused under a
;; smaller memory limit.
(module
  (memory (export "memory") 100)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
