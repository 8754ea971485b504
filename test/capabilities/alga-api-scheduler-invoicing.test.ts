/**
 * The Alga-API backends of the scheduler and invoicing capabilities, called through the capability
 * as a guest's call arrives, against a loopback server that answers each call with what the test
 * sets (a status and a raw body): how Alga's runner maps statuses (401/403 denied, 404 not-found,
 * 400 validation-failed, 429 quota-exceeded, other internal), transport failures and unreadable
 * bodies, and reads answers (snake_case, fields under `invoice`, malformed rows skipped).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSchedulerCapability } from '../../src/capabilities/scheduler.js';
import { createInvoicingCapability } from '../../src/capabilities/invoicing.js';
import { createAlgaApiScheduler } from '../../src/capabilities/scheduler-api.js';
import { createAlgaApiInvoicing } from '../../src/capabilities/invoicing-api.js';
import type { Capability } from '../../src/capabilities/capability.js';
import { executionContext, recordingServices } from './tenant-data-fixtures.js';
import { startFakeInternalApi, type FakeInternalApi } from '../support/fake-internal-api.js';

let api: FakeInternalApi;
let baseUrl: string;

before(async () => {
  api = await startFakeInternalApi();
  baseUrl = api.baseUrl;
});
after(() => api.close());

const TOKEN = 'tok-3f9a';

async function invoke(cap: Capability<null, null>, iface: string, fn: string, args: unknown[]) {
  const impl = cap.interfaces.find((i) => i.name === iface)!;
  const services = recordingServices();
  const result = await impl.functions[fn]!({ args, ctx: executionContext({ installId: 'inst/7' }), config: null, state: null, services });
  return { result, logs: services.logs };
}

const scheduler = () => createSchedulerCapability(createAlgaApiScheduler({ baseUrl, runnerAuthToken: TOKEN }));
const invoicing = () => createInvoicingCapability(createAlgaApiInvoicing({ baseUrl, runnerAuthToken: TOKEN }));
const S = 'alga:extension/scheduler';

test("scheduler reads: Alga's statuses become the scheduler-error cases as in Alga's runner", async () => {
  const cases: [number, string][] = [
    [401, 'denied'],
    [403, 'denied'],
    [404, 'not-found'],
    [400, 'validation-failed'],
    [429, 'quota-exceeded'],
    [500, 'internal'],
    [501, 'internal'],
  ];
  for (const [status, code] of cases) {
    api.answer = { status, body: JSON.stringify({ error: `upstream ${status}` }) };
    const { result, logs } = await invoke(scheduler(), S, 'listSchedules', []);
    assert.deepEqual(result, { kind: 'err', code }, `HTTP ${status}`);
    assert.ok(
      logs.some((l) => l.message.includes(`HTTP ${status}`) && l.message.includes(`upstream ${status}`)),
      `HTTP ${status} is logged with Alga's message`,
    );
  }
  const last = api.seen.at(-1)!;
  assert.equal(last.url, '/api/internal/ext-scheduler/install/inst%2F7', 'the install id is path-encoded');
  assert.equal(last.auth, TOKEN);
  assert.deepEqual(last.body, { operation: 'list' });
});

test('scheduler reads: rows in either spelling, malformed rows skipped with a warning, an unreadable body is internal', async () => {
  api.answer = {
    status: 200,
    body: JSON.stringify({
      schedules: [
        { id: 's1', endpoint_path: '/a', endpoint_method: 'GET', cron: '0 * * * *', timezone: 'UTC', enabled: true, payload: { x: 1 }, last_run_at: '2026-01-01T00:00:00.000Z', name: null },
        { id: 's2', endpointPath: '/b', endpointMethod: 'POST', cron: '0 * * * *', timezone: 'UTC', enabled: 'yes' },
      ],
    }),
  };
  const { result, logs } = await invoke(scheduler(), S, 'listSchedules', []);
  assert.deepEqual(result, {
    kind: 'ok',
    value: [
      {
        id: 's1',
        endpointPath: '/a',
        endpointMethod: 'GET',
        name: undefined,
        cron: '0 * * * *',
        timezone: 'UTC',
        enabled: true,
        payload: '{"x":1}',
        lastRunAt: '2026-01-01T00:00:00.000Z',
        lastRunStatus: undefined,
        lastError: undefined,
        createdAt: undefined,
      },
    ],
  });
  assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('malformed schedule')));

  api.answer = { status: 200, body: '{"schedule": null}' };
  assert.deepEqual((await invoke(scheduler(), S, 'getSchedule', ['9d3c1f8e-8b7a-4c2d-9e1f-0a1b2c3d4e5f'])).result, { kind: 'ok', value: undefined });
  api.answer = { status: 200, body: 'not json' };
  assert.deepEqual((await invoke(scheduler(), S, 'getEndpoints', [])).result, { kind: 'err', code: 'internal' });
});

test('scheduler writes: a failed call is success false with the error case when Alga says no more; a transport failure too', async () => {
  api.answer = { status: 503, body: '' };
  assert.deepEqual((await invoke(scheduler(), S, 'deleteSchedule', ['x'])).result, { kind: 'value', value: { success: false, error: 'internal' } });
  api.answer = { status: 201, body: JSON.stringify({ success: true, schedule_id: 'new-id', field_errors: null }) };
  assert.deepEqual((await invoke(scheduler(), S, 'createSchedule', [{ endpoint: '/a', cron: '0 * * * *' }])).result, { kind: 'value', value: { success: true, scheduleId: 'new-id' } });
  const dead = createSchedulerCapability(createAlgaApiScheduler({ baseUrl: 'http://127.0.0.1:1', runnerAuthToken: TOKEN }));
  const { result, logs } = await invoke(dead, S, 'updateSchedule', ['x', { enabled: true }]);
  assert.deepEqual(result, { kind: 'value', value: { success: false, error: 'internal' } });
  assert.ok(logs.some((l) => l.level === 'error' && l.message.includes('call failed')));
});

test("invoicing: Alga's answer read as Alga's runner reads it; refusals and failures", async () => {
  api.answer = { status: 201, body: JSON.stringify({ success: true, invoice_id: 'i-1', invoice: { invoiceNumber: 'INV-9', status: 'draft', subtotal: 100, tax: 7, total: 107 } }) };
  const input = { clientId: 'c', items: [{ serviceId: 's', quantity: 1, description: 'd', rate: 100, isDiscount: undefined }], poNumber: undefined };
  assert.deepEqual((await invoke(invoicing(), 'alga:extension/invoicing', 'createManualInvoice', [input])).result, {
    kind: 'value',
    value: { success: true, invoiceId: 'i-1', invoiceNumber: 'INV-9', status: 'draft', subtotal: 100, tax: 7, total: 107 },
  });
  assert.deepEqual(
    api.seen.at(-1)!.body,
    { operation: 'createManualInvoice', clientId: 'c', items: [{ serviceId: 's', quantity: 1, description: 'd', rate: 100 }] },
    'absent options are left out, never null',
  );

  api.answer = { status: 500, body: JSON.stringify({ error: 'Internal error', code: 'INTERNAL_ERROR' }) };
  assert.deepEqual((await invoke(invoicing(), 'alga:extension/invoicing', 'createManualInvoice', [input])).result, { kind: 'value', value: { success: false, error: 'Internal error' } });
  api.answer = { status: 502, body: '<html>bad gateway</html>' };
  assert.deepEqual((await invoke(invoicing(), 'alga:extension/invoicing', 'createManualInvoice', [input])).result, { kind: 'value', value: { success: false, error: 'http 502' } });
  api.answer = { status: 201, body: '{oops' };
  assert.deepEqual((await invoke(invoicing(), 'alga:extension/invoicing', 'createManualInvoice', [input])).result, { kind: 'value', value: { success: false, error: 'invalid JSON response' } });
  const dead = createInvoicingCapability(createAlgaApiInvoicing({ baseUrl: 'http://127.0.0.1:1', runnerAuthToken: TOKEN }));
  assert.deepEqual((await invoke(dead, 'alga:extension/invoicing', 'createManualInvoice', [input])).result, { kind: 'value', value: { success: false, error: 'transport failure' } });
});

test("without an install id: denied, or the messages of Alga's runner", async () => {
  const impl = (cap: Capability<null, null>, iface: string) => cap.interfaces.find((i) => i.name === iface)!;
  const call = (cap: Capability<null, null>, iface: string, fn: string, args: unknown[]) =>
    impl(cap, iface).functions[fn]!({ args, ctx: executionContext({ installId: null }), config: null, state: null, services: recordingServices() });
  const before = api.seen.length;
  assert.deepEqual(await call(scheduler(), S, 'listSchedules', []), { kind: 'err', code: 'denied' });
  assert.deepEqual(await call(scheduler(), S, 'createSchedule', [{ endpoint: '/a', cron: '0 * * * *' }]), { kind: 'value', value: { success: false, error: 'Install ID missing' } });
  assert.deepEqual(await call(invoicing(), 'alga:extension/invoicing', 'createManualInvoice', [{ clientId: 'c', items: [] }]), {
    kind: 'value',
    value: { success: false, error: 'Permission denied: install_id missing' },
  });
  assert.equal(api.seen.length, before, 'Alga was not called');
});
