/**
 * Host calls the worker answers without a round trip (`Delivery` in src/capabilities/capability.ts):
 * per-execution answers (context, user) and one-way calls (logging) must behave exactly like round
 * trips to the guest and to accounting — counts, limits, denials, metrics, log order, failures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import type { LogRecord } from '../../src/engine/api.js';
import { createCapabilityRegistry } from '../../src/capabilities/index.js';
import type { CallOutcome } from '../../src/capabilities/registry.js';
import type { CapabilityName, InstallView } from '../../src/capabilities/capability.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import { createTestRuntime, bodyJson, exampleBytes, type TestRuntime } from '../support/runtime.js';
import { respondWat, watComponent } from '../support/wat-component.js';

let rt: TestRuntime;
let kitchen: string;

before(async () => {
  rt = await createTestRuntime({ workers: 1 });
  kitchen = await rt.install('kitchen-sink');
});
after(async () => rt?.close());

const USER = { userId: 'u-1', userEmail: 'u@example.com', userName: 'U', userType: 'internal', clientName: 'Acme', clientId: 'c-1', additionalFields: {} };

test("get-context is answered in the worker with this execution's identity, counted as a host call", async () => {
  const a = await rt.run(kitchen, '/context', { requestId: 'ctx-a', tenant: 'tenant-a' });
  const b = await rt.run(kitchen, '/context', { requestId: 'ctx-b', tenant: 'tenant-b' });
  assert.deepEqual(bodyJson(a), { ok: { requestId: 'ctx-a', tenantId: 'tenant-a', extensionId: 'ext-1', installId: 'install-tenant-a', versionId: 'ver-1' } });
  assert.deepEqual(bodyJson(b), { ok: { requestId: 'ctx-b', tenantId: 'tenant-b', extensionId: 'ext-1', installId: 'install-tenant-b', versionId: 'ver-1' } });
  assert.equal(a.report.hostCalls, 1);
  assert.equal(a.report.stats?.localCalls['alga:extension/context#getContext'], 1);
});

test('without the grant, per-execution answers are the denied ones, and each call is counted and noted', async () => {
  const ctx = await rt.run(kitchen, '/context', { grants: [] });
  assert.deepEqual(bodyJson(ctx), { ok: { tenantId: 'tenant-a', extensionId: 'ext-1' } });
  assert.equal(ctx.report.deniedCalls, 1);
  assert.ok(
    ctx.logs.some((r) => r.level === 'warn' && /denied alga:extension\/context#getContext/.test(r.message)),
    JSON.stringify(ctx.logs),
  );

  const user = await rt.run(kitchen, '/user', { grants: ['cap:context.read'], user: USER });
  assert.deepEqual(bodyJson(user), { err: 'not-allowed' });
  assert.equal(user.report.deniedCalls, 1);
  const granted = await rt.run(kitchen, '/user', { user: USER });
  assert.equal((bodyJson(granted)['ok'] as { userId: string }).userId, 'u-1');
  const nobody = await rt.run(kitchen, '/user', { user: null });
  assert.deepEqual(bodyJson(nobody), { err: 'not-available' });
});

test('the host-call cap counts calls answered in the worker and one-way calls', async () => {
  // /seven: get-context (local), logging.info (one-way), then storage — the second call is over a cap of 1
  const out = await rt.run(kitchen, '/seven', { limits: { maxHostCalls: 1 } });
  assert.equal(out.kind === 'fault' && out.code, 'host_call_limit');
  assert.equal(out.report.hostCalls, 2);
  assert.ok(!out.logs.some((r) => r.stream === 'log' && /^seven:/.test(r.message)), 'the refused log call was not delivered');
});

test('one-way log records arrive in call order, with context, before the execution ends', async () => {
  const out = await rt.run(kitchen, '/all', { requestId: 'all-1' });
  assert.equal(out.kind, 'ok');
  const records = out.logs.filter((r) => r.stream === 'log' && /^kitchen-sink: /.test(r.message));
  assert.deepEqual(
    records.map((r) => [r.level, r.message]),
    [
      ['info', 'kitchen-sink: info'],
      ['warn', 'kitchen-sink: warn'],
      ['error', 'kitchen-sink: error'],
    ],
  );
  for (const r of records) assert.equal(r.request_id, 'all-1');
});

/**
 * A WAT guest that logs `lines` numbered messages ("000", "001", ...; even ones padded to `bytes`,
 * odd ones 16 bytes long), then either answers 204 or, with `hang`, loops forever.
 */
