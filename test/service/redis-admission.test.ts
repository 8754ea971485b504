/**
 * The Redis limiter (src/service/redis-admission.ts) against the real Redis, several limiters in
 * one process standing for replicas (each with its own connections), a key prefix per test:
 * limits and queue across limiters, FIFO hand-over across limiters woken by pub/sub (the periodic
 * check is set far out of reach), release exactly once, a crashed holder's slots back after its
 * lease (a child process killed -9), a release that cannot reach Redis ended by the lease, and
 * Redis going away (a cut proxy): local limits, bounded waits.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Admission } from '../../src/service/admission.js';
import { RedisAdmission, type RedisAdmissionOptions } from '../../src/service/redis-admission.js';
import { TEST_REDIS_URL, dropPrefix, redisClient, redisPrefix, redisSkipReason } from '../support/redis.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const skip = await redisSkipReason();
const client = skip ? null : redisClient();
const limiters: RedisAdmission[] = [];
const prefixes: string[] = [];
after(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  if (client) {
    for (const p of prefixes) await dropPrefix(client, p);
    await client.quit();
  }
});

const LIMITS = { perTenant: 2, tenantQueue: 2, globalQueue: 100 };
/** the periodic check far out of reach: what wakes a waiter in these tests is the pub/sub message */
const NO_TICK = 600_000;

function prefixFor(tag: string): string {
  const p = redisPrefix(tag);
  prefixes.push(p);
  return p;
}

async function limiter(prefix: string, options: Partial<RedisAdmissionOptions> = {}): Promise<RedisAdmission> {
  const l = new RedisAdmission({ url: TEST_REDIS_URL, prefix, limits: LIMITS, leaseMs: 10_000, tickMs: NO_TICK, ...options });
  limiters.push(l);
  assert.ok(await l.ready(5000), 'the limiter reaches Redis');
  return l;
}

/** the promise's value, or a failure naming `what` once `ms` have passed */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** whether the promise has settled once pending I/O callbacks have run */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

async function count(prefix: string, tenant: string, set: 'slots' | 'queue'): Promise<number> {
  return client!.zcard(`${prefix}tenant:${tenant}:${set}`);
}

function admitted(a: Admission): Extract<Admission, { kind: 'admitted' }> {
  assert.equal(a.kind, 'admitted');
  return a as Extract<Admission, { kind: 'admitted' }>;
}

test('three limiters share one tenant limit: 2 run, 2 wait, 8 are refused; another tenant is not affected', { skip }, async () => {
  const prefix = prefixFor('limits');
  const replicas = [await limiter(prefix), await limiter(prefix), await limiter(prefix)];
  const queuedSeen: number[] = [];
  const all = Array.from({ length: 12 }, (_, i) => replicas[i % 3]!.admit('t', { onQueued: () => queuedSeen.push(i) }));
  // the 10 decided at once (2 admitted, 8 refused) settle; the 2 queued stay pending
  const decided: Admission[] = [];
  const pending: Promise<Admission>[] = [];
  for (const p of all) {
    if (await settledWithin(p)) decided.push(await p);
    else pending.push(p);
  }
  assert.equal(decided.filter((a) => a.kind === 'admitted').length, 2);
  assert.deepEqual(
    decided.filter((a) => a.kind === 'rejected').map((a) => (a.kind === 'rejected' ? a.reason : '')),
    Array(8).fill('tenant_busy'),
  );
  assert.equal(pending.length, 2);
  assert.equal(queuedSeen.length, 2, 'onQueued told for each waiter');
  assert.equal(await count(prefix, 't', 'slots'), 2);
  assert.equal(await count(prefix, 't', 'queue'), 2);
  assert.equal(
    replicas.reduce((n, r) => n + r.queued, 0),
    2,
  );
  assert.equal(replicas[0]!.scope, 'global');

  const other = await replicas[0]!.admit('other');
  assert.equal(other.kind, 'admitted', 'another tenant has its own slots');
  admitted(other).release();

  // release both: the two waiters run
  for (const a of decided) if (a.kind === 'admitted') a.release();
  const woken = await within(Promise.all(pending), 5000, 'the waiters are admitted');
  assert.deepEqual(
    woken.map((a) => a.kind),
    ['admitted', 'admitted'],
  );
  assert.equal(await count(prefix, 't', 'queue'), 0);
  for (const a of woken) admitted(a).release();
  await waitFor(async () => (await count(prefix, 't', 'slots')) === 0, 'the slots are given back');
});

