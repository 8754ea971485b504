/**
 * The write-tracking rewrite (src/engine/write-tracking.ts) on small WAT modules: every write to
 * memory — any store width, offset, alignment, across block edges, bulk fill/copy/init — lands in
 * a block the dirty map marks (or the block after a marked one, which the restore also copies);
 * writes into the map itself trap; modules we cannot prove safe are left untracked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { DIRTY_BLOCK_BYTES, DIRTY_MAP_BYTES, instrumentWrites, WRITE_TRACKING_SECTION } from '../../src/engine/write-tracking.js';

const PAGES = 32; // 2 MiB: 128 blocks
const MEMORY_BYTES = PAGES * 65536;

const STORE_KINDS = [
  ['i32.store', 'i32', 4],
  ['i32.store8', 'i32', 1],
  ['i32.store16', 'i32', 2],
  ['i64.store', 'i64', 8],
  ['i64.store8', 'i64', 1],
  ['i64.store16', 'i64', 2],
  ['i64.store32', 'i64', 4],
  ['f32.store', 'f32', 4],
  ['f64.store', 'f64', 8],
] as const;
const OFFSETS = [0, 3, 1000, 5000, 20000, 70000];

function storeFunctions(): string {
  const fns: string[] = [];
  for (const [op, type, width] of STORE_KINDS) {
    for (const offset of OFFSETS) {
      // an all-ones value so any byte written differs from the zeroed memory
      const value = type === 'i32' ? '(i32.const -1)' : type === 'i64' ? '(i64.const -1)' : type === 'f32' ? '(f32.reinterpret_i32 (i32.const -1))' : '(f64.reinterpret_i64 (i64.const -1))';
      fns.push(`(func (export "${op}_${offset}_${width}") (param $a i32) (${op} offset=${offset} align=1 (local.get $a) ${value}))`);
    }
  }
  return fns.join('\n');
}

const WAT = `(module
  (memory (export "memory") ${PAGES})
  (data (i32.const 4096) "data")
  (data $passive "passive-bytes")
  ${storeFunctions()}
  (func (export "fill") (param $d i32) (param $n i32) (memory.fill (local.get $d) (i32.const 255) (local.get $n)))
  (func (export "copy") (param $d i32) (param $s i32) (param $n i32) (memory.copy (local.get $d) (local.get $s) (local.get $n)))
  (func (export "init") (param $d i32) (memory.init $passive (local.get $d) (i32.const 0) (i32.const 13)))
  (func (export "loop_stores") (param $from i32) (param $n i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (i32.add (local.get $from) (i32.mul (local.get $i) (i32.const 7919))) (i32.const 255))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
)`;

async function instantiate(wat: string): Promise<{ exports: Record<string, (...a: number[]) => unknown>; memory: Uint8Array }> {
  const tracked = instrumentWrites(await parse(wat));
  assert.equal(tracked.kind, 'tracked', tracked.kind === 'untracked' ? tracked.reason : '');
  if (tracked.kind !== 'tracked') throw new Error('untracked');
  const module = await WebAssembly.compile(tracked.bytes as Uint8Array<ArrayBuffer>);
  assert.equal(WebAssembly.Module.customSections(module, WRITE_TRACKING_SECTION).length, 1, 'the marker section is there');
  const instance = await WebAssembly.instantiate(module);
  const memory = instance.exports['memory'] as WebAssembly.Memory;
  return { exports: instance.exports as Record<string, (...a: number[]) => unknown>, memory: new Uint8Array(memory.buffer) };
}

/** Every byte that differs from `before` lies in a block that is marked or follows a marked one. */
function assertCovered(before: Uint8Array, after: Uint8Array, what: string): number {
  let changed = 0;
  for (let block = 0; block * DIRTY_BLOCK_BYTES < after.length; block++) {
    const start = Math.max(block * DIRTY_BLOCK_BYTES, DIRTY_MAP_BYTES);
    const end = (block + 1) * DIRTY_BLOCK_BYTES;
    if (Buffer.from(after.buffer, after.byteOffset + start, end - start).equals(before.subarray(start, end))) continue;
    const marked = after[block] !== 0 || (block > 0 && after[block - 1] !== 0);
    for (let i = start; i < end; i++) {
      if (after[i] === before[i]) continue;
      changed++;
      assert.ok(marked, `${what}: byte ${i} changed in block ${block}, which is not marked`);
    }
  }
  return changed;
}