async function loggingGuest(lines: number, bytes: number, hang: boolean): Promise<string> {
  const wat = `(module
    (import "alga:extension/logging" "info" (func $info (param i32 i32)))
    (memory (export "memory") 1)
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 8192))
    (func (export "handler") (param i32) (result i32)
      (local $i i32)
      (memory.fill (i32.const 1024) (i32.const 120) (i32.const ${bytes}))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $i) (i32.const ${lines})))
          (i32.store8 (i32.const 1024) (i32.add (i32.const 48) (i32.div_u (local.get $i) (i32.const 100))))
          (i32.store8 (i32.const 1025) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $i) (i32.const 10)) (i32.const 10))))
          (i32.store8 (i32.const 1026) (i32.add (i32.const 48) (i32.rem_u (local.get $i) (i32.const 10))))
          (call $info (i32.const 1024) (if (result i32) (i32.and (local.get $i) (i32.const 1)) (then (i32.const 16)) (else (i32.const ${bytes}))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      ${hang ? '(loop $forever (br $forever))' : ''}
      ${respondWat(16, 204)}))`;
  const component = await watComponent(wat, { name: 'logs', imports: ['logging'] });
  const prepared = await rt.engine.prepare(component);
  if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
  return prepared.artifact.contentHash;
}

const numbered = (logs: LogRecord[]) => logs.filter((r) => r.stream === 'log').map((r) => r.message.slice(0, 3));
const expected = (n: number) => Array.from({ length: n }, (_, i) => String(i).padStart(3, '0'));

test('log lines a guest wrote before it hung are kept when its deadline ends it', async () => {
  const out = await rt.run(await loggingGuest(3, 16, true), '/', { limits: { timeoutMs: 300 } });
  assert.equal(out.kind === 'fault' && out.code, 'timeout');
  assert.deepEqual(numbered(out.logs), expected(3));
});

test('more log output than the shared buffer holds still arrives whole and in order', async () => {
  // 400 lines, every other one 2000 bytes: past the 256 KiB the worker writes without posting,
  // and a short line that would still fit after a long one that did not must not overtake it
  const out = await rt.run(await loggingGuest(400, 2000, false), '/');
  assert.equal(out.kind, 'ok');
  assert.deepEqual(numbered(out.logs), expected(400));
  assert.deepEqual(
    out.logs.filter((r) => r.stream === 'log').map((r) => r.message.length),
    Array.from({ length: 400 }, (_, i) => (i % 2 ? 16 : 2000)),
  );
  // and the next execution starts with an empty buffer
  const again = await rt.run(await loggingGuest(2, 16, false), '/');
  assert.deepEqual(numbered(again.logs), expected(2));
});

test('metrics see local and one-way calls with their outcomes', async () => {
  const seen: { capability: CapabilityName; fn: string; outcome: CallOutcome }[] = [];
  const registry = createCapabilityRegistry({
    store: rt.store,
    tenantData: rt.tenantData,
    http: { allowPrivate: true },
    observer: { onCall: (capability, fn, outcome) => seen.push({ capability, fn, outcome }) },
  });
  const engine = await Engine.create({ cacheDir: join(rt.dir, 'artifacts-metrics'), registry, workers: 1 });
  try {
    const prepared = await engine.prepare(exampleBytes('kitchen-sink'));
    assert.equal(prepared.kind, 'ok');
    const run = (grants: CapabilityName[]) =>
      engine.execute({ contentHash: kitchen, ctx: context('m-1'), install: installView(), grants: new Set(grants), request: { method: 'GET', url: '/seven', headers: [], body: undefined } });
    await run(['cap:context.read', 'cap:log.emit', 'cap:user.read']);
    const outcomes = (fn: string) => seen.filter((c) => c.fn === fn).map((c) => c.outcome);
    assert.deepEqual(outcomes('getContext'), ['ok']);
    assert.deepEqual(outcomes('info'), ['ok']);
    assert.deepEqual(outcomes('getUser'), ['error'], 'no user in the context: not-available');
    seen.length = 0;
    await run([]);
    assert.deepEqual(outcomes('getContext'), ['denied']);
    assert.deepEqual(outcomes('info'), ['dropped']);
    assert.deepEqual(outcomes('getUser'), ['denied']);
  } finally {
    await engine.close();
  }
});

test('a one-way call that fails on the host ends the execution with `host_error`, though the guest went on', async () => {
  const logs: LogRecord[] = [];
  const out = await rt.engine.execute({
    contentHash: kitchen,
    ctx: context('explode-1'),
    install: installView(),
    grants: new Set<CapabilityName>(['cap:log.emit']),
    request: { method: 'GET', url: '/log?level=info&msg=explode', headers: [], body: undefined },
    onLog: (r) => {
      if (r.message === 'explode') throw new Error('the log sink is down');
      logs.push(r);
    },
  });
  assert.equal(out.kind === 'fault' && out.code, 'host_error', JSON.stringify(out));
  assert.ok(
    logs.some((r) => r.level === 'error' && /logging#info failed: the log sink is down/.test(r.message)),
    JSON.stringify(logs),
  );
});

function context(requestId: string): ExecutionContext {
  return { requestId, tenantId: 'tenant-a', extensionId: 'ext-1', installId: 'install-a', versionId: 'ver-1', contentHash: kitchen, user: null, config: {} };
}

function installView(): InstallView {
  return { installId: 'install-a', tenantId: 'tenant-a', extensionId: 'ext-1', versionId: 'ver-1', config: {}, egressAllow: [], uiProxy: null };
}
