/**
 * A restarted service warms its installed versions in the background (RUNNER_WARM_ON_START), so
 * the first request after a restart finds an instance instead of paying for a cold start.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInstall, execute, guestJson, metricsText, metricValue, startTestService, uploadExample, type TestService } from './harness.js';

const dataDir = mkdtempSync(join(tmpdir(), 'svc-warm-'));

before(async () => {
  const first = await startTestService({ dataDir });
  try {
    await uploadExample(first, 'kitchen-sink', { name: 'kitchen-sink' });
    await createInstall(first, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
    // another memory limit is another compiled variant to warm
    await createInstall(first, { tenant_id: 'tenant-b', extension_id: 'kitchen-sink', limits: { memory_mb: 96 } });
    // the same variant as tenant-a (warming one serves both); created last, so warmed first
    await createInstall(first, { tenant_id: 'tenant-c', extension_id: 'kitchen-sink' });
  } finally {
    await first.close();
  }
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** The start-up warm-up's summary line, or a failure if it does not come within a minute. */
async function warmSummary(svc: TestService): Promise<Record<string, unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no warm-up summary within 60 s')), 60_000)));
  try {
    return await Promise.race([svc.logLine((l) => l.msg === 'installed versions warmed at start'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function instancesMadeOnRequests(svc: TestService, tenants: string[]): Promise<number> {
  const before = metricValue(await metricsText(svc), 'alga_runner_guest_instances_total', { source: 'new' });
  for (const tenant of tenants) assert.deepEqual(guestJson((await execute(svc, '/counter', { tenant })).json), { counter: 1 });
  return metricValue(await metricsText(svc), 'alga_runner_guest_instances_total', { source: 'new' }) - before;
}

test('after a restart each installed (component, memory limit) is warmed once, and first requests find instances', async () => {
  const svc = await startTestService({ dataDir });
  try {
    const summary = await warmSummary(svc);
    assert.equal(summary.warmed, 2, 'tenant-a and tenant-c share one variant; tenant-b has its own');
    assert.equal(summary.failed, 0);
    assert.equal(await instancesMadeOnRequests(svc, ['tenant-a', 'tenant-b', 'tenant-c']), 0);
  } finally {
    await svc.close();
  }
});

test('RUNNER_WARM_ON_START bounds the warm-up (most recently changed first); 0 turns it off', async () => {
  const one = await startTestService({ dataDir, env: { RUNNER_WARM_ON_START: '1' } });
  try {
    assert.equal((await warmSummary(one)).warmed, 1);
    assert.equal(await instancesMadeOnRequests(one, ['tenant-a']), 0, 'the newest install, tenant-c, has the variant tenant-a runs: warmed');
    assert.equal(await instancesMadeOnRequests(one, ['tenant-b']), 1, 'tenant-b was not warmed: its first request instantiated');
  } finally {
    await one.close();
  }
  const none = await startTestService({ dataDir, env: { RUNNER_WARM_ON_START: '0' } });
  try {
    assert.equal(await instancesMadeOnRequests(none, ['tenant-a']), 1);
    assert.ok(!none.logText().includes('warmed at start'));
  } finally {
    await none.close();
  }
});
