;; world: wat-sockets
;; Imports wasi:sockets, which the runner never provides (a guest's network access is
;; alga:extension/http, under the install's egress policy): install must refuse it by name.
(module
  (import "wasi:sockets/instance-network@0.2.0" "instance-network" (func $instance_network (result i32)))
  (memory (export "memory") 1)
  ;; The canonical ABI places the request with this allocator; this guest never reads it.
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (local.get $ptr))
  (func (export "handler") (param $request i32) (result i32)
    (drop (call $instance_network))
    unreachable))