function clearMarks(memory: Uint8Array): void {
  memory.fill(0, 0, DIRTY_MAP_BYTES);
}

test('every store width and offset marks the block it writes, including writes across a block edge', async () => {
  const { exports, memory } = await instantiate(WAT);
  let checked = 0;
  for (const [op, , width] of STORE_KINDS) {
    for (const offset of OFFSETS) {
      // addresses at the start, middle and end of blocks, so stores straddle block edges
      for (const address of [1024, 16380 - offset, 16383, 16384 * 5 - 3, 16384 * 20 + 777, MEMORY_BYTES - offset - width]) {
        if (address < 1024 || address + offset + width > MEMORY_BYTES) continue;
        memory.fill(0); // marks and earlier stores alike: each store then changes exactly its bytes
        const before = memory.slice();
        exports[`${op}_${offset}_${width}`]!(address);
        const changed = assertCovered(before, memory, `${op} offset=${offset} at ${address}`);
        assert.equal(changed, width, `${op} wrote ${width} bytes`);
        checked++;
      }
    }
  }
  assert.ok(checked > 300, `${checked} stores checked`);
});

test('memory.fill, memory.copy and memory.init mark their whole range; a zero-length one writes nothing and does not trap', async () => {
  const { exports, memory } = await instantiate(WAT);
  const cases: [string, () => unknown][] = [
    ['fill 1 byte', () => exports['fill']!(40000, 1)],
    ['fill across 5 blocks', () => exports['fill']!(16384 * 3 + 100, 16384 * 4 + 50)],
    ['copy', () => exports['copy']!(16384 * 30 + 5, 4096, 4)],
    ['init', () => exports['init']!(16384 * 40 - 6)],
    ['fill to the end of memory', () => exports['fill']!(MEMORY_BYTES - 70000, 70000)],
  ];
  for (const [what, run] of cases) {
    clearMarks(memory);
    const before = memory.slice();
    run();
    assert.ok(assertCovered(before, memory, what) > 0, `${what} changed memory`);
  }
  clearMarks(memory);
  exports['fill']!(8, 0);
  assert.ok(
    memory.subarray(0, DIRTY_MAP_BYTES).every((b) => b === 0),
    'nothing marked by an empty fill, even below the map end',
  );
});

test('a thousand scattered stores are all covered', async () => {
  const { exports, memory } = await instantiate(WAT);
  clearMarks(memory);
  const before = memory.slice();
  exports['loop_stores']!(2048, 250);
  assert.equal(assertCovered(before, memory, 'scattered stores'), 250);
});

test('the guest cannot write the dirty map: stores and bulk writes into the first KiB trap', async () => {
  const { exports, memory } = await instantiate(WAT);
  assert.throws(() => exports['i32.store_0_4']!(0), /unreachable/);
  assert.throws(() => exports['i32.store8_0_1']!(1023), /unreachable/);
  assert.throws(() => exports['i64.store_3_8']!(1020), /unreachable/, 'address + offset inside the map');
  assert.throws(() => exports['fill']!(1000, 10), /unreachable/);
  assert.throws(() => exports['copy']!(0, 4096, 4), /unreachable/);
  assert.ok(
    memory.subarray(0, DIRTY_MAP_BYTES).every((b) => b === 0),
    'no trapped write reached the map',
  );
  exports['i32.store8_1000_1']!(24); // 24 + 1000 = 1024: the first byte past the map is the guest's
  assert.equal(memory[1024], 255);
});

