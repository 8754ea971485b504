/**
 * Two runner processes (`alga-runner serve`) on one PostgreSQL schema: a duplicate idempotency key
 * sent to the second process while the first runs the guest waits for it and replays its answer;
 * the guest runs once. PostgreSQL comes from TEST_DATABASE_URL; unreachable fails the test when
 * CI=true, and skips it (saying why) otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { SECRETS_KEY, createInstall, execute, guestJson, seedArtifacts, uploadExample } from './harness.js';
import { cleanEnv, startCli, type CliProcess } from './cli-process.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import { gateFetch, openGate, type Gate } from './gate.js';

const DATABASE_URL = TEST_DATABASE_URL;
const skip = await postgresSkipReason();

const schema = `svc_idem_${process.pid}_${randomBytes(4).toString('hex')}`;
const SERVICE_TOKEN = 'two-process-service-token';
const ADMIN_TOKEN = 'two-process-admin-token-1234';
const dirs: string[] = [];
const runners: CliProcess[] = [];
let gate: Gate;

interface Runner {
  url: string;
  serviceToken: string;
  adminToken: string;
  process: CliProcess;
}

async function startRunner(): Promise<Runner> {
  const dataDir = mkdtempSync(join(tmpdir(), 'svc-pg-'));
  dirs.push(dataDir);
  await seedArtifacts(dataDir, ['kitchen-sink']);
  const runner = startCli(
    ['serve', '--port', '0', '--data-dir', dataDir, '--database-url', DATABASE_URL, '--workers', '1'],
    cleanEnv({
      RUNNER_DATABASE_SCHEMA: schema,
      RUNNER_SERVICE_TOKEN: SERVICE_TOKEN,
      RUNNER_ADMIN_TOKEN: ADMIN_TOKEN,
      RUNNER_SECRETS_KEY: SECRETS_KEY,
      RUNNER_EGRESS_ALLOW_PRIVATE: '1',
      RUNNER_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: 'info',
    }),
  );
  runners.push(runner);
  const url = (await runner.line(/alga-runner listening on (http:\/\/\S+)$/))[1]!;
  return { url, serviceToken: SERVICE_TOKEN, adminToken: ADMIN_TOKEN, process: runner };
}

before(async () => {
  if (skip) return;
  gate = await openGate();
});
after(async () => {
  for (const r of runners) await r.stop();
  if (gate) await gate.close();
  if (!skip) {
    const client = new pg.Client(DATABASE_URL);
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a duplicate sent to a second process while the first runs waits and replays; the guest ran once', { skip, timeout: 90_000 }, async () => {
  const first = await startRunner();
  const second = await startRunner();
  await uploadExample(first, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch', 'cap:storage.kv'] });
  await createInstall(first, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });

  const envelope = (requestId: string) => ({ context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: requestId } });
  const onFirst = execute(first, '/fetch', { body: gateFetch(gate, 'two-process'), idempotencyKey: 'across-processes', envelope: envelope('on-first') });
  const held = await gate.next(); // the guest runs in the first process
  const onSecond = execute(second, '/fetch', { body: gateFetch(gate, 'two-process'), idempotencyKey: 'across-processes', envelope: envelope('on-second') });
  const waiting = await second.process.line(/"request_id":"on-second".*"msg":"waiting for an earlier request with the same idempotency key"/);
  assert.match(waiting[0], /"running_in":"another process"/);
  held.release('answered once');
  const [a, b] = await Promise.all([onFirst, onSecond]);
  assert.equal(a.status, 200);
  assert.equal(guestJson<{ ok: { body: string } }>(a.json).ok.body, 'answered once');
  assert.deepEqual(b.json, a.json, 'the second process replays the first one’s answer');
  assert.equal(gate.arrived, 1, 'the guest ran once');

  // a completed key replays on the other process too, and the write happened once
  const put = await execute(first, '/kv/put', { body: { ns: 'n', key: 'k', value: 'v' }, idempotencyKey: 'put-once' });
  const replay = await execute(second, '/kv/put', { body: { ns: 'n', key: 'k', value: 'v' }, idempotencyKey: 'put-once' });
  assert.deepEqual(replay.json, put.json);
  const read = await execute(second, '/kv/get', { query: { ns: 'n', key: 'k' } });
  assert.equal(guestJson<{ ok: { revision: string } }>(read.json).ok.revision, '1');

  // the key is bound to its request across processes: another request with it is refused, in
  // flight (the claim is the other process's) and once answered
  const bound = execute(first, '/fetch', { body: gateFetch(gate, 'bound'), idempotencyKey: 'bound-key', envelope: envelope('bound-first') });
  const holding = await gate.next();
  const inFlight = await execute<Refusal>(second, '/fetch', { body: gateFetch(gate, 'other'), idempotencyKey: 'bound-key', envelope: envelope('bound-second') });
  assert.equal(inFlight.status, 422, JSON.stringify(inFlight.json));
  assert.equal(inFlight.json.error.code, 'idempotency_key_reused');
  assert.match(inFlight.json.error.message, /still running/);
  holding.release('bound answer');
  assert.equal(guestJson<{ ok: { body: string } }>((await bound).json).ok.body, 'bound answer');
  const answered = await execute<Refusal>(second, '/kv/put', { body: { ns: 'n', key: 'k', value: 'other' }, idempotencyKey: 'put-once' });
  assert.equal(answered.status, 422, JSON.stringify(answered.json));
  assert.equal(answered.json.error.code, 'idempotency_key_reused');
  assert.match(answered.json.error.message, /answered/);
  assert.equal(gate.arrived, 2, 'the refused request never ran');
});

interface Refusal {
  error: { code: string; message: string };
}
