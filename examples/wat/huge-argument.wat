;; world: wat-logging
;; Hostile guest: grows its memory to 101 MiB and hands `logging.info` a 100 MiB string. The host
;; must refuse the argument by its length, before copying or decoding it (guest_trap), instead of
;; decoding 100 MiB only to keep a log line's first 8 KiB.
(module
  (import "alga:extension/logging" "info" (func $info (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (i32.const 1024))
  (func (export "handler") (param $request i32) (result i32)
    (drop (memory.grow (i32.const 1616)))
    (memory.fill (i32.const 65536) (i32.const 0x61) (i32.const 104857600))
    (call $info (i32.const 65536) (i32.const 104857600))
    (i32.store16 (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 0))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (i32.const 16)))
