/**
 * A runner process (`alga-runner serve` on PostgreSQL) survives its database restarting under
 * load. A private cluster (test/support/private-postgres.ts) is restarted with `pg_ctl restart -m
 * fast` — which terminates every session, in use or idle, with 57P01 — and stopped and started
 * again with requests made while it is down. Throughout, concurrent clients write to storage
 * through the kitchen-sink guest and read the admin API.
 *
 * Asserted: the process never dies; every answer is a success, a guest answer, or 503
 * `store_unavailable` with Retry-After; /readyz is 503 while the database is down and 200 once it
 * is back, without restarting the runner; every write the runner acknowledged is in the database
 * with the value acknowledged. Every wait polls a condition and is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SECRETS_KEY, admin, createInstall, execute, guestJson, metricValue, metricsText, seedArtifacts, uploadExample, type Answer, type ErrorBody, type JsonResponse } from './harness.js';
import { cleanEnv, startCli, type CliProcess } from './cli-process.js';
import { privatePostgresSkipReason, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';

const skip = privatePostgresSkipReason();

const SERVICE_TOKEN = 'restart-test-service-token';
const ADMIN_TOKEN = 'restart-test-admin-token-1234';
const WRITERS = 6;
const FAST_RESTARTS = 3;
const OUTAGES = 2;

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

interface Tally {
  /** puts the runner acknowledged (the guest got `ok` from storage.put) */
  acknowledged: Map<string, string>;
  /** puts sent while the database was known to be down that were acknowledged anyway (must stay empty) */
  acknowledgedInOutage: string[];
  /** puts the guest saw fail (storage.put answered `internal`): not acknowledged */
  guestErrors: number;
  /** 503 store_unavailable with Retry-After */
  unavailable: number;
  /** admin reads answered 200 */
  adminOk: number;
  /** anything else: wrong status, missing Retry-After, a fault, no answer at all */
  unexpected: string[];
}

/** A 503 store_unavailable with a Retry-After header; else a description of what it was. */
function storeUnavailable(r: JsonResponse<unknown>): true | string {
  const code = (r.json as ErrorBody | null)?.error?.code;
  if (r.status === 503 && code === 'store_unavailable' && Number(r.headers.get('retry-after')) > 0) return true;
  return `${r.status} ${JSON.stringify(r.json)} retry-after=${r.headers.get('retry-after')}`;
}

