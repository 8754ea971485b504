;; world: wat-handler
;; Hostile guest: answers with a body whose pointer and length run past the end of its memory
;; (64 KiB): 10 000 bytes at 60 000. The host must report a guest_trap, not send a body cut to
;; the bytes that happen to be in memory.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "handler") (param $request i32) (result i32)
    (i32.store16 (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 1))
    (i32.store (i32.const 32) (i32.const 60000))
    (i32.store (i32.const 36) (i32.const 10000))
    (i32.const 16)))