test('modules that cannot be proven safe are left untracked, with the reason', async () => {
  const cases: [string, string, RegExp][] = [
    ['data in the first KiB', `(module (memory ${PAGES}) (data (i32.const 512) "x"))`, /data segment at 512/],
    ['data at a computed offset', `(module (import "env" "base" (global $base i32)) (memory ${PAGES}) (data (global.get $base) "x"))`, /computed offset/],
    ['a small memory', '(module (memory 1) (func (i32.store (i32.const 2048) (i32.const 1))))', /under 1 MiB/],
    ['a memory above 16 MiB', '(module (memory 300))', /above 16 MiB/],
    ['SIMD', `(module (memory ${PAGES}) (func (v128.store (i32.const 2048) (v128.const i64x2 1 1))))`, /opcode 0xfd/],
    ['two memories', `(module (memory ${PAGES}) (memory 1))`, /more than one memory/],
  ];
  for (const [what, wat, reason] of cases) {
    const result = instrumentWrites(await parse(wat));
    assert.equal(result.kind, 'untracked', what);
    if (result.kind === 'untracked') assert.match(result.reason, reason, what);
  }
});

test('instrumented code writes exactly what the original writes, whatever feeds each store (constants, locals, expressions)', async () => {
  const addr = '(i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 300)))';
  const wat = `(module
    (memory (export "memory") ${PAGES})
    (global $g (mut i32) (i32.const 77))
    (func (export "run") (param $seed i32) (local $i i32) (local $x i64) (local $f f32) (local $d f64)
      (local.set $x (i64.extend_i32_u (local.get $seed)))
      (local.set $f (f32.convert_i32_u (local.get $seed)))
      (local.set $d (f64.convert_i32_u (local.get $seed)))
      (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 500)))
        (i32.store offset=3 align=1 ${addr} (local.get $i))
        (i64.store offset=8 ${addr} (local.get $x))
        (f32.store offset=20 ${addr} (local.get $f))
        (f64.store offset=24 ${addr} (local.get $d))
        (i32.store8 offset=40 ${addr} (i32.const 171))
        (i64.store16 offset=41 align=1 ${addr} (i64.const 0x1234))
        (f32.store offset=44 ${addr} (f32.const 1.5))
        (f64.store offset=48 ${addr} (f64.const -2.25))
        (i32.store16 offset=56 ${addr} (i32.add (local.get $i) (global.get $g)))
        (i64.store32 offset=60 ${addr} (i64.mul (local.get $x) (i64.const 3)))
        (i32.store offset=16400 ${addr} (local.get $seed))
        (local.set $x (i64.add (local.get $x) (i64.const 7)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
  )`;
  const original = await WebAssembly.instantiate(await WebAssembly.compile((await parse(wat)) as Uint8Array<ArrayBuffer>));
  const run = (exports: WebAssembly.Exports) => {
    (exports['run'] as (seed: number) => void)(12345);
    return new Uint8Array((exports['memory'] as WebAssembly.Memory).buffer);
  };
  const expected = run(original.exports);
  const tracked = await instantiate(wat);
  const before = tracked.memory.slice();
  (tracked.exports['run'] as (seed: number) => void)(12345);
  const actual = new Uint8Array(tracked.memory.buffer);
  assert.ok(Buffer.from(actual.subarray(DIRTY_MAP_BYTES)).equals(Buffer.from(expected.subarray(DIRTY_MAP_BYTES))), 'memory above the map is identical');
  assert.ok(assertCovered(before, actual, 'run') > 0);
});

/** Instruments `wat` and returns its mark counts (it must be tracked). */
async function markCounts(wat: string) {
  const tracked = instrumentWrites(await parse(wat));
  if (tracked.kind !== 'tracked') throw new Error(tracked.reason);
  return tracked.marks;
}

test('in straight-line code, a store through a local that an earlier store through it marked gets no mark of its own', async () => {
  const fn = (body: string) => `(module (memory ${PAGES}) (func (param $p i32) (param $q i32) ${body}))`;
  const same = '(i32.store (local.get $p) (i32.const 1)) (i32.store offset=8 (local.get $p) (local.get $q)) (i64.store offset=16000 (local.get $p) (i64.const 3))';
  assert.deepEqual(await markCounts(fn(same)), { stores: 3, elided: 2 });
  // what breaks the chain: another local, a write to the local, control flow, an offset past the block
  const cases: [string, string][] = [
    ['another local', '(i32.store (local.get $p) (i32.const 1)) (i32.store (local.get $q) (i32.const 2))'],
    ['local.set', '(i32.store (local.get $p) (i32.const 1)) (local.set $p (i32.const 70000)) (i32.store (local.get $p) (i32.const 2))'],
    ['local.tee', '(i32.store (local.get $p) (i32.const 1)) (drop (local.tee $p (i32.const 70000))) (i32.store (local.get $p) (i32.const 2))'],
    ['a block boundary', '(i32.store (local.get $p) (i32.const 1)) (block (i32.store (local.get $p) (i32.const 2)))'],
    ['a large offset first', '(i32.store offset=20000 (local.get $p) (i32.const 1)) (i32.store (local.get $p) (i32.const 2))'],
    ['a computed address', '(i32.store (local.get $p) (i32.const 1)) (i32.store (i32.add (local.get $p) (i32.const 4)) (i32.const 2))'],
  ];
  for (const [what, body] of cases) assert.deepEqual(await markCounts(fn(body)), { stores: 2, elided: 0 }, what);
});

