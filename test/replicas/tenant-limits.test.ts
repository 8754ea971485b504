/**
 * Per-tenant admission across three real replicas (concurrency 2, queue 2 per tenant, two workers
 * each), guests held at a loopback gate so "running" and "waiting" are facts:
 * - with Redis (RUNNER_REDIS_URL, a key prefix of its own): 12 requests spread over the replicas →
 *   exactly 2 run and 2 wait in the whole cluster, 8 get 429; released, the waiting ones run;
 *   /metrics says `global`. A replica killed -9 while running two: its slots come back within the
 *   lease (RUNNER_LIMITER_LEASE_MS) and requests queued on another replica run.
 * - without Redis: the same 12 requests are all admitted (4 per replica: the limits are per
 *   replica), and /metrics says `replica`.
 * Replicas that did not get the upload run the component from seeded artifacts (startCluster `seed`).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, replicaSkipReason, type Cluster, type Replica } from '../support/replicas.js';
import { createInstall, execute, metricsText, metricValue, uploadExample, type Answer, type ErrorBody, type JsonResponse } from '../service/harness.js';
import { gateFetch, openGate, type Gate, type HeldRequest } from '../service/gate.js';
import { TEST_REDIS_URL, dropPrefix, redisClient, redisPrefix, redisSkipReason } from '../support/redis.js';

const skip = (await replicaSkipReason()) || (await redisSkipReason());
const TENANT = 'tenant-limits';
const LEASE_MS = 2000;
const LIMITS = { RUNNER_TENANT_CONCURRENCY: '2', RUNNER_TENANT_QUEUE: '2' };
/** gate arrivals of the warm-up (two per replica) */
const WARM_UP = 6;

const prefix = redisPrefix('replicas');
const redis = skip ? null : redisClient();
after(async () => {
  if (redis) {
    await dropPrefix(redis, prefix);
    await redis.quit();
  }
});

