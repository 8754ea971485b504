/** The core-module rewriter: memory caps and exported internal globals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { binaryKind, inspectModule, rewriteModule, MemoryCapTooSmallError, RESERVED_GLOBAL_EXPORT_PREFIX } from '../../src/engine/wasm-binary.js';
import { exampleBytes } from '../support/runtime.js';

const WAT = `(module
  (import "env" "imported_global" (global $ig (mut i32)))
  (memory (export "memory") 2)
  (global $sp (mut i32) (i32.const 1024))
  (global $const i64 (i64.const 7))
  (global $exported (mut i32) (i32.const 5))
  (export "already" (global $exported))
  (table 3 funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "bump") (result i32)
    (global.set $sp (i32.add (global.get $sp) (i32.const 1)))
    (global.get $sp)))`;

async function module(): Promise<Uint8Array> {
  return parse(WAT);
}

test('binaryKind tells core modules, components and garbage apart', async () => {
  assert.equal(binaryKind(await module()), 'core-module');
  assert.equal(binaryKind(exampleBytes('wat-ok')), 'component');
  assert.equal(binaryKind(new Uint8Array([1, 2, 3])), 'unknown');
});

test('rewrite caps memory, exports internal mutable globals and tables, and keeps the module valid', async () => {
  const bytes = await module();
  const before = inspectModule(bytes);
  assert.deepEqual(
    before.definedMemories.map((m) => [m.minPages, m.maxPages]),
    [[2n, null]],
  );
  const out = rewriteModule(bytes, { maxMemoryPages: 4 });
  assert.ok(WebAssembly.validate(out.bytes as Uint8Array<ArrayBuffer>));
  const facts = inspectModule(out.bytes);
  assert.deepEqual(
    facts.definedMemories.map((m) => m.maxPages),
    [4n],
  );
  // global 0 is imported, 1 = $sp (internal, mutable), 2 = const, 3 = already exported
  assert.deepEqual(out.exportedGlobals, [`${RESERVED_GLOBAL_EXPORT_PREFIX}1`]);
  assert.equal(out.exportedTables.length, 1);

  const { instance } = await WebAssembly.instantiate(out.bytes as Uint8Array<ArrayBuffer>, { env: { imported_global: new WebAssembly.Global({ value: 'i32', mutable: true }, 0) } });
  const ex = instance.exports as Record<string, unknown>;
  const sp = ex[`${RESERVED_GLOBAL_EXPORT_PREFIX}1`] as WebAssembly.Global;
  assert.equal(sp.value, 1024);
  assert.equal((ex.bump as () => number)(), 1025);
  assert.equal(sp.value, 1025, 'the exported global is the live internal one');
  sp.value = 1024;
  assert.equal((ex.bump as () => number)(), 1025, 'writing it back restores the guest state');
  // growth within the cap works, past it fails
  assert.equal((ex.grow as (n: number) => number)(2), 2);
  assert.equal((ex.grow as (n: number) => number)(1), -1);
});

test('an existing maximum below the cap is kept; a cap below the initial size is an error', async () => {
  const capped = await parse('(module (memory 1 3))');
  assert.deepEqual(
    inspectModule(rewriteModule(capped, { maxMemoryPages: 10 }).bytes).definedMemories.map((m) => m.maxPages),
    [3n],
  );
  assert.throws(() => rewriteModule(capped, { maxMemoryPages: 0 }), MemoryCapTooSmallError);
});

test('a module without an export section gets one in the right place', async () => {
  const bytes = await parse('(module (global $g (mut i32) (i32.const 1)) (func (result i32) (global.get $g)))');
  const out = rewriteModule(bytes, { maxMemoryPages: 1 });
  assert.ok(WebAssembly.validate(out.bytes as Uint8Array<ArrayBuffer>));
  assert.deepEqual(
    inspectModule(out.bytes).exports.map((e) => e.name),
    [`${RESERVED_GLOBAL_EXPORT_PREFIX}0`],
  );
});
