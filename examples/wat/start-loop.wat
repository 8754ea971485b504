;; world: wat-handler
;; Hostile guest: a core start function that never returns, so instantiating the component never
;; finishes. The runner must refuse to install it (install_not_runnable) and never hold a worker
;; past an execution's deadline for it.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func $forever
    (loop $spin (br $spin)))
  (start $forever)
  (func (export "handler") (param $request i32) (result i32)
    (i32.store16 (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16)))
