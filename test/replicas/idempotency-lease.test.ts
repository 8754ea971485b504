/**
 * Idempotency leases across three real replicas on one PostgreSQL schema:
 * - a replica killed -9 while it holds a key: a duplicate waiting on another replica takes the
 *   key over once the dead replica's lease runs out (RUNNER_IDEMPOTENCY_LEASE_MS), runs the
 *   guest once, and answers 200 — no 504; while the holder lives, its renewals keep the key;
 * - expired records (abandoned claims, answers past their TTL) are purged on a schedule.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, guestJson, metricValue, metricsText, uploadExample } from '../service/harness.js';
import { gateFetch, openGate, type Gate } from '../service/gate.js';
import { replicaSkipReason, startCluster, type Cluster } from '../support/replicas.js';

const skip = await replicaSkipReason();
// renewed every third of it: a replica's event loop may stall up to two thirds of a lease (a
// cold start compiles the component on the main thread: warm every replica first)
const LEASE_MS = 3000;

let cluster: Cluster;
let gate: Gate;

before(async () => {
  if (skip) return;
  gate = await openGate();
  cluster = await startCluster({
    replicas: 3,
    seed: ['kitchen-sink'],
    env: { RUNNER_IDEMPOTENCY_LEASE_MS: String(LEASE_MS), RUNNER_IDEMPOTENCY_PURGE_INTERVAL_MS: '400' },
    // replica 0's answers are replayed for one second only: its records expire during the test
    envOf: (i): Record<string, string> => (i === 0 ? { RUNNER_IDEMPOTENCY_TTL_MS: '1000' } : {}),
  });
  const [r0] = cluster.replicas;
  await uploadExample(r0!, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch', 'cap:storage.kv'] });
  await createInstall(r0!, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });
  for (const r of cluster.replicas) assert.equal((await execute(r, '/noop')).json.status, 200);
});
after(async () => {
  await cluster?.close();
  await gate?.close();
});

interface ClaimRow {
  state: string;
  holder: string | null;
  expires_at: string;
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(
  'a replica killed -9 while it holds a key: the duplicate on another replica takes the key over within a few seconds and answers 200; the guest ran once after the crash',
  { skip, timeout: 120_000 },
  async () => {
    const [r0, r1, r2] = cluster.replicas as [(typeof cluster.replicas)[0], (typeof cluster.replicas)[0], (typeof cluster.replicas)[0]];
    const key = 'held-by-a-crashing-replica';
    const claimOf = async () => (await cluster.query<ClaimRow>('select state, holder, expires_at from idempotency where key = $1', [key]))[0];
    const request = (requestId: string) => ({
      body: gateFetch(gate, 'crash'),
      idempotencyKey: key,
      // long enough for the guest to outlive several leases while held
      envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: requestId }, limits: { timeout_ms: 25_000 } },
    });

    const onR1 = execute(r1, '/fetch', request('on-r1')).then(
      (r) => `answered ${r.status}`,
      (e: unknown) => `failed: ${String(e)}`,
    );
    const heldOnR1 = await gate.next(); // the guest runs on r1, holding the key
    void heldOnR1;
    const first = await until(claimOf, 'the claim');
    assert.equal(first.state, 'in-flight');
    assert.ok(first.holder, 'the claim names its holder');

    const onR2 = execute(r2, '/fetch', request('on-r2'));
    await r2.process.line(/"request_id":"on-r2".*"msg":"waiting for an earlier request with the same idempotency key"/);

    // the holder's renewals keep the key past its first lease: nobody took it over, nothing ran twice
    await until(async () => Date.now() > Number(first.expires_at) + LEASE_MS / 2, 'the first lease to run out by the clock');
    const renewed = await claimOf();
    assert.equal(renewed?.holder, first.holder, 'still held by r1');
    assert.ok(Number(renewed?.expires_at) > Number(first.expires_at), 'its lease was renewed');
    assert.equal(gate.arrived, 1, 'the duplicate did not run while r1 held the key');

    await r1.kill();
    const killedAt = Date.now();
    const heldOnR2 = await gate.next(); // the duplicate took the key over and runs the guest
    const tookOverMs = Date.now() - killedAt;
    assert.ok(tookOverMs < LEASE_MS + 5_000, `taken over ${tookOverMs} ms after the crash (lease ${LEASE_MS} ms)`);
    await r2.process.line(/"request_id":"on-r2".*"msg":"claimed the idempotency key after waiting/);
    heldOnR2.release('ran after the crash');

    const answer = await onR2;
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(guestJson<{ ok: { body: string } }>(answer.json).ok.body, 'ran after the crash');
    assert.match(await onR1, /^failed/, 'the crashed replica never answered');
    assert.equal(gate.arrived, 2, 'once on r1 before the crash, once on r2 after it');

    const done = await claimOf();
    assert.equal(done?.state, 'done');
    assert.notEqual(done?.holder, first.holder, 'the record is the new holder’s');
    // the key now replays everywhere, without running again
    const replay = await execute(r0, '/fetch', request('on-r0'));
    assert.deepEqual(replay.json, answer.json);
    assert.equal(gate.arrived, 2);
    await r1.start();
  },
);

test('expired records — abandoned claims and answers past their TTL — are purged on a schedule; live ones stay', { skip, timeout: 60_000 }, async () => {
  const [r0] = cluster.replicas;
  const now = Date.now();
  const insert = 'insert into idempotency (tenant_id, extension_id, key, state, response, ttl_ms, expires_at, fingerprint, holder) values ($1, $2, $3, $4, $5, $6, $7, null, $8)';
  await cluster.query(insert, ['tenant-x', 'ext', 'abandoned-claim', 'in-flight', null, 60_000, now - 1, 'a-dead-process']);
  await cluster.query(insert, ['tenant-x', 'ext', 'old-answer', 'done', '{}', 1000, now - 1, 'a-dead-process']);
  await cluster.query(insert, ['tenant-x', 'ext', 'live-answer', 'done', '{}', 3_600_000, now + 3_600_000, 'a-live-process']);
  // an answer replica 0 stores for one second (its RUNNER_IDEMPOTENCY_TTL_MS)
  const put = await execute(r0!, '/kv/put', { body: { ns: 'purge', key: 'k', value: 'v' }, idempotencyKey: 'short-lived' });
  assert.equal(put.status, 200);
  assert.equal((await cluster.query('select key from idempotency where key = $1', ['short-lived'])).length, 1);

  const keys = async () => (await cluster.query<{ key: string }>(`select key from idempotency where tenant_id = 'tenant-x' or key = 'short-lived' order by key`)).map((r) => r.key);
  await until(async () => {
    const left = await keys();
    return left.length === 1 && left[0] === 'live-answer';
  }, 'the expired records to be purged');
  assert.deepEqual(await keys(), ['live-answer']);

  const counted = await Promise.all(cluster.replicas.map(async (r) => metricValue(await metricsText(r), 'alga_runner_idempotency_records_purged_total')));
  assert.ok(counted.reduce((a, b) => a + b, 0) >= 3, `purged counts ${counted.join(', ')}`);
  assert.ok(
    cluster.replicas.some((r) => r.process.lines.some((l) => /"purged":[1-9]\d*.*"msg":"expired idempotency records purged"/.test(l))),
    'a replica logged what it purged',
  );
});