async function setUp(gate: Gate, env: Record<string, string>): Promise<Cluster> {
  const cluster = await startCluster({ replicas: 3, workers: 2, seed: ['kitchen-sink'], env: { ...LIMITS, RUNNER_DEFAULT_TIMEOUT_MS: '30000', ...env } });
  const first = cluster.replicas[0]!;
  await uploadExample(first, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
  await createInstall(first, { tenant_id: TENANT, extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });
  // both workers of every replica load the guest first (two held at once), one replica at a time:
  // a cold load takes seconds on a busy machine, longer than a held guest's fetch may wait
  for (const r of cluster.replicas) {
    const warming = [held(r, gate, `warm-${r.index}-a`), held(r, gate, `warm-${r.index}-b`)];
    for (const h of await takeArrivals(gate, 2)) h.release();
    for (const w of await Promise.all(warming)) assert.equal(w.json.status, 200, `warm-up on replica ${r.index}`);
  }
  return cluster;
}

type Outcome = JsonResponse<Answer & ErrorBody>;

/** A request whose guest fetches the gate (and so runs until the test releases it). */
function held(replica: Replica, gate: Gate, tag: string): Promise<Outcome> {
  return execute<Answer & ErrorBody>(replica, '/fetch', { tenant: TENANT, body: gateFetch(gate, tag), envelope: { context: { tenant_id: TENANT, extension_id: 'kitchen-sink', request_id: tag } } });
}

/** Tracks which of the promises have settled. */
function tracked(promises: Promise<Outcome>[]): { readonly settled: Outcome[]; readonly pending: number } {
  const settled: Outcome[] = [];
  for (const p of promises) void p.then((r) => settled.push(r));
  return {
    settled,
    get pending() {
      return promises.length - settled.length;
    },
  };
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function takeArrivals(gate: Gate, n: number): Promise<HeldRequest[]> {
  const taken: HeldRequest[] = [];
  for (let i = 0; i < n; i++) taken.push(await gate.next());
  return taken;
}

/** Executions waiting for admission across the cluster (each replica's /metrics). */
async function queuedInCluster(cluster: Cluster): Promise<number> {
  let sum = 0;
  for (const r of cluster.replicas) sum += metricValue(await metricsText(r), 'alga_runner_queue_depth');
  return sum;
}

test('with Redis, three replicas share the tenant limit: 2 run + 2 wait in the cluster, 8 × 429; a killed replica gives its slots back within the lease', { skip, timeout: 240_000 }, async () => {
  const gate = await openGate();
  const cluster = await setUp(gate, { RUNNER_REDIS_URL: TEST_REDIS_URL, RUNNER_REDIS_PREFIX: prefix, RUNNER_LIMITER_LEASE_MS: String(LEASE_MS) });
  try {
    for (const r of cluster.replicas) {
      const metrics = await metricsText(r);
      assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { limiter: 'redis', scope: 'global' }), 1, `replica ${r.index} says global`);
      assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { scope: 'replica' }), 0);
    }
    const requests = Array.from({ length: 12 }, (_, i) => held(cluster.replicas[i % 3]!, gate, `r${i}`));
    const seen = tracked(requests);
    const running = await takeArrivals(gate, 2);
    await waitFor(() => seen.settled.length === 8, '8 requests answered');
    await waitFor(async () => (await queuedInCluster(cluster)) === 2, '2 requests waiting in the cluster');
    assert.equal(seen.pending, 4, '2 running + 2 waiting');
    for (const r of seen.settled) {
      assert.equal(r.status, 429);
      assert.equal(r.json.error.code, 'too_many_requests');
    }
    assert.equal(gate.arrived, WARM_UP + 2, 'only two guests run');
    assert.equal(await redis!.zcard(`${prefix}tenant:${TENANT}:slots`), 2);
    assert.equal(await redis!.zcard(`${prefix}tenant:${TENANT}:queue`), 2);

    for (const h of running) h.release();
    const next = await takeArrivals(gate, 2);
    for (const h of next) h.release();
    const answers = (await Promise.all(requests)).filter((r) => r.status === 200);
    assert.equal(answers.length, 4);
    for (const a of answers) assert.equal(a.json.status, 200, 'the guest answered');
    assert.equal(gate.arrived, WARM_UP + 4);
    await waitFor(async () => (await redis!.zcard(`${prefix}tenant:${TENANT}:slots`)) === 0, 'the slots are given back');

    // a replica killed -9 while its two executions hold the tenant's slots
    const [victim, survivor] = [cluster.replicas[0]!, cluster.replicas[1]!];
    const doomed = [held(victim, gate, 'k1'), held(victim, gate, 'k2')];
    for (const d of doomed) d.catch(() => undefined);
    await takeArrivals(gate, 2);
    const waiting = [held(survivor, gate, 'w1'), held(survivor, gate, 'w2')];
    await waitFor(async () => (await redis!.zcard(`${prefix}tenant:${TENANT}:queue`)) === 2, 'the survivor queues both');
    await victim.kill();
    const killedAt = Date.now();
    // documented bound: the lease, plus up to a second until the waiters' replica checks
    const after = await takeArrivals(gate, 2);
    const took = Date.now() - killedAt;
    assert.ok(took <= LEASE_MS + 1000 + 3000, `the dead replica's slots came back after ${took} ms`);
    for (const h of after) h.release();
    for (const w of await Promise.all(waiting)) assert.equal(w.json.status, 200);
  } finally {
    await cluster.close();
    await gate.close();
  }
});

test('without Redis the limits hold per replica: the same 12 requests are all admitted, 4 on each replica; /metrics says replica', { skip, timeout: 240_000 }, async () => {
  const gate = await openGate();
  const cluster = await setUp(gate, {});
  try {
    for (const r of cluster.replicas) {
      const metrics = await metricsText(r);
      assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { limiter: 'local', scope: 'replica' }), 1, `replica ${r.index} says replica`);
      assert.equal(metricValue(metrics, 'alga_runner_admission_scope', { scope: 'global' }), 0);
    }
    const requests = Array.from({ length: 12 }, (_, i) => held(cluster.replicas[i % 3]!, gate, `r${i}`));
    const seen = tracked(requests);
    const running = await takeArrivals(gate, 6);
    await waitFor(async () => (await queuedInCluster(cluster)) === 6, '2 requests waiting on each replica');
    assert.equal(seen.settled.length, 0, 'nothing refused');
    for (const r of cluster.replicas) assert.equal(metricValue(await metricsText(r), 'alga_runner_queue_depth'), 2, `replica ${r.index}: 2 waiting`);
    for (const h of running) h.release();
    for (const h of await takeArrivals(gate, 6)) h.release();
    const answers = await Promise.all(requests);
    assert.deepEqual(
      answers.map((a) => [a.status, a.json.status]),
      Array(12).fill([200, 200]),
    );
  } finally {
    await cluster.close();
    await gate.close();
  }
});