test('the runner survives PostgreSQL restarts under load: 503 store_unavailable meanwhile, recovery by itself, no acknowledged write lost', { skip, timeout: 120_000 }, async (t) => {
  const started = Date.now();
  let cluster: PrivatePostgres | undefined;
  let runner: CliProcess | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'svc-pg-restart-'));
  let stopping = false;
  const loops: Promise<void>[] = [];
  try {
    cluster = await startPrivatePostgres();
    const db = cluster;
    await seedArtifacts(dataDir, ['kitchen-sink']);
    runner = startCli(
      ['serve', '--port', '0', '--data-dir', dataDir, '--database-url', db.url, '--workers', '2'],
      cleanEnv({ RUNNER_SERVICE_TOKEN: SERVICE_TOKEN, RUNNER_ADMIN_TOKEN: ADMIN_TOKEN, RUNNER_SECRETS_KEY: SECRETS_KEY, RUNNER_WARM_ON_START: '0', LOG_LEVEL: 'warn' }),
    );
    const proc = runner;
    const url = (await proc.line(/alga-runner listening on (http:\/\/\S+)$/))[1]!;
    const svc = { url, serviceToken: SERVICE_TOKEN, adminToken: ADMIN_TOKEN };
    const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
    /** `until`, failing at once (with the runner's output) if the runner has died */
    const waitFor = (what: string, condition: () => boolean | Promise<boolean>) =>
      until(what, () => {
        if (!alive()) throw new Error(`the runner died while waiting for ${what}:\n${proc.lines.join('\n')}`);
        return condition();
      });
    const readyz = async () => (await fetch(`${url}/readyz`)).status;

    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] });
    const installId = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });

    const tally: Tally = { acknowledged: new Map(), acknowledgedInOutage: [], guestErrors: 0, unavailable: 0, adminOk: 0, unexpected: [] };
    /** when /readyz was first seen 503 in the current outage; null while the database is up */
    let outageSince: number | null = null;
    const backOff = () => new Promise((resolve) => setTimeout(resolve, 20));

    const writer = async (w: number) => {
      for (let n = 0; !stopping; n++) {
        const key = `w${w}-${n}`;
        const value = `${key}-${randomBytes(6).toString('hex')}`;
        let r: JsonResponse<Answer>;
        const sentAt = performance.now();
        try {
          r = await execute(svc, '/kv/put', { body: { ns: 'load', key, value } });
        } catch (e) {
          tally.unexpected.push(`put ${key}: no answer (${String((e as { cause?: unknown }).cause ?? e)})`);
          await backOff();
          continue;
        }
        if (r.status === 200 && r.json.status === 200) {
          const body = guestJson<{ ok?: unknown; err?: string }>(r.json);
          if (body.ok !== undefined) {
            tally.acknowledged.set(key, value);
            if (outageSince !== null && sentAt > outageSince) tally.acknowledgedInOutage.push(key);
          } else if (body.err === 'internal') tally.guestErrors++;
          else tally.unexpected.push(`put ${key}: guest answered ${JSON.stringify(body)}`);
          continue;
        }
        const refused = storeUnavailable(r);
        if (refused === true) tally.unavailable++;
        else tally.unexpected.push(`put ${key}: ${refused}`);
        await backOff();
      }
    };
    const reader = async () => {
      while (!stopping) {
        let r: JsonResponse;
        try {
          r = await admin(svc, 'GET', '/admin/v1/installs');
        } catch (e) {
          tally.unexpected.push(`admin read: no answer (${String((e as { cause?: unknown }).cause ?? e)})`);
          await backOff();
          continue;
        }
        if (r.status === 200) {
          tally.adminOk++;
          continue;
        }
        const refused = storeUnavailable(r);
        if (refused === true) tally.unavailable++;
        else tally.unexpected.push(`admin read: ${refused}`);
        await backOff();
      }
    };
    for (let w = 0; w < WRITERS; w++) loops.push(writer(w));
    loops.push(reader());

    const connectionErrors = async () => metricValue(await metricsText(svc), 'alga_runner_store_connection_errors_total');
    const acknowledgedMore = async (than: number, what: string) => waitFor(what, () => tally.acknowledged.size >= than + 10);
    await acknowledgedMore(0, 'the first acknowledged writes');

    // fast restarts: the server terminates every session, including those in the middle of a put
    let restarts = 0;
    for (let i = 0; i < FAST_RESTARTS; i++) {
      const before = { acks: tally.acknowledged.size, errors: await connectionErrors() };
      await db.restart();
      restarts++;
      assert.ok(alive(), `the runner died in fast restart ${i + 1}:\n${proc.lines.join('\n')}`);
      await waitFor('/readyz 200 after a fast restart', async () => (await readyz()) === 200);
      await acknowledgedMore(before.acks, `writes acknowledged after fast restart ${i + 1}`);
      assert.ok((await connectionErrors()) > before.errors, 'the runner saw its connections terminated');
    }

    // outages: requests made while the database is down are refused as retryable
    let outageRefusals = 0;
    for (let i = 0; i < OUTAGES; i++) {
      await db.stop();
      restarts++;
      await waitFor('pg_isready to say the server is down', async () => !(await db.isReady()));
      await waitFor('/readyz 503 while the database is down', async () => (await readyz()) === 503);
      outageSince = performance.now();
      // the load keeps going through the outage: wait until it has been answered during it
      // (refused with 503, or run with storage answering `internal` while the install is cached)
      const refusedBefore = tally.unavailable + tally.guestErrors;
      await waitFor('answers to the load during the outage', () => tally.unavailable + tally.guestErrors >= refusedBefore + 5);

      // requests that need the database now: the admin API, and an execution whose idempotency key must be claimed
      assert.equal(storeUnavailable(await admin(svc, 'GET', '/admin/v1/installs')), true);
      assert.equal(storeUnavailable(await execute(svc, '/kv/put', { body: { ns: 'outage', key: `k${i}`, value: 'v' }, idempotencyKey: `outage-${i}` })), true);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { store: boolean }).store, false);
      outageRefusals += 2;
      assert.ok(alive(), `the runner died during outage ${i + 1}`);
      assert.deepEqual(tally.acknowledgedInOutage, [], 'no write sent while the database is down is acknowledged');

      const acks = tally.acknowledged.size;
      outageSince = null;
      await db.start();
      await waitFor('/readyz 200 once the database is back', async () => (await readyz()) === 200);
      await acknowledgedMore(acks, `writes acknowledged after outage ${i + 1}`);
    }

    stopping = true;
    await Promise.all(loops);
    assert.ok(alive(), `the runner died:\n${proc.lines.join('\n')}`);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.deepEqual(tally.unexpected, [], 'every answer was a success, a guest answer or 503 store_unavailable');
    assert.equal(proc.lines.filter((l) => /unhandled|uncaught/i.test(l)).length, 0, `no unhandled errors:\n${proc.lines.join('\n')}`);

    // every acknowledged write is there, with its value (keys are never written twice)
    const client = new pg.Client(db.url);
    await client.connect();
    let stored: Map<string, string>;
    try {
      const rows = await client.query<{ key: string; value: Buffer }>(`select key, value from kv_entries where install_id = $1 and namespace = 'load'`, [installId]);
      stored = new Map(rows.rows.map((r) => [r.key, r.value.toString('utf8')]));
    } finally {
      await client.end();
    }
    const lost = [...tally.acknowledged].filter(([key, value]) => stored.get(key) !== value);
    assert.deepEqual(lost, [], 'acknowledged writes missing or changed');
    // and the guest reads them back through the runner
    for (const [key, value] of [...tally.acknowledged].slice(-3)) {
      const got = await execute(svc, '/kv/get', { query: { ns: 'load', key } });
      assert.equal(guestJson<{ ok: { value: string } }>(got.json).ok.value, value);
    }

    t.diagnostic(
      `restarts ${restarts} (${FAST_RESTARTS} fast, ${OUTAGES} stop/start); acknowledged writes ${tally.acknowledged.size}, lost ${lost.length}; ` +
        `guest-side storage errors ${tally.guestErrors}; 503 store_unavailable ${tally.unavailable + outageRefusals}; admin reads ok ${tally.adminOk}; ` +
        `connection errors seen ${await connectionErrors()}; ${Math.round((Date.now() - started) / 1000)} s`,
    );
  } finally {
    stopping = true;
    await Promise.allSettled(loops);
    if (runner) await runner.stop();
    if (cluster) await cluster.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
