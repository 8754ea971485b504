import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestRuntime, bodyJson, type TestRuntime } from '../support/runtime.js';

let rt: TestRuntime;

before(async () => {
  rt = await createTestRuntime({ workers: 1 });
});
after(async () => rt?.close());

test('warming loads and instantiates a component without running it: the first request is served by that instance', async () => {
  const kitchen = await rt.install('kitchen-sink');
  const warmed = await rt.engine.warm({ contentHash: kitchen });
  assert.equal(warmed.kind, 'ok', warmed.kind === 'fault' ? `${warmed.code}: ${warmed.message}` : '');
  if (warmed.kind === 'ok') assert.equal(warmed.instance, 'new');

  const first = await rt.run(kitchen, '/counter');
  assert.equal(first.kind, 'ok');
  // no instantiation on the request path: the warm instance served it, and it was pristine
  assert.equal(first.report.stats?.instance, 'restored');
  assert.deepEqual(bodyJson(first), { counter: 1 });

  // warming what is warm already makes no second instance
  const again = await rt.engine.warm({ contentHash: kitchen });
  assert.equal(again.kind === 'ok' && again.instance, 'restored');
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/counter')), { counter: 1 });
});

test('no guest code runs during a warm-up: a guest that traps when called warms fine, then traps on its request', async () => {
  const trap = await rt.install('wat-trap');
  const warmed = await rt.engine.warm({ contentHash: trap });
  assert.equal(warmed.kind, 'ok');
  const out = await rt.run(trap, '/');
  assert.equal(out.kind === 'fault' && out.code, 'guest_trap');
});

test('a guest that would loop forever warms within its deadline (nothing is called)', async () => {
  const loop = await rt.install('wat-loop');
  const warmed = await rt.engine.warm({ contentHash: loop, limits: { timeoutMs: 200 } });
  assert.equal(warmed.kind, 'ok', warmed.kind === 'fault' ? `${warmed.code}: ${warmed.message}` : '');
});

test("warming uses the install's memory cap: a cap below what the component needs to start is refused as `memory_limit`", async () => {
  const kitchen = await rt.install('kitchen-sink');
  const warmed = await rt.engine.warm({ contentHash: kitchen, limits: { memoryMb: 4 } });
  assert.equal(warmed.kind, 'fault');
  if (warmed.kind === 'fault') {
    assert.equal(warmed.code, 'memory_limit');
    assert.match(warmed.message, /9\.1 MiB/);
  }
  // another cap is another compiled variant, warmed separately
  const capped = await rt.engine.warm({ contentHash: kitchen, limits: { memoryMb: 64 } });
  assert.equal(capped.kind === 'ok' && capped.instance, 'new');
  const out = await rt.run(kitchen, '/counter', { limits: { memoryMb: 64 } });
  assert.equal(out.kind === 'ok' && out.report.stats?.instance, 'restored');
});

test('warming an unknown content hash is `not_prepared`', async () => {
  const warmed = await rt.engine.warm({ contentHash: `sha256:${'0'.repeat(64)}` });
  assert.equal(warmed.kind === 'fault' && warmed.code, 'not_prepared');
});

test("reuse mode: warming makes the install's own warm instance, which its first request then uses", async () => {
  const kitchen = await rt.install('kitchen-sink');
  // the install identity TestRuntime.run uses for this tenant
  const warmed = await rt.engine.warm({ contentHash: kitchen, reuseFor: { tenantId: 'reuse-tenant', installId: 'install-reuse-tenant' } });
  assert.equal(warmed.kind === 'ok' && warmed.instance, 'new');
  const first = await rt.run(kitchen, '/counter', { instanceMode: 'reuse', tenant: 'reuse-tenant' });
  assert.equal(first.kind === 'ok' && first.report.stats?.instance, 'reused');
  assert.deepEqual(bodyJson(first), { counter: 1 });
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/counter', { instanceMode: 'reuse', tenant: 'reuse-tenant' })), { counter: 2 });
});
