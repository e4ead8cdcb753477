;; no_handle_response: not an http-wasm guest; Load must name the missing
;; export.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 1)))
