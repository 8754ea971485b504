;; world: wat-wrong-handler
;; Exports `handler` with the wrong type (u32 -> u32): install must refuse it, naming the type.
(module
  (memory (export "memory") 1)
  (func (export "handler") (param $x i32) (result i32)
    (local.get $x)))
