;; world: wat-handler
;; Makes instance reuse visible: a mutable global counts the calls this instance has served.
;; The first call answers 200; any later call on the same instance answers 500.
(module
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
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
  ;; The execute-response is returned by pointer (it flattens to more than one value). Layout at
  ;; 16: status u16 @0, headers list (ptr @4, len @8), body option (tag @12, ptr @16, len @20).
  (func $respond (param $status i32) (result i32)
    (i32.store16 (i32.const 16) (local.get $status))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16))
  (func (export "handler") (param $request i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call $respond
      (select (i32.const 200) (i32.const 500) (i32.eq (global.get $calls) (i32.const 1))))))
