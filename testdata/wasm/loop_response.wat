;; loop_response: handle_request proceeds with reqCtx 1; handle_response
;; calls a function that spins forever, so the deadline must also hold in
;; the response phase and inside a callee.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 0x100000001))
  (func $spin (loop $l (br $l)))
  (func (export "handle_response") (param i32 i32)
    (call $spin)))
