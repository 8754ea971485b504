/**
 * In-worker delivery (`Delivery` in src/capabilities/capability.ts, worker-side.ts): over the
 * embedded SQLite store, storage and secrets reads and the tenant's clients and services are
 * answered in the guest's worker from its own read-only connection. To the guest and to accounting
 * they must be exactly the round trips they replace — same answers, counts, denials, log lines,
 * metrics, failures — and over PostgreSQL they stay round trips.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sql } from 'kysely';
import { Engine } from '../../src/engine/engine.js';
import { createCapabilityRegistry } from '../../src/capabilities/index.js';
import { createSecretsCapability } from '../../src/capabilities/secrets.js';
import { CapabilityRegistry, type CallOutcome } from '../../src/capabilities/registry.js';
import { WorkerSideError } from '../../src/engine/worker-pool.js';
import type { CapabilityName } from '../../src/capabilities/capability.js';
import { createTestRuntime, bodyJson, exampleBytes, type TestRuntime } from '../support/runtime.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import { dropSchema } from '../store/backends.js';
import { DEMO_CLIENTS, DEMO_SERVICES, seedDemoTenantData } from '../../src/capabilities/demo-data.js';

const KV = 'cap:storage.kv';
const SECRETS = 'cap:secrets.get';
const BASE: CapabilityName[] = ['cap:context.read', 'cap:log.emit', 'cap:user.read'];
const ALL: CapabilityName[] = [...BASE, KV, SECRETS, 'cap:client.read', 'cap:service.read'];

let rt: TestRuntime;
let kitchen: string;

// The pool has the worker answer in-worker calls itself only when the main thread has no core to
// watch it on (hot-wait.ts `workerPlan`); without a hot wait it never has.
const IN_WORKER = { workers: 1, hotWaitMs: 0 } as const;

before(async () => {
  rt = await createTestRuntime(IN_WORKER);
  kitchen = await rt.install('kitchen-sink');
});
after(async () => rt?.close());

const workerCalls = (out: Awaited<ReturnType<TestRuntime['run']>>) => (out.report.stats?.workerCalls ?? []).map((c) => `${c.key} ${c.outcome}`);

test('over SQLite, reads run in the worker and see what the main thread committed before them', async () => {
  const missing = await rt.run(kitchen, '/kv/get?ns=iw&key=k1', { grants: ALL });
  assert.deepEqual(bodyJson(missing), { err: 'missing' });
  assert.deepEqual(workerCalls(missing), ['alga:extension/storage#get error']);

  // the put is a round trip (a write); the get right after it, in another execution, reads it in the worker
  const put = await rt.run(kitchen, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'iw', key: 'k1', value: 'one' }), grants: ALL });
  assert.equal((bodyJson(put)['ok'] as { revision: string }).revision, '1');
  assert.deepEqual(workerCalls(put), []);
  const got = await rt.run(kitchen, '/kv/get?ns=iw&key=k1', { grants: ALL });
  assert.deepEqual(bodyJson(got), { ok: { namespace: 'iw', key: 'k1', value: 'one', revision: '1' } });
  assert.deepEqual(workerCalls(got), ['alga:extension/storage#get ok']);
  assert.equal(got.report.hostCalls, 1);

  await rt.run(kitchen, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'iw', key: 'k0', value: 'zero' }), grants: ALL });
  const listed = await rt.run(kitchen, '/kv/list?ns=iw', { grants: ALL });
  assert.deepEqual(
    (bodyJson(listed)['ok'] as { key: string }[]).map((e) => e.key),
    ['k0', 'k1'],
  );
  const after = await rt.run(kitchen, '/kv/list?ns=iw&cursor=k0', { grants: ALL });
  assert.deepEqual(
    (bodyJson(after)['ok'] as { key: string }[]).map((e) => e.key),
    ['k1'],
  );
  assert.deepEqual(workerCalls(after), ['alga:extension/storage#list ok']);

  // installs stay apart on the worker's connection too
  const other = await rt.run(kitchen, '/kv/get?ns=iw&key=k1', { grants: ALL, tenant: 'tenant-b' });
  assert.deepEqual(bodyJson(other), { err: 'missing' });
});

test('secrets are opened in the worker: values, missing, expired, and a row that does not decrypt', async () => {
  await rt.store.secrets.putSecrets('install-tenant-a', { api: 'the-value' });
  await rt.store.secrets.putSecrets('install-tenant-c', { old: 'gone' }, new Date(Date.now() - 1000));
  const value = await rt.run(kitchen, '/secrets/get?key=api', { grants: ALL });
  assert.deepEqual(bodyJson(value), { ok: 'the-value' });
  assert.deepEqual(workerCalls(value), ['alga:extension/secrets#get ok']);
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/secrets/get?key=nope', { grants: ALL })), { err: 'missing' });
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/secrets/get?key=old', { grants: ALL, tenant: 'tenant-c' })), { err: 'expired' });
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/secrets/list', { grants: ALL })), { ok: ['api'] });
  assert.deepEqual(bodyJson(await rt.run(kitchen, '/secrets/list', { grants: ALL, tenant: 'tenant-c' })), { ok: [] });

  // a row moved to another install no longer opens (its AAD names the install): internal, and said why
  await sql`update install_secrets set install_id = 'install-tenant-d' where install_id = 'install-tenant-a'`.execute(rt.store.db);
  const moved = await rt.run(kitchen, '/secrets/get?key=api', { grants: ALL, tenant: 'tenant-d' });
  assert.deepEqual(bodyJson(moved), { err: 'internal' });
  assert.ok(
    moved.logs.some((r) => r.level === 'error' && /secret "api" could not be decrypted/.test(r.message)),
    JSON.stringify(moved.logs),
  );
});

test("tenant clients and services are read in the worker, for the execution's tenant only", async () => {
  await seedDemoTenantData(rt.tenantData, 'tenant-a');
  const clients = await rt.run(kitchen, '/clients?search=dub', { grants: ALL });
  assert.deepEqual(
    (bodyJson(clients)['ok'] as { items: { clientName: string }[] }).items.map((c) => c.clientName),
    ['Équipe Médicale Dubois'],
  );
  assert.deepEqual(workerCalls(clients), ['alga:extension/clients#listClients ok']);
  const services = await rt.run(kitchen, '/services?item_kind=product&page_size=2', { grants: ALL });
  const page = bodyJson(services)['ok'] as { items: unknown[]; totalCount: number };
  assert.equal(page.items.length, 2);
  assert.equal(page.totalCount, DEMO_SERVICES.filter((s) => s.itemKind === 'product').length);
  const one = await rt.run(kitchen, `/client?id=${DEMO_CLIENTS[0]!.clientId}`, { grants: ALL });
  assert.equal((bodyJson(one)['ok'] as { clientName: string }).clientName, DEMO_CLIENTS[0]!.clientName);
  assert.deepEqual(workerCalls(one), ['alga:extension/clients#getClient ok']);
  // another tenant's execution sees none of them
  const elsewhere = await rt.run(kitchen, `/client?id=${DEMO_CLIENTS[0]!.clientId}`, { grants: ALL, tenant: 'tenant-z' });
  assert.deepEqual(bodyJson(elsewhere), { ok: null });

  // bad input is the guest's error, with the reason in the install's log, from the worker
  const bad = await rt.run(kitchen, '/clients?page_size=0', { grants: ALL });
  assert.deepEqual(bodyJson(bad), { err: 'invalid-input' });
  assert.deepEqual(workerCalls(bad), ['alga:extension/clients#listClients error']);
  assert.ok(
    bad.logs.some((r) => r.level === 'warn' && /^clients\.list-clients failed \(invalid-input\): invalid clients list input/.test(r.message)),
    JSON.stringify(bad.logs),
  );
});

test("a denial inside the worker is logged with the execution's context", async () => {
  const out = await rt.run(kitchen, `/kv/get?ns=${'n'.repeat(200)}&key=k`, { grants: ALL, requestId: 'deny-in-worker' });
  assert.deepEqual(bodyJson(out), { err: 'denied' });
  const line = out.logs.find((r) => /^storage\.get denied: namespace longer than 128 characters$/.test(r.message));
  assert.ok(line, JSON.stringify(out.logs));
  assert.equal(line.level, 'warn');
  assert.equal(line.request_id, 'deny-in-worker');
  assert.equal(line.install, 'install-tenant-a');
});

test('without the grant, in-worker functions answer denied without running, counted and noted', async () => {
  const out = await rt.run(kitchen, '/kv/get?ns=iw&key=k1', { grants: BASE });
  assert.deepEqual(bodyJson(out), { err: 'denied' });
  assert.deepEqual(workerCalls(out), []);
  assert.equal(out.report.deniedCalls, 1);
  assert.ok(
    out.logs.some((r) => r.level === 'warn' && /denied alga:extension\/storage#get: cap:storage.kv is not granted/.test(r.message)),
    JSON.stringify(out.logs),
  );
});

test('the host-call cap counts in-worker calls', async () => {
  // /seven: get-context, logging.info, then storage.get — in the worker, and the third call over a cap of 2
  const out = await rt.run(kitchen, '/seven', { grants: ALL, limits: { maxHostCalls: 2 } });
  assert.equal(out.kind === 'fault' && out.code, 'host_call_limit');
  assert.deepEqual(workerCalls(out), []);
});

test('metrics see in-worker calls with their outcomes and latency', async () => {
  const seen: { capability: CapabilityName; fn: string; outcome: CallOutcome; seconds: number }[] = [];
  const registry = createCapabilityRegistry({
    store: rt.store,
    tenantData: rt.tenantData,
    http: { allowPrivate: true },
    observer: { onCall: (capability, fn, outcome, seconds) => seen.push({ capability, fn, outcome, seconds }) },
  });
  const engine = await Engine.create({ cacheDir: join(rt.dir, 'artifacts-metrics'), registry, ...IN_WORKER });
  try {
    const prepared = await engine.prepare(exampleBytes('kitchen-sink'));
    assert.equal(prepared.kind, 'ok');
    await rt.store.kv.put('install-m', { namespace: 'm', key: 'present', value: new Uint8Array([1]) });
    const run = (url: string) =>
      engine.execute({
        contentHash: kitchen,
        ctx: { requestId: 'm', tenantId: 'tenant-m', extensionId: 'ext-1', installId: 'install-m', versionId: null, contentHash: kitchen, user: null, config: {} },
        install: { installId: 'install-m', tenantId: 'tenant-m', extensionId: 'ext-1', versionId: null, config: {}, egressAllow: [], uiProxy: null },
        grants: new Set(ALL),
        request: { method: 'GET', url, headers: [], body: undefined },
      });
    await run('/kv/get?ns=m&key=present');
    await run('/kv/get?ns=m&key=absent');
    const gets = seen.filter((c) => c.fn === 'get');
    assert.deepEqual(
      gets.map((c) => `${c.capability} ${c.outcome}`),
      [`${KV} ok`, `${KV} error`],
    );
    for (const c of gets) assert.ok(c.seconds > 0 && c.seconds < 5, `latency ${c.seconds}`);
  } finally {
    await engine.close();
  }
});

test('a worker function that throws is contained like a round trip: logged, answered `internal`', async () => {
  const broken = await createTestRuntime(IN_WORKER);
  try {
    const hash = await broken.install('kitchen-sink');
    await sql`drop table kv_entries`.execute(broken.store.db);
    const out = await broken.run(hash, '/kv/get?ns=a&key=b', { grants: ALL });
    assert.deepEqual(bodyJson(out), { err: 'internal' });
    assert.deepEqual(workerCalls(out), ['alga:extension/storage#get failed']);
    assert.ok(
      out.logs.some((r) => r.level === 'error' && /alga:extension\/storage#get failed: no such table: kv_entries/.test(r.message)),
      JSON.stringify(out.logs),
    );
  } finally {
    await broken.close();
  }
});

test('a worker side that cannot open stops the engine from starting, naming the capability', async () => {
  // the store every worker opens for its sides (engine/guest/worker-sides.ts) cannot be opened
  const registry = new CapabilityRegistry(undefined, { sqliteFile: join(rt.dir, 'no-such-dir', 'runner.db'), secretsKey: null }).register(createSecretsCapability(rt.store.secrets, true));
  await assert.rejects(Engine.create({ cacheDir: join(rt.dir, 'artifacts-broken'), registry, workers: 1 }), (e: unknown) => {
    assert.ok(e instanceof WorkerSideError);
    assert.match(e.message, /the worker side of cap:secrets\.get could not open: .*Cannot open database because the directory does not exist/);
    return true;
  });
});

test('while the main thread has a core to watch the worker on, the same calls are round trips with the same answers', async () => {
  const watched = await createTestRuntime({ workers: 1, hotWaitMs: 0.5, cores: 2 });
  try {
    const hash = await watched.install('kitchen-sink');
    await watched.run(hash, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'rt', key: 'k', value: 'v' }), grants: ALL });
    const got = await watched.run(hash, '/kv/get?ns=rt&key=k', { grants: ALL });
    assert.deepEqual(bodyJson(got), { ok: { namespace: 'rt', key: 'k', value: 'v', revision: '1' } });
    assert.deepEqual(workerCalls(got), []);
    assert.equal(got.report.hostCalls, 1);
    // one core: the worker's, so the main thread cannot watch and the worker reads itself
    const crowded = await createTestRuntime({ workers: 1, hotWaitMs: 0.5, cores: 1 });
    try {
      const h = await crowded.install('kitchen-sink');
      assert.deepEqual(workerCalls(await crowded.run(h, '/kv/get?ns=rt&key=k', { grants: ALL })), ['alga:extension/storage#get error']);
    } finally {
      await crowded.close();
    }
  } finally {
    await watched.close();
  }
});

test('with worker reads turned off (RUNNER_WORKER_READS=0) no capability has a worker side, so every read is a round trip', async () => {
  const on = createCapabilityRegistry({ store: rt.store, tenantData: rt.tenantData, http: { allowPrivate: true } });
  assert.deepEqual(
    on
      .workerSides()
      .map((s) => s.capability)
      .sort(),
    ['cap:client.read', 'cap:secrets.get', 'cap:service.read', 'cap:storage.kv'],
  );
  const off = createCapabilityRegistry({ store: rt.store, tenantData: rt.tenantData, http: { allowPrivate: true }, workerReads: false });
  assert.deepEqual(off.workerSides(), []);
  const engine = await Engine.create({ cacheDir: join(rt.dir, 'artifacts-off'), registry: off, ...IN_WORKER });
  try {
    const prepared = await engine.prepare(exampleBytes('kitchen-sink'));
    assert.equal(prepared.kind, 'ok');
    const out = await engine.execute({
      contentHash: kitchen,
      ctx: { requestId: 'off', tenantId: 'tenant-a', extensionId: 'ext-1', installId: 'install-tenant-a', versionId: null, contentHash: kitchen, user: null, config: {} },
      install: { installId: 'install-tenant-a', tenantId: 'tenant-a', extensionId: 'ext-1', versionId: null, config: {}, egressAllow: [], uiProxy: null },
      grants: new Set(ALL),
      request: { method: 'GET', url: '/kv/get?ns=iw&key=k1', headers: [], body: undefined },
    });
    assert.deepEqual(bodyJson(out), { ok: { namespace: 'iw', key: 'k1', value: 'one', revision: '1' } });
    assert.deepEqual(out.report.stats?.workerCalls, []);
  } finally {
    await engine.close();
  }
});

const pgSkip = await postgresSkipReason();

describe('over PostgreSQL', { skip: pgSkip }, () => {
  const schema = `t_in_worker_${process.pid}`;
  let pgRt: TestRuntime;
  let hash: string;
  before(async () => {
    pgRt = await createTestRuntime({ ...IN_WORKER, store: { dataDir: tmpdir(), databaseUrl: TEST_DATABASE_URL, schema } });
    hash = await pgRt.install('kitchen-sink');
  });
  after(async () => {
    await pgRt?.close();
    if (pgSkip === false) await dropSchema(schema);
  });

  test('the same reads are round trips, with the same answers', async () => {
    assert.equal(pgRt.store.readOnlyFile, null);
    await pgRt.run(hash, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'iw', key: 'k1', value: 'one' }), grants: ALL });
    const got = await pgRt.run(hash, '/kv/get?ns=iw&key=k1', { grants: ALL });
    assert.deepEqual(bodyJson(got), { ok: { namespace: 'iw', key: 'k1', value: 'one', revision: '1' } });
    assert.deepEqual(workerCalls(got), []);
    assert.equal(got.report.hostCalls, 1);
  });
});
