/**
 * Fair share of the workers between tenants, end to end on a real service with two workers: an
 * attacker tenant keeps four endless loops (or 15 MiB log floods) in flight (its install's deadline is 1 s; its admission
 * allows 8, above the worker count) while a neighbour tenant sends requests one after another. The
 * assertions are on the scheduler's decisions as the service logs them at debug ("dispatched to a
 * worker": arrival order, how many other tenants' requests started while one waited, how many its
 * install had running) — not on wall-clock times, which belong to the benchmark (bench/fair-share.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, metricsText, metricValue, startTestService, uploadExample, type TestService } from './harness.js';

let svc: TestService;
const ATTACKER_IN_FLIGHT = 4;
const NEIGHBOUR_REQUESTS = 6;

before(async () => {
  svc = await startTestService({ workers: 2, examples: ['kitchen-sink', 'wat-loop', 'wat-log-flood', 'wat-grow'] });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink' });
  await createInstall(svc, { tenant_id: 'neighbour', extension_id: 'kitchen-sink' });
  for (const [example, name] of [
    ['wat-loop', 'loop'],
    ['wat-log-flood', 'log-flood'],
    ['wat-grow', 'grow'],
  ] as const) {
    await uploadExample(svc, example, { name });
  }
  await createInstall(svc, { tenant_id: 'attacker', extension_id: 'loop', limits: { timeout_ms: 1000 } });
  await createInstall(svc, { tenant_id: 'log-attacker', extension_id: 'log-flood', limits: { timeout_ms: 1000 } });
  await createInstall(svc, { tenant_id: 'grow-attacker', extension_id: 'grow', limits: { memory_mb: 16 } });
});
after(async () => svc?.close());

interface Dispatch {
  tenant: string;
  install: string;
  request_id: string;
  arrival: number;
  queued: boolean;
  overtaken_by: number;
  tenant_running: number;
  install_running: number;
  penalised: boolean;
}

function logLines(): Record<string, unknown>[] {
  return svc
    .logText()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const { what, tenant, extension } of [
  { what: 'endless loops', tenant: 'attacker', extension: 'loop' },
  { what: '15 MiB log messages until the deadline', tenant: 'log-attacker', extension: 'log-flood' },
])
  test(`an attacker flooding ${what}: the neighbour's requests start before the attacker's queued ones and all complete; the attacker goes on probation`, async () => {
    const engine = svc.running.runtime.engine;
    const probationsBefore = metricValue(await metricsText(svc), 'alga_runner_install_probations_total');
    const linesBefore = logLines().length;
    let flooding = true;
    let attackerSent = 0;
    const attackerAnswers: { status: number; error?: string }[] = [];
    const flooder = async () => {
      while (flooding) {
        const id = `attack-${attackerSent++}`;
        const r = await execute(svc, '/', { tenant, extension, envelope: { context: { tenant_id: tenant, extension_id: extension, request_id: id } } });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        attackerAnswers.push(r.json as { status: number; error?: string });
      }
    };
    const flooders = Array.from({ length: ATTACKER_IN_FLIGHT }, flooder);

    // the attacker holds both workers and has two more requests waiting for one
    let attackerStarts = 0;
    await svc.logLine((l) => l.msg === 'dispatched to a worker' && l.tenant === tenant && ++attackerStarts === 2);
    while (engine.queueDepth < ATTACKER_IN_FLIGHT - 2) await new Promise((r) => setTimeout(r, 5));

    for (let i = 0; i < NEIGHBOUR_REQUESTS; i++) {
      const r = await execute(svc, '/noop', { tenant: 'neighbour', envelope: { context: { tenant_id: 'neighbour', extension_id: 'kitchen-sink', request_id: `${tenant}-neighbour-${i}` } } });
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 200, JSON.stringify(r.json));
    }
    flooding = false;
    await Promise.all(flooders);

    const lines = logLines().slice(linesBefore);
    const dispatches = lines.filter((l) => l.msg === 'dispatched to a worker') as unknown as Dispatch[];
    const neighbour = dispatches.filter((d) => d.tenant === 'neighbour' && d.request_id.startsWith(`${tenant}-neighbour-`));
    const attacker = dispatches.filter((d) => d.tenant === tenant);
    assert.equal(neighbour.length, NEIGHBOUR_REQUESTS);

    // the first neighbour request came while both workers ran loops and two more loops waited ...
    const first = neighbour[0]!;
    assert.equal(first.queued, true, 'both workers were held by the attacker');
    const queuedEarlier = attacker.filter((d) => d.arrival < first.arrival && dispatches.indexOf(d) > dispatches.indexOf(first));
    assert.ok(queuedEarlier.length >= ATTACKER_IN_FLIGHT - 2, `the neighbour's request started before the attacker's requests queued ahead of it (${queuedEarlier.length})`);
    // ... and no neighbour request waited while an attacker's request took a worker
    assert.deepEqual(
      neighbour.map((d) => d.overtaken_by),
      neighbour.map(() => 0),
    );
    assert.equal(neighbour.filter((d) => d.overtaken_by > 1).length, 0, 'neighbour requests that waited behind more than one attacker request');

    // two timeouts put the loop install on probation; from then on it never had two executions at once
    const probation = lines.findIndex((l) => l.msg?.toString().startsWith('install on probation') && l.tenant === tenant);
    assert.ok(probation >= 0, "the attacker's install went on probation");
    const afterProbation = attacker.filter((d) => lines.indexOf(d as unknown as Record<string, unknown>) > probation);
    assert.ok(afterProbation.length > 0, 'the attacker still ran (one at a time)');
    for (const d of afterProbation) {
      assert.equal(d.penalised, true);
      assert.equal(d.install_running, 1, `${d.request_id} started while another of its install ran`);
    }
    assert.equal(metricValue(await metricsText(svc), 'alga_runner_install_probations_total'), probationsBefore + 1);

    // every loop ended at its deadline
    assert.equal(attackerAnswers.length, attackerSent);
    for (const a of attackerAnswers) assert.deepEqual([a.status, a.error], [504, 'timeout']);
  });

test('requests that keep ending at the memory limit put their install on probation', async () => {
  const before = metricValue(await metricsText(svc), 'alga_runner_install_probations_total');
  for (let i = 0; i < 2; i++) {
    const r = await execute(svc, '/', { tenant: 'grow-attacker', extension: 'grow', envelope: { context: { tenant_id: 'grow-attacker', extension_id: 'grow', request_id: `grow-${i}` } } });
    assert.deepEqual([r.json.status, r.json.error], [500, 'memory_limit']);
  }
  await svc.logLine((l) => l.msg?.toString().startsWith('install on probation') === true && l.tenant === 'grow-attacker');
  assert.equal(metricValue(await metricsText(svc), 'alga_runner_install_probations_total'), before + 1);
});
