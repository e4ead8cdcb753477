;; balance: counts requests whose handle_response is still to come. In
;; handle_request it reports the count so far in response header x-open
;; ("0" when every earlier handle_request got its handle_response), then
;; counts this request; handle_response uncounts it.
(module
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $open (mut i32) (i32.const 0))
  (data (i32.const 0) "x-open")
  (func (export "handle_request") (result i64)
    (i32.store8 (i32.const 16) (i32.add (i32.const 48) (global.get $open)))
    (call $set (i32.const 1) (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 1))
    (global.set $open (i32.add (global.get $open) (i32.const 1)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (global.set $open (i32.sub (global.get $open) (i32.const 1)))))
