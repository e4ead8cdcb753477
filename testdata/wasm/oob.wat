;; oob: misuses one host function, chosen by the first byte of its config
;; ('a' + case), with an out-of-bounds pointer or length (or an invalid
;; argument). Memory is one page (65536 bytes). Config "z" behaves: it
;; proceeds. Every other case must fail only its own request.
(module
  (import "http_handler" "get_config" (func $config (param i32 i32) (result i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (import "http_handler" "get_method" (func $getMethod (param i32 i32) (result i32)))
  (import "http_handler" "set_method" (func $setMethod (param i32 i32)))
  (import "http_handler" "get_uri" (func $getURI (param i32 i32) (result i32)))
  (import "http_handler" "set_uri" (func $setURI (param i32 i32)))
  (import "http_handler" "get_protocol_version" (func $proto (param i32 i32) (result i32)))
  (import "http_handler" "get_source_addr" (func $addr (param i32 i32) (result i32)))
  (import "http_handler" "get_header_names" (func $names (param i32 i32 i32) (result i64)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "add_header_value" (func $add (param i32 i32 i32 i32 i32)))
  (import "http_handler" "remove_header" (func $remove (param i32 i32 i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (import "http_handler" "set_status_code" (func $setStatus (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "x-in")  ;; a valid header name: 16, 4
  (func (export "handle_request") (result i64)
    (drop (call $config (i32.const 0) (i32.const 16)))
    (block $ok (block $z (block $v (block $u (block $t (block $s (block $r (block $q (block $p
    (block $o (block $n (block $m (block $l (block $k (block $j (block $i (block $h
    (block $g (block $f (block $e (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d $e $f $g $h $i $j $k $l $m $n $o $p $q $r $s $t $u
                $v $ok $ok $ok $z $ok
        (i32.sub (i32.load8_u (i32.const 0)) (i32.const 97))))
      ;; a: get_config writes past the end of memory
      (drop (call $config (i32.const 0xfffffff0) (i32.const 100))) (br $ok))
      ;; b: log message out of bounds
      (call $log (i32.const 2) (i32.const 0xfffffff0) (i32.const 10)) (br $ok))
      ;; c: get_method buffer straddles the end of memory
      (drop (call $getMethod (i32.const 65535) (i32.const 100))) (br $ok))
      ;; d: set_method from out of bounds
      (call $setMethod (i32.const 0xffffffff) (i32.const 3)) (br $ok))
      ;; e: get_uri out of bounds
      (drop (call $getURI (i32.const 70000) (i32.const 100))) (br $ok))
      ;; f: set_uri out of bounds
      (call $setURI (i32.const 65530) (i32.const 10)) (br $ok))
      ;; g: get_protocol_version out of bounds
      (drop (call $proto (i32.const 0x80000000) (i32.const 100))) (br $ok))
      ;; h: get_source_addr out of bounds
      (drop (call $addr (i32.const 65536) (i32.const 100))) (br $ok))
      ;; i: get_header_names out of bounds
      (drop (call $names (i32.const 0) (i32.const 65530) (i32.const 1000))) (br $ok))
      ;; j: get_header_values: name out of bounds
      (drop (call $values (i32.const 0) (i32.const 0xfffffffe) (i32.const 5) (i32.const 0) (i32.const 100))) (br $ok))
      ;; k: get_header_values: buffer out of bounds
      (drop (call $values (i32.const 0) (i32.const 16) (i32.const 4) (i32.const 65534) (i32.const 100))) (br $ok))
      ;; l: set_header_value: name out of bounds
      (call $set (i32.const 0) (i32.const 65536) (i32.const 5) (i32.const 0) (i32.const 1)) (br $ok))
      ;; m: set_header_value: value out of bounds
      (call $set (i32.const 1) (i32.const 16) (i32.const 4) (i32.const 65000) (i32.const 1000)) (br $ok))
      ;; n: add_header_value: name out of bounds
      (call $add (i32.const 1) (i32.const 0xffffffff) (i32.const 1) (i32.const 0) (i32.const 1)) (br $ok))
      ;; o: remove_header: name out of bounds
      (call $remove (i32.const 0) (i32.const 65535) (i32.const 2)) (br $ok))
      ;; p: read_body: buffer out of bounds
      (drop (call $read (i32.const 0) (i32.const 65000) (i32.const 1000))) (br $ok))
      ;; q: write_body: body out of bounds
      (call $write (i32.const 1) (i32.const 65500) (i32.const 100)) (br $ok))
      ;; r: read_body with buf_limit 0
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 0))) (br $ok))
      ;; s: write_body of 2 GiB
      (call $write (i32.const 0) (i32.const 0) (i32.const 0x7fffffff)) (br $ok))
      ;; t: get_header_values with a 4 GiB name
      (drop (call $values (i32.const 0) (i32.const 0) (i32.const 0xffffffff) (i32.const 0) (i32.const 0))) (br $ok))
      ;; u: set_status_code out of range
      (call $setStatus (i32.const 5)) (br $ok))
      ;; v: set_status_code informational (101 without switching protocols)
      (call $setStatus (i32.const 101)) (br $ok))
      ;; z: behaves
      (return (i64.const 1)))
    ;; a misuse that did not fail reaches here: answer 200 (next=0) so the
    ;; test notices.
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
