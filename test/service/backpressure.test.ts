/**
 * Backpressure (src/service/admission.ts) with one execution per tenant, a tenant queue of one and a global
 * queue of one: a tenant's third concurrent request is 429 + Retry-After while other tenants still
 * get through; a full global queue is 503 overloaded. Guests are held inside a host call (a fetch
 * of a loopback gate) so "running" and "queued" are facts, not timing. Also: configured tokens make
 * the dev gateway require the service token.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, metricsText, metricValue, startTestService, uploadExample, type ErrorBody, type TestService } from './harness.js';
import { gateFetch, openGate, type Gate } from './gate.js';

let svc: TestService;
let gate: Gate;
const SERVICE_TOKEN = 'service-token-for-backpressure';
const ADMIN_TOKEN = 'admin-token-for-backpressure';

before(async () => {
  gate = await openGate();
  svc = await startTestService({
    env: { RUNNER_TENANT_CONCURRENCY: '1', RUNNER_TENANT_QUEUE: '1', RUNNER_GLOBAL_QUEUE: '1', RUNNER_SERVICE_TOKEN: SERVICE_TOKEN, RUNNER_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:http.fetch'] });
  for (const tenant of ['tenant-a', 'tenant-b', 'dev']) await createInstall(svc, { tenant_id: tenant, extension_id: 'kitchen-sink', egress: { allow: [gate.origin] } });
});
after(async () => {
  await svc.close();
  await gate.close();
});

const held = (tenant: string, requestId: string) =>
  execute(svc, '/fetch', { tenant, body: gateFetch(gate, requestId), envelope: { context: { tenant_id: tenant, extension_id: 'kitchen-sink', request_id: requestId } } });
const queuedLine = (requestId: string) => svc.logLine((l) => l.msg === 'queued: the tenant is at its concurrency limit' && l.request_id === requestId);

test('a tenant over its limit and queue gets 429 with Retry-After; others get through; a full global queue is 503', async () => {
  const a1 = held('tenant-a', 'a1');
  const a1Gate = await gate.next(); // a1 runs
  const a2 = held('tenant-a', 'a2');
  await queuedLine('a2'); // a2 waits in tenant-a's queue (and fills the global queue)

  const metrics = await metricsText(svc);
  assert.equal(metricValue(metrics, 'alga_runner_queue_depth'), 1);
  assert.equal(metricValue(metrics, 'alga_runner_executions_in_flight'), 1);

  const a3 = await execute<ErrorBody>(svc, '/noop', { tenant: 'tenant-a' });
  assert.equal(a3.status, 429);
  assert.equal(a3.json.error.code, 'too_many_requests');
  assert.equal(a3.headers.get('retry-after'), '1');

  const b1 = await execute(svc, '/noop', { tenant: 'tenant-b' });
  assert.equal(b1.status, 200, 'another tenant still gets through');
  assert.equal(b1.json.status, 200);

  const b2 = held('tenant-b', 'b2');
  const b2Gate = await gate.next(); // tenant-b's only slot is taken
  const b3 = await execute<ErrorBody>(svc, '/noop', { tenant: 'tenant-b' });
  assert.equal(b3.status, 503, 'tenant-b could queue, but the global queue is full');
  assert.equal(b3.json.error.code, 'overloaded');
  assert.equal(b3.headers.get('retry-after'), '1');

  const rejected = await metricsText(svc);
  assert.equal(metricValue(rejected, 'alga_runner_rejected_total', { reason: 'tenant_busy' }), 1);
  assert.equal(metricValue(rejected, 'alga_runner_rejected_total', { reason: 'overloaded' }), 1);

  a1Gate.release();
  const a2Gate = await gate.next(); // a1's slot passed to a2
  a2Gate.release();
  b2Gate.release();
  for (const r of await Promise.all([a1, a2, b2])) {
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 200);
  }
  const idle = await metricsText(svc);
  assert.equal(metricValue(idle, 'alga_runner_queue_depth'), 0);
  assert.equal(metricValue(idle, 'alga_runner_executions_in_flight'), 0);
  assert.equal((await execute(svc, '/noop', { tenant: 'tenant-a' })).json.status, 200, 'tenant-a has its slot back');
});

test('with configured tokens the dev gateway requires the service token', async () => {
  assert.equal(svc.serviceToken, SERVICE_TOKEN);
  assert.equal(svc.running.generatedTokens, false);
  const anonymous = await fetch(`${svc.url}/api/ext/kitchen-sink/noop`, { headers: { 'x-alga-tenant': 'tenant-a' } });
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as ErrorBody).error.code, 'unauthorized');
  const withToken = await fetch(`${svc.url}/api/ext/kitchen-sink/noop`, { headers: { 'x-alga-tenant': 'tenant-a', 'x-runner-service-token': SERVICE_TOKEN } });
  assert.equal(withToken.status, 200);
});
