/**
 * Idempotency keys on `POST /v1/execute` on the embedded store: a replay returns
 * the stored answer without running the guest again, keys are scoped by (tenant, extension, key),
 * a duplicate arriving while the first runs waits for it, and stored answers outlive a restart.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstall, execute, guestJson, startTestService, uploadExample, type Answer, type Registered, type TestService } from './harness.js';
import { gateFetch, openGate, type Gate } from './gate.js';

const dataDir = mkdtempSync(join(tmpdir(), 'svc-idem-'));
let svc: TestService;
let gate: Gate;
let kitchen: Registered;

before(async () => {
  gate = await openGate();
  svc = await startTestService({ dataDir });
  kitchen = await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:http.fetch'] });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink-twin', capabilities: ['cap:storage.kv'] });
  for (const tenant of ['tenant-a', 'tenant-b']) await createInstall(svc, { tenant_id: tenant, extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });
  await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink-twin' });
});
after(async () => {
  await svc.close();
  await gate.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Entry {
  ok: { namespace: string; key: string; value: string; revision: string };
}

const contextWith = (requestId: string, tenant = 'tenant-a', extension = 'kitchen-sink') => ({ context: { tenant_id: tenant, extension_id: extension, request_id: requestId } });
const requestIdSeen = (answer: Answer) => guestJson<{ ok: { requestId: string } }>(answer).ok.requestId;

test('the same key replays the stored answer; the guest ran once', async () => {
  const put = { ns: 'idem', key: 'k', value: 'v' };
  const first = await execute(svc, '/kv/put', { body: put, idempotencyKey: 'put-1' });
  assert.equal(guestJson<Entry>(first.json).ok.revision, '1');
  const replay = await execute(svc, '/kv/put', { body: put, idempotencyKey: 'put-1' });
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.json, first.json, 'the replay is the stored answer, byte for byte');
  const read = await execute(svc, '/kv/get', { query: { ns: 'idem', key: 'k' } });
  assert.equal(guestJson<Entry>(read.json).ok.revision, '1', 'one write only');
  const other = await execute(svc, '/kv/put', { body: put, idempotencyKey: 'put-2' });
  assert.equal(guestJson<Entry>(other.json).ok.revision, '2', 'a new key runs');
});

test('keys are scoped by (tenant, extension, key); an extension named by id or by name is one scope', async () => {
  const key = 'scoped';
  assert.equal(requestIdSeen((await execute(svc, '/context', { idempotencyKey: key, envelope: contextWith('r1') })).json), 'r1');
  assert.equal(requestIdSeen((await execute(svc, '/context', { idempotencyKey: key, envelope: contextWith('r2') })).json), 'r1', 'replayed');
  assert.equal(requestIdSeen((await execute(svc, '/context', { idempotencyKey: key, envelope: contextWith('r3', 'tenant-a', kitchen.extension_id) })).json), 'r1', 'same extension by id: replayed');
  assert.equal(requestIdSeen((await execute(svc, '/context', { tenant: 'tenant-b', idempotencyKey: key, envelope: contextWith('r4', 'tenant-b') })).json), 'r4', 'another tenant runs');
  assert.equal(requestIdSeen((await execute(svc, '/context', { idempotencyKey: key, envelope: contextWith('r5', 'tenant-a', 'kitchen-sink-twin') })).json), 'r5', 'another extension runs');
});

test('a duplicate arriving while the first runs waits for it; the guest runs once', async () => {
  const fetchGate = { body: gateFetch(gate, 'concurrent'), idempotencyKey: 'concurrent-1' };
  const arrivedBefore = gate.arrived;
  const first = execute(svc, '/fetch', { ...fetchGate, envelope: contextWith('dup-1') });
  const held = await gate.next(); // the first execution is inside the guest now
  const second = execute(svc, '/fetch', { ...fetchGate, envelope: contextWith('dup-2') });
  const waitLine = await svc.logLine((l) => l.msg === 'waiting for an earlier request with the same idempotency key' && l.request_id === 'dup-2');
  assert.equal(waitLine.idempotency_key, 'concurrent-1');
  held.release('the one and only answer');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200);
  assert.deepEqual(b.json, a.json);
  assert.equal(guestJson<{ ok: { body: string } }>(a.json).ok.body, 'the one and only answer');
  assert.equal(gate.arrived - arrivedBefore, 1, 'the guest fetched once: it ran once');
});

test('a fault is stored and replayed like any answer', async () => {
  const first = await execute(svc, '/throw', { idempotencyKey: 'fault-1', envelope: contextWith('f1') });
  assert.equal(first.json.error, 'guest_trap');
  const replay = await execute(svc, '/throw', { idempotencyKey: 'fault-1', envelope: contextWith('f2') });
  assert.deepEqual(replay.json, first.json);
});

test('stored answers survive a restart of the service', async () => {
  const before = await execute(svc, '/context', { idempotencyKey: 'durable', envelope: contextWith('before-restart') });
  await svc.close();
  svc = await startTestService({ dataDir });
  const after = await execute(svc, '/context', { idempotencyKey: 'durable', envelope: contextWith('after-restart') });
  assert.deepEqual(after.json, before.json);
  assert.equal(requestIdSeen(after.json), 'before-restart');
});

interface Refusal {
  error: { code: string; message: string };
}

test('a key reused for a different request is refused with 422 idempotency_key_reused; nothing runs', async () => {
  const put = { ns: 'idem-bound', key: 'k', value: 'v' };
  const first = await execute(svc, '/kv/put', { body: put, idempotencyKey: 'bound-1', envelope: contextWith('b1') });
  assert.equal(guestJson<Entry>(first.json).ok.revision, '1');
  const variants: [string, Parameters<typeof execute>[2]][] = [
    ['another body', { body: { ...put, value: 'other' } }],
    ['another method', { body: put, method: 'PUT' }],
    ['another query', { body: put, query: { extra: '1' } }],
    ['another user', { body: put, envelope: { ...contextWith('b2'), user: { user_id: 'someone-else' } } }],
    ['another config', { body: put, envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', config: { mode: 'x' } } } }],
  ];
  for (const [label, options] of variants) {
    const r = await execute<Refusal>(svc, '/kv/put', { ...options, idempotencyKey: 'bound-1' });
    assert.equal(r.status, 422, `${label}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.error.code, 'idempotency_key_reused');
    assert.match(r.json.error.message, /bound-1.*different request \(answered\)/);
  }
  const otherPath = await execute<Refusal>(svc, '/kv/get', { query: { ns: 'idem-bound', key: 'k' }, idempotencyKey: 'bound-1' });
  assert.equal(otherPath.status, 422);
  assert.equal(otherPath.json.error.code, 'idempotency_key_reused');
  const replay = await execute(svc, '/kv/put', { body: put, idempotencyKey: 'bound-1', envelope: contextWith('b3') });
  assert.deepEqual(replay.json, first.json, 'the same request (another request id) still replays');
  const read = await execute(svc, '/kv/get', { query: { ns: 'idem-bound', key: 'k' } });
  assert.equal(guestJson<Entry>(read.json).ok.revision, '1', 'none of the refused requests ran');
});

test('a key reused for a different request while the first still runs is refused at once', async () => {
  const arrivedBefore = gate.arrived;
  const first = execute(svc, '/fetch', { body: gateFetch(gate, 'bound-in-flight'), idempotencyKey: 'bound-2', envelope: contextWith('bf-1') });
  const held = await gate.next();
  const other = await execute<Refusal>(svc, '/fetch', { body: gateFetch(gate, 'something else'), idempotencyKey: 'bound-2', envelope: contextWith('bf-2') });
  assert.equal(other.status, 422);
  assert.equal(other.json.error.code, 'idempotency_key_reused');
  assert.match(other.json.error.message, /still running/);
  held.release('first');
  assert.equal(guestJson<{ ok: { body: string } }>((await first).json).ok.body, 'first');
  assert.equal(gate.arrived - arrivedBefore, 1, 'only the first request ran');
});
