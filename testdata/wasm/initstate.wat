;; initstate: a reactor whose _initialize changes a non-exported mutable
;; global, its memory and its memory size, and logs "initialised" once per
;; run. Each handle_request answers with response header x-state: two
;; digits, the byte at 32 (set by _initialize to '1') and the global (1
;; after _initialize), then increments both: a fresh instance answers "11",
;; its second request "22". Instances from the memory image must answer
;; "11" without _initialize having run again.
(module
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 0) "x-state")
  (data (i32.const 8) "initialised")
  (func (export "_initialize")
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store8 (i32.const 32) (i32.add (i32.const 48) (global.get $g)))
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 65536) (i32.const 1)) ;; a byte in the grown page
    (call $log (i32.const 0) (i32.const 8) (i32.const 11)))
  (func (export "handle_request") (result i64)
    (i32.store8 (i32.const 33) (i32.add (i32.const 48) (global.get $g)))
    (call $set (i32.const 1) (i32.const 0) (i32.const 7) (i32.const 32) (i32.const 2))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store8 (i32.const 32) (i32.add (i32.load8_u (i32.const 32)) (i32.const 1)))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
