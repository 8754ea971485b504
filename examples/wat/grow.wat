;; world: wat-handler
;; Grows linear memory one page at a time, writing to each new page so it is really committed,
;; until memory.grow fails (-1: the memory's maximum is reached), then traps. Under the runner's
;; memory cap this must end as memory_limit, never as a host out-of-memory.
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
    (local $page i32)
    (block $exhausted
      (loop $more
        (local.set $page (memory.grow (i32.const 1)))
        (br_if $exhausted (i32.eq (local.get $page) (i32.const -1)))
        ;; touch the last word of the new page
        (i32.store
          (i32.add (i32.mul (local.get $page) (i32.const 65536)) (i32.const 65532))
          (local.get $page))
        (br $more)))
    unreachable))