test('stores left unmarked are still covered and still cannot reach the dirty map', async () => {
  const wat = `(module
    (memory (export "memory") ${PAGES})
    (func (export "run") (param $p i32)
      (i32.store offset=8 (local.get $p) (i32.const -1))
      (i64.store offset=16376 align=1 (local.get $p) (i64.const -1))
      (call $other (local.get $p))
      (i32.store8 offset=4 (local.get $p) (i32.const 255))
      (local.set $p (i32.add (local.get $p) (i32.const 40000)))
      (i32.store16 offset=2 (local.get $p) (i32.const -1)))
    (func $other (param i32))
    (func (export "low") (param $p i32)
      (i32.store offset=8 (local.get $p) (i32.const 7))
      (i32.store offset=0 (local.get $p) (i32.const 7)))
  )`;
  assert.deepEqual(await markCounts(wat), { stores: 6, elided: 3 });
  const { exports, memory } = await instantiate(wat);
  for (const start of [1024, 16380, 16384 * 7 - 1, 16384 * 50 + 5]) {
    memory.fill(0);
    const before = memory.slice();
    exports['run']!(start);
    assert.equal(assertCovered(before, memory, `run at ${start}`), 4 + 8 + 1 + 2);
  }
  // p + 8 is past the map, p + 0 is not: the second store's own check traps before it writes
  memory.fill(0);
  assert.throws(() => exports['low']!(1020), /unreachable/);
  assert.equal(memory[0], 1, 'the first store marked block 0');
  assert.ok(
    memory.subarray(1, DIRTY_MAP_BYTES).every((b) => b === 0),
    'the second store did not write into the map',
  );
  assert.equal(memory[1028], 7, 'the first store ran');
});

test('random straight-line stores through a few locals are all covered', async () => {
  // a fixed seed: the same program every run
  let seed = 0x2545f491;
  const next = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n; // the high bits: an LCG's low bits repeat with short periods
  };
  const kinds = STORE_KINDS.filter(([, type]) => type === 'i32' || type === 'i64');
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    const local = ['$a', '$b', '$c'][next(3)]!;
    // ~11 moves of 3-4 blocks per local (further than any store before the move reaches): each
    // local walks its own third of the 128 blocks, so a missing mark is not hidden by another's
    if (next(6) === 0) lines.push(`(local.set ${local} (i32.add (local.get ${local}) (i32.const ${16384 * (3 + next(2)) + next(100)})))`);
    else {
      const [op, type, width] = kinds[next(kinds.length)]!;
      const offset = [0, 4, 100, 1023, 1024, 8000, 16376 - width, 16384, 30000][next(9)]!;
      lines.push(`(${op} offset=${offset} align=1 (local.get ${local}) (${type}.const -1))`);
    }
  }
  const wat = `(module (memory (export "memory") ${PAGES}) (func (export "run") (param $a i32) (param $b i32) (param $c i32) ${lines.join('\n')}))`;
  const marks = await markCounts(wat);
  assert.ok(marks.elided > 40, `${marks.elided} of ${marks.stores} marks elided`);
  const { exports, memory } = await instantiate(wat);
  memory.fill(0);
  const before = memory.slice();
  exports['run']!(2048, 16384 * 43 + 17, 16384 * 86 - 5);
  assert.ok(assertCovered(before, memory, 'random stores') > 0);
});
