;; world: wat-logging
;; Hostile: writes a 15 MiB log message, over and over, until the runner's deadline ends it — just
;; under the 16 MiB a host-call argument may have (a larger one is refused before it is copied).
;; Each call makes the worker copy 15 MiB out of guest memory; the host keeps 8 KiB of the first
;; records and drops the rest once the execution's record budget is spent.
(module
  (import "alga:extension/logging" "info" (func $info (param i32 i32)))
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
  (func (export "handler") (param $request i32) (result i32)
    (local $at i32)
    ;; 240 pages (15 MiB) past everything the request occupies
    (local.set $at (memory.grow (i32.const 240)))
    (if (i32.eq (local.get $at) (i32.const -1)) (then unreachable))
    (local.set $at (i32.mul (local.get $at) (i32.const 65536)))
    (memory.fill (local.get $at) (i32.const 120) (i32.const 15728640))
    (loop $forever
      (call $info (local.get $at) (i32.const 15728640))
      (br $forever))
    unreachable))
