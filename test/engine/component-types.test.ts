/**
 * component-types.ts: the return-area size of every imported function, decoded from a component's
 * own type declarations, against sizes worked out by hand from the canonical ABI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentEmbed, componentNew } from '@bytecodealliance/jco-transpile/wasm-tools';
import { ComponentTypeError, importReturnAreas } from '../../src/engine/component-types.js';
import { exampleBytes } from '../support/runtime.js';

/** A component importing `world`'s functions, with a generated (dummy) core module. */
async function componentOf(wit: string, world: string): Promise<Uint8Array> {
  return componentNew(await componentEmbed({ dummy: true, witSource: wit, world }));
}

test('the kitchen-sink: return areas of our world and of WASI, as the canonical ABI lays them out', () => {
  const areas = importReturnAreas(exampleBytes('kitchen-sink'));
  // result<storage-entry, storage-error>: tag at 0, then {string, string, list<u8>, option<u64>} aligned to 8 → 8 + 40
  assert.equal(areas['alga:extension/storage']?.get, 48);
  // result<_, enum>: two bytes, two flat values, so returned through memory
  assert.equal(areas['alga:extension/storage']?.delete, 2);
  // no results: nothing written
  assert.equal(areas['alga:extension/logging']?.info, 0);
  // datetime { seconds: u64, nanoseconds: u32 } → 16
  assert.equal(areas['wasi:clocks/wall-clock']?.now, 16);
  // a single u64 fits one core value: no return area
  assert.equal(areas['wasi:clocks/monotonic-clock']?.now, 0);
  // result<descriptor-stat, error-code>: the record is 1 + pad + 8 + 8 + 3 × option<datetime> (24) = 96, after a tag padded to 8
  assert.equal(areas['wasi:filesystem/types']?.['[method]descriptor.stat'], 104);
  // result<u64, stream-error>: 8 + 8
  assert.equal(areas['wasi:io/streams']?.['[method]output-stream.check-write'], 16);
  // versions are dropped from interface names (the core module and the component name different patch versions)
  assert.ok(Object.keys(areas).every((name) => !name.includes('@')));
});

test('layouts: alignment, discriminant widths, flags, options, results, handles, world-level functions', async () => {
  const cases300 = Array.from({ length: 300 }, (_, i) => `c${i}`);
  const flags = (n: number) => Array.from({ length: n }, (_, i) => `g${i}`).join(', ');
  const wit = `package test:layouts;
interface shapes {
  record mixed { a: u8, b: u64, c: u16 }
  variant wide { ${cases300.map((c) => `${c}(u8)`).join(', ')} }
  enum many { ${cases300.join(', ')} }
  flags five { ${flags(5)} }
  flags twelve { ${flags(12)} }
  flags twenty { ${flags(20)} }
  resource thing {
    constructor();
    pair: func() -> tuple<u32, u32>;
  }
  record-result: func() -> mixed;
  wide-result: func() -> wide;
  enum-result: func() -> many;
  five-flags: func() -> tuple<five, u8>;
  twelve-flags: func() -> tuple<twelve, u8>;
  twenty-flags: func() -> tuple<twenty, u8>;
  only-flags: func() -> twenty;
  maybe-u64: func() -> option<u64>;
  bare-result: func() -> result;
  string-error: func() -> result<_, string>;
  a-list: func() -> list<u64>;
  a-char: func() -> char;
  big: func() -> tuple<${Array.from({ length: 2500 }, () => 'u64').join(', ')}>;
  takes-many: func(a: u32, b: u32, c: u32, d: u32, e: u32, f: u32, g: u32, h: u32, i: u32, j: u32, k: u32, l: u32, m: u32, n: u32, o: u32, p: u32, q: u32) -> u32;
}
world layouts {
  import shapes;
  import top: func() -> tuple<u32, u32>;
}
`;
  const areas = importReturnAreas(await componentOf(wit, 'layouts'));
  assert.deepEqual(areas['$root'], { top: 8 });
  assert.deepEqual(areas['test:layouts/shapes'], {
    '[constructor]thing': 0, // an own handle: one i32
    '[method]thing.pair': 8,
    'record-result': 24, // u8 at 0, u64 at 8, u16 at 16, size rounded to 8
    'wide-result': 4, // 300 cases: a u16 tag, then the u8 payload, size rounded to 2
    'enum-result': 0, // one flat value
    'five-flags': 2, // flags in one byte, then the u8
    'twelve-flags': 4, // a u16, then the u8, rounded to 2
    'twenty-flags': 8, // a u32, then the u8, rounded to 4
    'only-flags': 0, // one flat value
    'maybe-u64': 16,
    'bare-result': 0,
    'string-error': 12,
    'a-list': 8,
    'a-char': 0,
    big: 20_000, // larger than a dirty block: what an area sized by assumption would miss
    'takes-many': 0, // 17 flat parameters go through memory the host only reads
  });
});

test('bytes that are not a component, or a component cut short, are refused with ComponentTypeError', () => {
  const component = exampleBytes('wat-ok');
  assert.throws(
    () => importReturnAreas(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])),
    (e) => e instanceof ComponentTypeError && /not a component/.test(e.message),
  );
  assert.throws(() => importReturnAreas(exampleBytes('kitchen-sink').subarray(0, 4000)), ComponentTypeError);
  assert.deepEqual(importReturnAreas(component), {});
});
