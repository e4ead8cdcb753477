;; headers: request and response header functions, reqCtx, get_header_names.
;; handle_request:
;;   - sets request header x-hello: world, adds x-multi: b (after any a),
;;     removes x-remove;
;;   - copies the first value of request header x-in into response header
;;     x-echo (set in the request phase, kept with next=1);
;;   - copies the request header names, NULs turned into commas, into
;;     request header x-names;
;;   - returns reqCtx=42, next=1.
;; handle_response: sets response header x-ctx: 42 when reqCtx is 42, and
;; x-error: 1 when isError.
(module
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "add_header_value" (func $add (param i32 i32 i32 i32 i32)))
  (import "http_handler" "remove_header" (func $remove (param i32 i32 i32)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "get_header_names" (func $names (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-hello")    ;; 0, 7
  (data (i32.const 16) "world")     ;; 16, 5
  (data (i32.const 32) "x-multi")   ;; 32, 7
  (data (i32.const 48) "b")         ;; 48, 1
  (data (i32.const 64) "x-remove")  ;; 64, 8
  (data (i32.const 80) "x-in")      ;; 80, 4
  (data (i32.const 96) "x-echo")    ;; 96, 6
  (data (i32.const 112) "x-ctx")    ;; 112, 5
  (data (i32.const 128) "42")       ;; 128, 2
  (data (i32.const 144) "x-error")  ;; 144, 7
  (data (i32.const 160) "1")        ;; 160, 1
  (data (i32.const 176) "x-names")  ;; 176, 7
  (func (export "handle_request") (result i64)
    (local $cl i64) (local $len i32) (local $i i32)
    (call $set (i32.const 0) (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 5))
    (call $add (i32.const 0) (i32.const 32) (i32.const 7) (i32.const 48) (i32.const 1))
    (call $remove (i32.const 0) (i32.const 64) (i32.const 8))
    ;; x-in -> x-echo (response)
    (local.set $cl (call $values (i32.const 0) (i32.const 80) (i32.const 4) (i32.const 1024) (i32.const 1024)))
    (if (i64.ne (local.get $cl) (i64.const 0))
      (then
        ;; first value ends at the first NUL
        (local.set $i (i32.const 1024))
        (block $done
          (loop $scan
            (br_if $done (i32.eqz (i32.load8_u (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (call $set (i32.const 1) (i32.const 96) (i32.const 6)
          (i32.const 1024) (i32.sub (local.get $i) (i32.const 1024)))))
    ;; names -> x-names, NUL -> ','
    (local.set $cl (call $names (i32.const 0) (i32.const 4096) (i32.const 8192)))
    (local.set $len (i32.wrap_i64 (local.get $cl)))
    (if (i32.gt_u (local.get $len) (i32.const 8192)) (then unreachable))
    (local.set $i (i32.const 0))
    (block $done
      (loop $swap
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.eqz (i32.load8_u (i32.add (i32.const 4096) (local.get $i))))
          (then (i32.store8 (i32.add (i32.const 4096) (local.get $i)) (i32.const 44))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $swap)))
    (call $set (i32.const 0) (i32.const 176) (i32.const 7)
      (i32.const 4096) (i32.sub (local.get $len) (i32.const 1)))
    (i64.or (i64.shl (i64.const 42) (i64.const 32)) (i64.const 1)))
  (func (export "handle_response") (param $reqCtx i32) (param $isError i32)
    (if (i32.eq (local.get $reqCtx) (i32.const 42))
      (then (call $set (i32.const 1) (i32.const 112) (i32.const 5) (i32.const 128) (i32.const 2))))
    (if (local.get $isError)
      (then (call $set (i32.const 1) (i32.const 144) (i32.const 7) (i32.const 160) (i32.const 1))))))
