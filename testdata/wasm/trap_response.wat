;; trap_response: handle_request proceeds; handle_response loads far out of
;; bounds.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (drop (i32.load (i32.const 0xfffffff0)))))
