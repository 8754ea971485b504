/**
 * Our WASI's direct functions: the numbers-only WASI functions reach the guest's core modules as
 * ours, not through jco's lowering trampolines — and still behave as WASI says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceLedger, createWasiImports, withDirectWasi } from '../../src/engine/guest/wasi.js';

const wasi = createWasiImports({ write: () => {}, onPinnedDrop: () => {} }, new ResourceLedger());
const trampoline = () => {
  throw new Error('the trampoline should have been replaced');
};

test('the numbers-only functions of a versioned WASI import become ours; the rest of the import object is left as jco built it', () => {
  const subscribe = () => 0;
  const store = { log: () => {} };
  const jco: WebAssembly.Imports = {
    'wasi:clocks/monotonic-clock@0.2.12': { now: trampoline, resolution: trampoline, 'subscribe-duration': subscribe },
    'wasi:random/random@0.2.3': { 'get-random-u64': trampoline, 'get-random-bytes': trampoline },
    'wasi:random/insecure@0.2.3': { 'get-insecure-random-u64': trampoline },
    'wasi:clocks/wall-clock@0.2.12': { now: trampoline },
    'alga:extension/logging': store,
  };
  const out = withDirectWasi(jco, wasi);
  const clock = out['wasi:clocks/monotonic-clock@0.2.12']!;
  assert.equal(clock.now, wasi['wasi:clocks/monotonic-clock']!.now);
  assert.equal(clock.resolution, wasi['wasi:clocks/monotonic-clock']!.resolution);
  assert.equal(clock['subscribe-duration'], subscribe, 'a resource-returning function keeps its trampoline');
  assert.equal(out['wasi:random/random@0.2.3']!['get-random-u64'], wasi['wasi:random/random']!.getRandomU64);
  assert.equal(out['wasi:random/random@0.2.3']!['get-random-bytes'], trampoline, 'a list result needs the trampoline (it allocates in guest memory)');
  assert.equal(out['wasi:random/insecure@0.2.3']!['get-insecure-random-u64'], wasi['wasi:random/insecure']!.getInsecureRandomU64);
  assert.equal(out['wasi:clocks/wall-clock@0.2.12']!.now, trampoline, 'a record result is written through a return pointer: trampoline');
  assert.equal(out['alga:extension/logging'], store);
  // jco's object is not modified: it may be shared
  assert.equal(jco['wasi:clocks/monotonic-clock@0.2.12']!.now, trampoline);
});

test('an import object without such functions is returned as it is', () => {
  const jco: WebAssembly.Imports = { 'wasi:cli/stdout@0.2.12': { 'get-stdout': trampoline } };
  assert.equal(withDirectWasi(jco, wasi), jco);
});

test('the direct functions return what their core signatures carry: u64 as a bigint', () => {
  const now = wasi['wasi:clocks/monotonic-clock']!.now as () => bigint;
  const a = now();
  const b = now();
  assert.equal(typeof a, 'bigint');
  assert.ok(a >= 0n && b >= a, 'the monotonic clock never goes back');
  const random = wasi['wasi:random/random']!.getRandomU64 as () => bigint;
  const values = new Set(Array.from({ length: 8 }, () => random()));
  assert.ok([...values].every((v) => typeof v === 'bigint' && v >= 0n && v < 2n ** 64n));
  assert.ok(values.size > 1, 'random values differ');
});
