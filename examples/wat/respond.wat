;; world: wat-handler
;; Answers whatever its request body describes, so tests can make a guest return any response,
;; invalid ones included. The body (little-endian): status u16, header count u16 (at most 60),
;; then for each header its name length u16, name bytes, value length u16, value bytes; the bytes
;; left after the last header are the response body (none when nothing is left). Names and values
;; are handed back exactly as sent — they need not be valid UTF-8 or valid HTTP. No request body:
;; 204, no headers.
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
  ;; The request arrives by pointer. execute-request = {context: context-data (52 bytes), http:
  ;; http-request @52 = {method @52, url @60, headers @68, body option<list<u8>> (tag @76, ptr @80,
  ;; len @84)}}. The response is returned by pointer, at 16: status u16 @0, headers list (ptr @4,
  ;; len @8), body option (tag @12, ptr @16, len @20). The header list (16 bytes an entry: name ptr,
  ;; len, value ptr, len) is built at 64; names, values and body point into the request body.
  (func (export "handler") (param $request i32) (result i32)
    (local $p i32) (local $end i32) (local $count i32) (local $i i32) (local $len i32) (local $entry i32)
    (i32.store (i32.const 20) (i32.const 64))
    (i32.store (i32.const 24) (i32.const 0))
    (i32.store8 (i32.const 28) (i32.const 0))
    (if (i32.eqz (i32.load8_u offset=76 (local.get $request)))
      (then
        (i32.store16 (i32.const 16) (i32.const 204))
        (return (i32.const 16))))
    (local.set $p (i32.load offset=80 (local.get $request)))
    (local.set $end (i32.add (local.get $p) (i32.load offset=84 (local.get $request))))
    (i32.store16 (i32.const 16) (i32.load16_u (local.get $p)))
    (local.set $count (i32.load16_u offset=2 (local.get $p)))
    (if (i32.gt_u (local.get $count) (i32.const 60)) (then unreachable))
    (i32.store (i32.const 24) (local.get $count))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (local.set $entry (i32.const 64))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $len (i32.load16_u (local.get $p)))
        (i32.store (local.get $entry) (i32.add (local.get $p) (i32.const 2)))
        (i32.store offset=4 (local.get $entry) (local.get $len))
        (local.set $p (i32.add (local.get $p) (i32.add (i32.const 2) (local.get $len))))
        (local.set $len (i32.load16_u (local.get $p)))
        (i32.store offset=8 (local.get $entry) (i32.add (local.get $p) (i32.const 2)))
        (i32.store offset=12 (local.get $entry) (local.get $len))
        (local.set $p (i32.add (local.get $p) (i32.add (i32.const 2) (local.get $len))))
        (local.set $entry (i32.add (local.get $entry) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.gt_u (local.get $p) (local.get $end)) (then unreachable))
    (if (i32.lt_u (local.get $p) (local.get $end))
      (then
        (i32.store8 (i32.const 28) (i32.const 1))
        (i32.store (i32.const 32) (local.get $p))
        (i32.store (i32.const 36) (i32.sub (local.get $end) (local.get $p)))))
    (i32.const 16)))
