;; world: wat-handler
;; Never returns: the handler spins forever, so only the runner's deadline can end the execution.
(module
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
    (loop $forever
      (br $forever))
    unreachable))
