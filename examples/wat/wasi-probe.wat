;; world: wat-wasi-probe
;; Asks the runner's WASI for what a locked-down guest must not get: environment variables,
;; arguments, bytes on stdin, preopened directories. Answers 200 when every one is empty, else
;; 500 + one bit per finding: 1 environment, 2 arguments, 4 stdin read something or failed
;; otherwise than `closed`, 8 preopened directories.
(module
  (import "wasi:cli/environment@0.2.0" "get-environment" (func $get_environment (param i32)))
  (import "wasi:cli/environment@0.2.0" "get-arguments" (func $get_arguments (param i32)))
  (import "wasi:cli/stdin@0.2.0" "get-stdin" (func $get_stdin (result i32)))
  (import "wasi:io/streams@0.2.0" "[method]input-stream.blocking-read" (func $blocking_read (param i32 i64 i32)))
  (import "wasi:io/streams@0.2.0" "[resource-drop]input-stream" (func $drop_input_stream (param i32)))
  (import "wasi:filesystem/preopens@0.2.0" "get-directories" (func $get_directories (param i32)))
  (memory (export "memory") 1)
  ;; Bump allocator the canonical ABI calls to place the request in guest memory; grows the
  ;; memory when the heap passes its end. Nothing is freed: an instance serves few requests.
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))
        unreachable))
    (if (local.get $old)
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_size))))
    (local.get $ptr))
  ;; The execute-response is returned by pointer. Layout at 16: status u16 @0, headers list
  ;; (ptr @4, len @8), body option (tag @12, ptr @16, len @20).
  (func $respond (param $status i32) (result i32)
    (i32.store16 (i32.const 16) (local.get $status))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16))
  ;; Return areas: a list is (ptr @0, len @4); blocking-read's result<list<u8>, stream-error> is
  ;; tag u8 @0 (0 ok, 1 err), then the list (ptr @4, len @8) or the stream-error (tag u8 @4:
  ;; 0 last-operation-failed, 1 closed).
  (func (export "handler") (param $request i32) (result i32)
    (local $findings i32)
    (local $stdin i32)
    (call $get_environment (i32.const 64))
    (if (i32.load (i32.const 68))
      (then (local.set $findings (i32.or (local.get $findings) (i32.const 1)))))
    (call $get_arguments (i32.const 72))
    (if (i32.load (i32.const 76))
      (then (local.set $findings (i32.or (local.get $findings) (i32.const 2)))))
    (local.set $stdin (call $get_stdin))
    (call $blocking_read (local.get $stdin) (i64.const 16) (i32.const 80))
    (if (i32.or
          (i32.eqz (i32.load8_u (i32.const 80)))
          (i32.ne (i32.load8_u (i32.const 84)) (i32.const 1)))
      (then (local.set $findings (i32.or (local.get $findings) (i32.const 4)))))
    (call $drop_input_stream (local.get $stdin))
    (call $get_directories (i32.const 96))
    (if (i32.load (i32.const 100))
      (then (local.set $findings (i32.or (local.get $findings) (i32.const 8)))))
    (call $respond
      (if (result i32) (local.get $findings)
        (then (i32.add (i32.const 500) (local.get $findings)))
        (else (i32.const 200))))))
