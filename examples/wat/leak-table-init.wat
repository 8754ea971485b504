;; world: wat-handler
;; Hostile guest (isolation corpus): Writes a funcref table entry from a passive element segment with table.init.
;; Answers 200 when it finds the state as a new instance has it, 409 when an earlier request's
;; change is still there; then makes the change. Under fresh-instance semantics every answer is 200.
(module
  (memory (export "memory") 1)
  ;; Bump allocator for the canonical ABI (the request is placed in guest memory).
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
  ;; execute-response at 16: status u16 @0, headers (ptr @4, len @8), body option (tag @12).
  (func $respond (param $status i32) (result i32)
    (i32.store16 (i32.const 16) (local.get $status))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16))
  (type $status (func (result i32)))
  (table $fns 1 funcref)
  (elem (table $fns) (i32.const 0) func $pristine)
  (elem $later func $marked)
  (func $pristine (result i32) (i32.const 200))
  (func $marked (result i32) (i32.const 409))
  (func (export "handler") (param $request i32) (result i32)
    (local $status i32)
    (local.set $status (call_indirect $fns (type $status) (i32.const 0)))
    (table.init $fns $later (i32.const 0) (i32.const 0) (i32.const 1))
    (call $respond (local.get $status))))