/** settles once Redis has answered the admission (answers for decided ones come back within a few ms) */
async function settledWithin(p: Promise<Admission>): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('waiters are admitted in arrival order across limiters, woken by the release (pub/sub), one slot at a time', { skip }, async () => {
  const prefix = prefixFor('fifo');
  const limits = { ...LIMITS, perTenant: 1, tenantQueue: 3 };
  const [x, y, z] = [await limiter(prefix, { limits }), await limiter(prefix, { limits }), await limiter(prefix, { limits })];
  const first = admitted(await x.admit('t'));
  // queued one after the other, on different limiters: z first, then x, then y
  const order: string[] = [];
  const wz = z.admit('t').then((r) => (order.push('z'), r));
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 1, 'z queued');
  const wx = x.admit('t').then((r) => (order.push('x'), r));
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 2, 'x queued');
  const wy = y.admit('t').then((r) => (order.push('y'), r));
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 3, 'y queued');

  first.release();
  const gotZ = admitted(await within(wz, 3000, 'the first waiter is woken by the release'));
  assert.equal(await settled(wx), false, 'only one slot: the second waiter still waits');
  assert.equal(await count(prefix, 't', 'queue'), 2);
  gotZ.release();
  const gotX = admitted(await within(wx, 3000, 'the second waiter'));
  assert.equal(await settled(wy), false);
  gotX.release();
  admitted(await within(wy, 3000, 'the third waiter')).release();
  assert.deepEqual(order, ['z', 'x', 'y']);
});

test('a newcomer does not pass the queue while a freed slot is on its way to a waiter', { skip }, async () => {
  const prefix = prefixFor('newcomer');
  const limits = { ...LIMITS, perTenant: 1, tenantQueue: 1 };
  const [x, y] = [await limiter(prefix, { limits }), await limiter(prefix, { limits })];
  const holder = admitted(await x.admit('t'));
  const waiter = y.admit('t');
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 1, 'queued');
  // the slot freed in Redis directly, with no wake-up: the waiter has not claimed it yet
  await client!.zrem(`${prefix}tenant:t:slots`, (await client!.zrange(`${prefix}tenant:t:slots`, 0, -1))[0]!);
  const newcomer = await x.admit('t');
  assert.deepEqual(newcomer, { kind: 'rejected', reason: 'tenant_busy' }, 'the queue is full and goes first');
  // the newcomer's attempt published the wake-up again: the waiter takes the free slot
  admitted(await within(waiter, 3000, 'the waiter takes the freed slot')).release();
  holder.release();
});

test('release gives the slot back once, however often it is called; close gives back what a limiter still holds', { skip }, async () => {
  const prefix = prefixFor('release');
  const l = await limiter(prefix);
  const a = admitted(await l.admit('t'));
  const b = admitted(await l.admit('t'));
  assert.equal(await count(prefix, 't', 'slots'), 2);
  a.release();
  a.release();
  a.release();
  await waitFor(async () => (await count(prefix, 't', 'slots')) === 1, 'one slot back');
  admitted(await l.admit('t'));
  assert.equal(await count(prefix, 't', 'slots'), 2, 'the repeated releases did not free the other holder');
  void b;
  // a limiter closing (its process shutting down) gives back its slots and queue places
  const other = await limiter(prefix);
  const waiting = other.admit('t');
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 1, 'queued');
  await l.close();
  const got = admitted(await within(waiting, 3000, 'a waiter takes a slot the closed limiter gave back'));
  assert.equal(await count(prefix, 't', 'slots'), 1, "the closed limiter's two slots are back; the waiter took one");
  got.release();
});

