/**
 * The renewal loop (service/lease-renewal.ts) and the purge schedule (service/purge-schedule.ts)
 * over a real store (SQLite) and real timers: renewal keeps a claim past its lease, a claim taken
 * over is reported lost once; a purge that fails is reported and the schedule goes on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { renewWhileRunning } from '../../src/service/lease-renewal.js';
import { schedulePurge } from '../../src/service/purge-schedule.js';

// long enough that a renewal (every third of it) delayed by a busy machine's fsyncs still lands in time
const LEASE_MS = 1000;
const dataDir = mkdtempSync(join(tmpdir(), 'lease-renewal-'));
let holder: Store;
let other: Store;

before(async () => {
  holder = await openStore({ dataDir, idempotencyHolder: 'holder' });
  other = await openStore({ dataDir, idempotencyHolder: 'other' });
});
after(async () => {
  await holder?.close();
  await other?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('renewal keeps a claim for several leases; once stopped, the claim runs out and another holder takes it; a renewal of a taken claim reports it lost, once', async () => {
  const scope = { tenant: 't', extension: 'e', key: 'renewed' };
  assert.deepEqual(await holder.idempotency.claim(scope, 60_000, { leaseMs: LEASE_MS }), { kind: 'claimed' });
  const events: string[] = [];
  const renewal = renewWhileRunning(holder.idempotency, scope, LEASE_MS, { lost: () => events.push('lost'), failed: (e) => events.push(`failed ${String(e)}`) });
  const started = Date.now();
  while (Date.now() < started + 3 * LEASE_MS) {
    assert.deepEqual(await other.idempotency.claim(scope, 60_000, { leaseMs: LEASE_MS }), { kind: 'in-flight' }, `${Date.now() - started} ms after the claim`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await renewal.stop();
  assert.deepEqual(events, []);

  await until(async () => (await other.idempotency.claim(scope, 60_000, { leaseMs: 60_000 })).kind === 'claimed', 'the lease to run out and the other holder to take over');
  const staleEvents: string[] = [];
  const stale = renewWhileRunning(holder.idempotency, scope, LEASE_MS, { lost: () => staleEvents.push('lost'), failed: (e) => staleEvents.push(`failed ${String(e)}`) });
  await until(() => staleEvents.length > 0, 'the lost claim to be reported');
  await new Promise((r) => setTimeout(r, LEASE_MS));
  await stale.stop();
  assert.deepEqual(staleEvents, ['lost'], 'reported once, then renewal stopped');
  assert.equal(await holder.idempotency.complete(scope, 'stale'), false);
  assert.equal(await other.idempotency.complete(scope, 'new'), true);
});

test('a failing purge is reported and the schedule goes on; waits are jittered between half and one and a half intervals; stop() ends it', async () => {
  const outcomes: string[] = [];
  const calls: number[] = [];
  let n = 0;
  const randoms = [0, 0.999, 0.5];
  const schedule = schedulePurge(
    async () => {
      calls.push(Date.now());
      if (++n === 2) throw new Error('database away');
      return n;
    },
    40,
    { purged: (count) => outcomes.push(`purged ${count}`), failed: (e) => outcomes.push(`failed: ${(e as Error).message}`) },
    () => randoms[(n + randoms.length) % randoms.length]!,
  );
  await until(() => outcomes.length >= 4, 'four purges');
  await schedule.stop();
  const settled = outcomes.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(outcomes.length, settled, 'nothing runs after stop()');
  assert.deepEqual(outcomes.slice(0, 4), ['purged 1', 'failed: database away', 'purged 3', 'purged 4']);
  // first wait 40 × (0.5 + 0) = 20 ms ... second 40 × (0.5 + 0.999) ≈ 60 ms: the jitter is applied
  const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
  assert.ok(gaps[0]! >= 55, `the long wait was ${gaps[0]} ms`);
});

test('an interval of 0 never purges', async () => {
  let ran = false;
  const schedule = schedulePurge(
    async () => {
      ran = true;
      return 0;
    },
    0,
    { purged: () => undefined, failed: () => undefined },
  );
  await new Promise((r) => setTimeout(r, 50));
  await schedule.stop();
  assert.equal(ran, false);
});
