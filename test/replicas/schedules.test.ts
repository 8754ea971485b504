/**
 * The store's schedules run exactly once per due time across replicas: two runner processes on one
 * PostgreSQL schema both poll for due schedules every 100 ms (RUNNER_SCHEDULE_POLL_MS); the guest
 * (examples/alga-world, built against Alga's world) creates a schedule of its POST /heartbeat with a
 * payload; the test makes it due by moving its next_run_at behind the runner's back (the minimum
 * interval is Alga's 5 minutes), three times, and finds three runs — one "scheduled run" log line
 * in one of the two processes per due time, the payload as the body, the last run in the admin API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packBundle } from '../../src/bundle/index.js';
import { startCluster, replicaSkipReason, type Cluster } from '../support/replicas.js';
import { admin, createInstall, execute, exampleBytes, guestJson, repoRoot, seedArtifacts } from '../service/harness.js';

const skip = await replicaSkipReason();
const TENANT = 'tenant-sched';

/** Polls `check` every 50 ms until it returns a value, failing after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runLines(cluster: Cluster, scheduleId: string): { replica: number; due_at: string; outcome: string }[] {
  return cluster.replicas.flatMap((r) =>
    r.process.lines.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return parsed['msg'] === 'scheduled run' && parsed['schedule_id'] === scheduleId ? [{ replica: r.index, due_at: String(parsed['due_at']), outcome: String(parsed['outcome']) }] : [];
      } catch {
        return [];
      }
    }),
  );
}

test('two replicas run a due schedule once per due time, with its payload, and record the last run', { skip, timeout: 240_000 }, async () => {
  const cluster = await startCluster({ replicas: 2, env: { RUNNER_SCHEDULE_POLL_MS: '100' } });
  try {
    for (const r of cluster.replicas) await seedArtifacts(r.dataDir, ['alga-world']);
    const [a, b] = cluster.replicas as [Cluster['replicas'][0], Cluster['replicas'][0]];
    const packed = await packBundle({ manifestJson: readFileSync(join(repoRoot, 'examples', 'alga-world', 'manifest.json')), mainWasm: exampleBytes('alga-world') });
    assert.equal(packed.kind, 'ok');
    if (packed.kind !== 'ok') return;
    const up = await admin<{ extension_id: string }>(a, 'POST', '/admin/v1/extensions', packed.value.bytes, { 'content-type': 'application/zstd' });
    assert.equal(up.status, 201, JSON.stringify(up.json));
    const extension = up.json.extension_id;
    const installId = await createInstall(a, { tenant_id: TENANT, extension_id: extension, grants: ['cap:storage.kv', 'cap:scheduler.manage'] });

    const created = await execute(a, '/schedules/create', { tenant: TENANT, extension, body: { endpoint: 'POST /heartbeat', cron: '*/5 * * * *', payload: { n: 7 } } });
    const { success, scheduleId } = guestJson<{ success: boolean; scheduleId: string }>(created.json);
    assert.equal(success, true);
    const [row] = await cluster.query<{ next_run_at: string }>('select next_run_at from extension_schedules where id = $1', [scheduleId]);
    assert.ok(Number(row!.next_run_at) > Date.now(), 'a new schedule is due at its next 5-minute mark');

    let lastRunAt: string | null = null;
    for (let round = 1; round <= 3; round++) {
      const due = Date.now() - 1000;
      await cluster.query('update extension_schedules set next_run_at = $1 where id = $2', [due, scheduleId]);
      const shown = await until(`run ${round}`, async () => {
        const r = await admin<{ schedules: { last_run: { at: string; status: string; error: string | null } | null; next_run_at: string | null }[] }>(
          b,
          'GET',
          `/admin/v1/installs/${installId}/schedules`,
        );
        const s = r.json.schedules[0];
        return s?.last_run && s.last_run.at !== lastRunAt ? s : undefined;
      });
      lastRunAt = shown.last_run!.at;
      assert.deepEqual({ status: shown.last_run!.status, error: shown.last_run!.error }, { status: 'success', error: null });
      assert.ok(Date.parse(shown.next_run_at!) > Date.now(), 'the next due time moved past now');
      // the run's log line reaches this process through the replica's stdout, maybe after the admin API shows the run
      await until(`the log line of run ${round}`, async () => (runLines(cluster, scheduleId).length >= round ? true : undefined));
      assert.equal(runLines(cluster, scheduleId).length, round, `one run per due time (round ${round})`);
    }
    const runs = runLines(cluster, scheduleId);
    assert.equal(new Set(runs.map((r) => r.due_at)).size, 3, 'three distinct due times');
    assert.ok(runs.every((r) => r.outcome === 'success'));
    const counted = guestJson<{ runs: number }>((await execute(b, '/runs', { tenant: TENANT, extension })).json);
    assert.equal(counted.runs, 3, 'the guest ran three times');

    const logs = await admin<{ records: { message: string }[] }>(a, 'GET', `/admin/v1/installs/${installId}/logs?limit=100`);
    const beats = logs.json.records.map((r) => r.message).filter((m) => m.startsWith('heartbeat '));
    assert.deepEqual(beats, ['heartbeat 1: {"n":7}', 'heartbeat 2: {"n":7}', 'heartbeat 3: {"n":7}'], 'the payload is the body of each run');
  } finally {
    await cluster.close();
  }
});
