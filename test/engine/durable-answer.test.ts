/**
 * External synchrony of storage writes under SQLite synchronous=FULL (store/group-commit.ts,
 * ExecutionServices.awaitDurable): a guest's put is answered at its commit and the guest goes on,
 * but nothing leaves the runner before the write is on disk — not the execution's answer, not a
 * call of a capability that reaches outside (Capability.leavesRunner) — and a write that cannot be
 * made durable turns the answer into `host_error`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKvStore } from '../../src/store/kv.js';
import { createCapabilityRegistry } from '../../src/capabilities/index.js';
import type { ExecutionServices, ExecutionView } from '../../src/contract/index.js';
import { createTestRuntime, bodyJson, type TestRuntime } from '../support/runtime.js';

/** The WAL sync of the store under test, held until the test lets it go. */
class GatedSync {
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private arrived: (() => void)[] = [];
  readonly sync = () =>
    new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.arrived.shift()?.();
    });
  /** settles once a sync is waiting */
  called(): Promise<void> {
    return this.waiting.length > 0 ? Promise.resolve() : new Promise((resolve) => this.arrived.push(resolve));
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w.resolve();
  }
  fail(message: string): void {
    for (const w of this.waiting.splice(0)) w.reject(new Error(message));
  }
}

const KV = 'cap:storage.kv';
const GRANTS = ['cap:context.read', 'cap:log.emit', 'cap:user.read', KV] as const;
const gate = new GatedSync();
let rt: TestRuntime;
let kitchen: string;

before(async () => {
  // one worker: executions run one after another, so a later one answering proves the earlier guest finished
  rt = await createTestRuntime({ workers: 1, kvOf: (store) => createKvStore(store.db, 'sqlite', Date.now, { groupCommit: { syncAfterCommit: gate.sync } }) });
  kitchen = await rt.install('kitchen-sink');
});
after(async () => rt?.close());

const put = (key: string) => rt.run(kitchen, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'durable', key, value: 'v' }), grants: [...GRANTS] });
const committed = (key: string) =>
  rt.store.db.selectFrom('kv_entries').select('revision').where('install_id', '=', 'install-tenant-a').where('namespace', '=', 'durable').where('key', '=', key).executeTakeFirst();

test('the guest goes on after its put commits; the answer waits until the write is on disk', async () => {
  let answered = false;
  const first = put('k1').then((out) => ((answered = true), out));
  await gate.called(); // committed, the sync held
  assert.deepEqual(await committed('k1'), { revision: 1 });
  // the guest finished: the one worker has run a later execution to its end
  const later = await rt.run(kitchen, '/noop');
  assert.equal(later.kind, 'ok');
  assert.equal(answered, false, 'answered before its write was on disk');
  gate.release();
  const out = await first;
  assert.equal(out.kind, 'ok');
  assert.equal((bodyJson(out)['ok'] as { revision: string }).revision, '1');
});

test('a write whose sync fails: the execution ends with host_error instead of its answer', async () => {
  const pending = put('k2');
  await gate.called();
  gate.fail('fsync: EIO');
  const out = await pending;
  assert.equal(out.kind, 'fault');
  assert.equal(out.kind === 'fault' && out.code, 'host_error');
  assert.match(out.kind === 'fault' ? out.message : '', /could not be made durable: fsync: EIO/);
});

test("a write whose sync does not return within the execution's deadline: host_error, not a held answer", { timeout: 20_000 }, async () => {
  const pending = rt.run(kitchen, '/kv/put', { method: 'POST', body: JSON.stringify({ ns: 'durable', key: 'k3', value: 'v' }), grants: [...GRANTS], limits: { timeoutMs: 300 } });
  await gate.called();
  const out = await pending; // the sync is released only after the answer
  assert.equal(out.kind, 'fault');
  assert.equal(out.kind === 'fault' && out.code, 'host_error');
  assert.match(out.kind === 'fault' ? out.message : '', /could not be made durable: not on disk within 300 ms/);
  gate.release();
});

test("a call that leaves the runner (http.fetch) waits for the execution's writes to be on disk; one that stays (storage) does not", { timeout: 20_000 }, async () => {
  const events: string[] = [];
  const server: Server = createServer((_req, res) => {
    events.push('request');
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const registry = createCapabilityRegistry({ store: rt.store, tenantData: rt.tenantData, http: { allowPrivate: true } });
    let letGo!: () => void;
    const onDisk = new Promise<void>((resolve) => (letGo = resolve));
    let askedFor!: () => void;
    const asked = new Promise<void>((resolve) => (askedFor = resolve));
    const durable = () => {
      events.push('asked');
      askedFor();
      return onDisk;
    };
    const services: ExecutionServices = { log: () => {}, noteDenied: () => {}, signal: new AbortController().signal, awaitDurable: () => {}, durable };
    const execution: ExecutionView = {
      ctx: { requestId: 'r1', tenantId: 'tenant-a', extensionId: 'ext-1', installId: 'install-tenant-a', versionId: 'ver-1', contentHash: 'x', user: null, config: {} },
      install: { installId: 'install-tenant-a', tenantId: 'tenant-a', extensionId: 'ext-1', versionId: 'ver-1', config: {}, egressAllow: [new URL(url).origin], uiProxy: null },
      grants: new Set(['cap:http.fetch', KV]),
      services,
      states: new Map(),
    };
    const fetched = registry.invoke(execution, 'alga:extension/http', 'fetch', [{ method: 'GET', url, headers: [], body: undefined }]);
    await asked;
    // storage answers while the execution's earlier writes are still not on disk, without asking
    const read = await registry.invoke(execution, 'alga:extension/storage', 'get', ['durable', 'k1']);
    assert.equal(read.kind, 'ok');
    events.push('on disk');
    letGo();
    const answer = await fetched;
    assert.equal(answer.kind, 'ok', JSON.stringify(answer));
    assert.deepEqual(events, ['asked', 'on disk', 'request']);
  } finally {
    server.close();
  }
});
