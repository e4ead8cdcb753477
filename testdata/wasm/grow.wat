;; grow: grows memory one page at a time forever; traps when memory.grow
;; fails (returns -1), as a guest allocator would.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (loop $more
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
      (br $more))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