test("a crashed holder's slots come back when its lease runs out; waiters elsewhere then run", { skip, timeout: 30_000 }, async () => {
  const prefix = prefixFor('crash');
  const leaseMs = 1500;
  const script = fileURLToPath(new URL('../support/admission-holder.js', import.meta.url));
  const child = spawn(process.execPath, [script, TEST_REDIS_URL, prefix, 't', '2', String(leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await within(once(createInterface({ input: child.stdout! }), 'line'), 10_000, 'the holder holds its slots')) as [string];
  assert.equal(line, 'held 2');
  // a live holder's lease is renewed: still held after more than a lease
  await new Promise((r) => setTimeout(r, leaseMs + 500));
  assert.equal(await count(prefix, 't', 'slots'), 2, 'renewed while its process lives');

  const l = await limiter(prefix, { leaseMs, tickMs: 300 });
  const waiter = l.admit('t');
  await waitFor(async () => (await count(prefix, 't', 'queue')) === 1, 'queued behind the holder');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  // documented bound: the lease, plus one periodic check of the waiter's limiter
  const got = admitted(await within(waiter, leaseMs + 300 + 2000, "the waiter gets a dead holder's slot"));
  assert.ok(Date.now() - killedAt > 0);
  assert.equal(await count(prefix, 't', 'slots'), 1, "both of the dead holder's slots are gone; the waiter holds one");
  got.release();
});

test('Redis unreachable from the start: admissions are decided at once under per-replica limits; Redis back: global again', { skip }, async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  try {
    await proxy.cut();
    const prefix = prefixFor('down');
    const l = new RedisAdmission({ url: `redis://127.0.0.1:${proxy.port}`, prefix, limits: LIMITS, leaseMs: 10_000, tickMs: 200 });
    limiters.push(l);
    assert.equal(await l.ready(300), false);
    assert.equal(l.scope, 'replica');
    const started = Date.now();
    const all = Array.from({ length: 5 }, () => l.admit('t'));
    const decided = await Promise.all(all.map(settledWithin));
    assert.deepEqual(decided, [true, true, false, false, true], 'two run, two wait (locally), one refused — without waiting on Redis');
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(await all[4], { kind: 'rejected', reason: 'tenant_busy' });
    assert.equal(l.fallbacks, 5);
    assert.equal(l.queued, 2);
    admitted(await all[0]!).release();
    admitted(await within(all[2]!, 1000, 'a local waiter takes the freed local slot')).release();

    await proxy.restore();
    await waitFor(async () => l.scope === 'global', 'the limiter reconnects', 10_000);
    admitted(await l.admit('u'));
    assert.equal(await count(prefix, 'u', 'slots'), 1, 'admissions are counted in Redis again');
  } finally {
    await proxy.close();
  }
});

test('Redis going away while requests wait in its queue: they move to the local limits within a tick', { skip }, async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  try {
    const prefix = prefixFor('away');
    const limits = { ...LIMITS, perTenant: 1, tenantQueue: 2 };
    const direct = await limiter(prefix, { limits });
    const proxied = await limiter(prefix, { limits, url: `redis://127.0.0.1:${proxy.port}`, tickMs: 200 });
    const holder = admitted(await direct.admit('t'));
    const waiter = proxied.admit('t');
    await waitFor(async () => (await count(prefix, 't', 'queue')) === 1, 'queued in Redis');
    await proxy.cut();
    // this replica's local limiter has no execution of the tenant: the waiter runs under it
    admitted(await within(waiter, 200 + 2000, 'the waiter is decided locally once Redis is gone'));
    assert.equal(proxied.scope, 'replica');
    assert.ok(proxied.fallbacks >= 1);
    holder.release();
  } finally {
    await proxy.close();
  }
});

test('a release that cannot reach Redis leaves the slot to its lease: it is back within the lease, not leaked', { skip, timeout: 30_000 }, async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
  try {
    const prefix = prefixFor('release-unreachable');
    const leaseMs = 1500;
    const limits = { ...LIMITS, perTenant: 1, tenantQueue: 1 };
    const proxied = await limiter(prefix, { limits, leaseMs, url: `redis://127.0.0.1:${proxy.port}`, tickMs: 300 });
    const direct = await limiter(prefix, { limits, leaseMs, tickMs: 300 });
    const slot = admitted(await proxied.admit('t'));
    await proxy.cut();
    slot.release(); // the leave script cannot be sent: no exception, no renewal either
    assert.equal(await count(prefix, 't', 'slots'), 1, 'still held in Redis');
    const waiter = direct.admit('t');
    admitted(await within(waiter, leaseMs + 300 + 2000, 'the unreleased slot comes back with its lease')).release();
  } finally {
    await proxy.close();
  }
});

test("the global queue stays per replica: past this limiter's own waiters a request that would wait is 503 overloaded", { skip }, async () => {
  const prefix = prefixFor('global-queue');
  const limits = { perTenant: 1, tenantQueue: 5, globalQueue: 1 };
  const [x, y] = [await limiter(prefix, { limits }), await limiter(prefix, { limits })];
  const a = admitted(await x.admit('a'));
  const b = admitted(await x.admit('b'));
  const waiting = x.admit('a');
  await waitFor(async () => (await count(prefix, 'a', 'queue')) === 1, 'queued');
  assert.deepEqual(await x.admit('b'), { kind: 'rejected', reason: 'overloaded' }, "this limiter's global queue (1) is full");
  const elsewhere = y.admit('b');
  await waitFor(async () => (await count(prefix, 'b', 'queue')) === 1, 'another replica still queues: its global queue is its own');
  a.release();
  b.release();
  admitted(await within(waiting, 3000, 'the waiter of a')).release();
  admitted(await within(elsewhere, 3000, 'the waiter of b')).release();
});
