;; init_loop: a reactor whose _initialize never returns: Load must fail at
;; the init deadline instead of hanging.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $l (br $l)))
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
