/**
 * What the host copies out of guest memory is bounded and bounds-checked before the copy
 * (src/engine/guest/lift-bounds.ts and the glue patch that routes jco's copies through it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestRuntime, type TestRuntime } from '../support/runtime.js';
import { boundedLifts } from '../../src/engine/glue-patches.js';
import { GUEST_VALUE_LIMITS } from '../../src/engine/limits.js';

let rt: TestRuntime;
before(async () => {
  rt = await createTestRuntime({ workers: 1 });
});
after(async () => rt?.close());

test('a response body past the end of guest memory is a guest_trap, not a shortened body', async () => {
  const hash = await rt.install('wat-bad-response-pointer');
  const out = await rt.run(hash, '/');
  assert.equal(out.kind, 'fault', out.kind === 'ok' ? `answered ${out.response.status} with ${out.response.body?.byteLength} body bytes` : '');
  assert.equal(out.kind === 'fault' && out.code, 'guest_trap');
  assert.match(out.kind === 'fault' ? out.message : '', /out of bounds: 10000 bytes at 60000, memory is 65536 bytes/);
});

test('a 100 MiB host-call argument is refused by its length before it is copied (guest_trap), and the worker serves on', async () => {
  const hash = await rt.install('wat-huge-argument');
  const out = await rt.run(hash, '/', { grants: ['cap:log.emit'] });
  assert.equal(out.kind, 'fault');
  assert.equal(out.kind === 'fault' && out.code, 'guest_trap');
  assert.match(out.kind === 'fault' ? out.message : '', new RegExp(`argument of 104857600 bytes is above the limit of ${GUEST_VALUE_LIMITS.hostArgumentBytes}`));
  assert.equal(out.logs.length, 0, 'nothing of the string reached the log');
  const ok = await rt.install('wat-ok');
  const after = await rt.run(ok, '/');
  assert.equal(after.kind, 'ok');
});

test('the glue patch bounds every kind of copy jco emits (strings, byte lists, record lists)', () => {
  const glue = [
    'var result0 = TEXT_DECODER_UTF8.decode(new Uint8Array(memory0.buffer, ptr0, len0));',
    'var result3 = new Uint8Array(memory0.buffer.slice(ptr3, ptr3 + len3 * 1));',
    'for (let i = 0; i < len22; i++) {\n  const base = base22 + i * 16;',
  ].join('\n');
  const { glue: patched, bounded } = boundedLifts(glue);
  assert.deepEqual(bounded, { bytes: 1, string: 1, list: 1 });
  assert.match(patched, /TEXT_DECODER_UTF8\.decode\(__algaLift\.view\(memory0, ptr0, len0\)\)/);
  assert.match(patched, /__algaLift\.bytes\(memory0, ptr3, len3 \* 1\)/);
  assert.match(patched, /__algaLift\.list\(len22, 16\);\n {2}for \(let i = 0; i < len22; i\+\+\) \{\n {2}const base = base22 \+ i \* 16;/);
  assert.doesNotMatch(patched, /\.buffer\.slice\(/);
});
