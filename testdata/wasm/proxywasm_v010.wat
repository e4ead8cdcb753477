;; A guest of proxy-wasm ABI 0.1.0, whose callbacks Sluice does not host:
;; Load must refuse it, naming the version.
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_1_0"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0)))
