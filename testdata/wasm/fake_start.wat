;; fake_start: exports a function under the name the host gives a rewritten
;; start section, without having a start section. The host must not call it
;; (it traps if it does).
(module
  (memory (export "memory") 1)
  (func (export "__sluice_start") unreachable)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
