/**
 * A component built against Alga PSA's own world (examples/alga-world, wit/alga/world.wit: it imports
 * every interface, scheduler and invoicing included) is uploaded as a bundle, installed and run
 * through /v1/execute, on each backend of the scheduler and invoicing capabilities:
 *  - the store (schedules and invoices in the runner's own store), on SQLite and on PostgreSQL
 *    (TEST_DATABASE_URL; unreachable fails under CI=true, else the leg is skipped saying why);
 *  - Alga's internal API (RUNNER_TENANT_DATA_URL), against a loopback server that speaks the
 *    ext-scheduler / ext-invoicing shapes as Alga's route code defines them (fake-alga-internal.ts).
 * Also: the bundle's unknown manifest key is a warning, not a refusal; an install without the
 * grants gets Alga's denied answers; the admin API shows schedules and invoices.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Kysely } from 'kysely';
import { packBundle } from '../../src/bundle/index.js';
import { admin, createInstall, execute, exampleBytes, guestJson, repoRoot, startTestService, type TestService } from './harness.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import { RUNNER_AUTH, startFakeAlgaInternal, type FakeAlgaInstall, type FakeAlgaInternal } from './fake-alga-internal.js';

const ALL_CAPS = ['cap:context.read', 'cap:log.emit', 'cap:storage.kv', 'cap:scheduler.manage', 'cap:invoice.manual.create'];
const CLIENT = '11111111-1111-4111-8111-111111111111';
const SERVICE = '22222222-2222-4222-8222-222222222222';
const OTHER = '33333333-3333-4333-8333-333333333333';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Uploaded {
  extension_id: string;
  version_id: string;
  warnings: { path: string; message: string }[];
}

async function uploadAlgaWorld(svc: TestService): Promise<Uploaded> {
  const packed = await packBundle({ manifestJson: readFileSync(join(repoRoot, 'examples', 'alga-world', 'manifest.json')), mainWasm: exampleBytes('alga-world') });
  if (packed.kind !== 'ok') throw new Error(packed.error.message);
  const r = await admin<Uploaded>(svc, 'POST', '/admin/v1/extensions', packed.value.bytes, { 'content-type': 'application/zstd' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

/** One call to the guest: its JSON answer. */
async function call<T = Record<string, unknown>>(svc: TestService, tenant: string, extension: string, path: string, o: { body?: unknown; query?: Record<string, string> } = {}): Promise<T> {
  const r = await execute(svc, path, { tenant, extension, ...(o.body !== undefined ? { body: o.body } : {}), ...(o.query ? { query: o.query } : {}), method: o.body !== undefined ? 'POST' : 'GET' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.status, 200, JSON.stringify(r.json));
  return guestJson<T>(r.json);
}

interface Leg {
  name: string;
  skip: () => Promise<string | false>;
  env: () => Promise<Record<string, string>>;
  cleanup?: () => Promise<void>;
}

/** Alga's 10 schedule mutations a minute per install would not let the quota test reach 50 schedules */
const MUTATIONS_PER_MINUTE = 100;
const MUTATION_LIMIT = { RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: String(MUTATIONS_PER_MINUTE) };

function postgresLeg(): Leg {
  const schema = `svc_alga_world_${process.pid}_${randomBytes(4).toString('hex')}`;
  return {
    name: 'store backend on PostgreSQL',
    skip: postgresSkipReason,
    env: async () => ({ DATABASE_URL: TEST_DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema, ...MUTATION_LIMIT }),
    async cleanup() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  };
}

const storeLegs: Leg[] = [{ name: 'store backend on SQLite', skip: async () => false, env: async () => ({ ...MUTATION_LIMIT }) }, postgresLeg()];

for (const leg of storeLegs) {
  const skip = await leg.skip();
  describe(`alga-world guest, ${leg.name}`, { skip }, () => {
    let svc: TestService;
    let uploaded: Uploaded;
    const tenant = 'tenant-sched';
    let installId: string;

    before(async () => {
      svc = await startTestService({ examples: ['alga-world'], env: await leg.env() });
      uploaded = await uploadAlgaWorld(svc);
      installId = await createInstall(svc, { tenant_id: tenant, extension_id: uploaded.extension_id, grants: ALL_CAPS });
    });
    after(async () => {
      await svc?.close();
      await leg.cleanup?.();
    });

    test("the manifest's unknown key is a warning in the upload answer and the log, and the component importing Alga's whole world installs", async () => {
      assert.deepEqual(uploaded.warnings, [{ path: 'x-notes', message: 'unknown key, ignored' }]);
      const logged = await svc.logLine((l) => l['msg'] === 'manifest has unknown keys (ignored)');
      assert.deepEqual(logged['warnings'], uploaded.warnings);
      assert.match(installId, /.+/);
    });

    test("get-endpoints: the version's endpoints, schedulable as Alga decides (GET/POST, no parameters) unless the manifest says false", async () => {
      const answer = await call<{ ok: { method: string; path: string; handler: string; schedulable: boolean; id: string }[] }>(svc, tenant, uploaded.extension_id, '/endpoints');
      const byPath = Object.fromEntries(answer.ok.map((e) => [`${e.method} ${e.path}`, e.schedulable]));
      assert.equal(byPath['GET /status'], true);
      assert.equal(byPath['POST /heartbeat'], true);
      assert.equal(byPath['POST /internal'], false, 'schedulable: false in the manifest');
      assert.equal(byPath['GET /items/:id'], false, 'a path parameter');
      for (const e of answer.ok) assert.match(e.id, UUID);
    });

    test("create, list, get, update, delete a schedule with Alga's validation and answers; the admin API shows it", async () => {
      const created = await call<{ success: boolean; scheduleId?: string }>(svc, tenant, uploaded.extension_id, '/schedules/create', {
        body: { endpoint: 'POST /heartbeat', cron: '*/5 * * * *', name: 'beat', payload: { hello: 1 } },
      });
      assert.equal(created.success, true, JSON.stringify(created));
      const id = created.scheduleId!;
      assert.match(id, UUID);

      const refusals: [unknown, string, string | undefined][] = [
        [{ endpoint: '/heartbeat', cron: '* * * * *' }, 'Cron too frequent (minimum interval is 5 minutes)', 'cron'],
        [{ endpoint: '/heartbeat', cron: '*/4 * * * *' }, 'Cron too frequent (minimum interval is 5 minutes)', 'cron'],
        [{ endpoint: '/heartbeat', cron: '0 9 1 * 1' }, 'Cron cannot set both day-of-month and day-of-week', 'cron'],
        [{ endpoint: '/heartbeat', cron: '0 9 * *' }, 'Invalid cron expression (expected 5 fields: m h dom mon dow)', 'cron'],
        [{ endpoint: '/heartbeat', cron: '0 9 * * *', timezone: 'Mars/Olympus' }, 'Invalid timezone', 'timezone'],
        [{ endpoint: '/internal', cron: '0 9 * * *' }, 'Endpoint not found or not schedulable', 'endpoint'],
        [{ endpoint: '/items/:id', cron: '0 9 * * *' }, 'Endpoint not found or not schedulable', 'endpoint'],
        [{ endpoint: 'DELETE /heartbeat', cron: '0 9 * * *' }, 'Endpoint not found or not schedulable', 'endpoint'],
        [{ endpoint: '/heartbeat', cron: '0 9 * * *', payload: 'not json' }, 'Payload must be valid JSON object or array', 'payload'],
        [{ endpoint: '/heartbeat', cron: '0 9 * * *', payload: '42' }, 'Payload must be a JSON object or array', 'payload'],
        [{ endpoint: '/heartbeat', cron: '0 9 * * *', name: ' beat ' }, 'Schedule name already in use for this extension', 'name'],
      ];
      for (const [input, error, field] of refusals) {
        const answer = await call<{ success: boolean; error?: string; fieldErrors?: string }>(svc, tenant, uploaded.extension_id, '/schedules/create', { body: input });
        assert.equal(answer.success, false, JSON.stringify(input));
        assert.equal(answer.error, error, JSON.stringify(input));
        assert.deepEqual(JSON.parse(answer.fieldErrors ?? '{}'), field ? { [field]: error } : {}, JSON.stringify(input));
      }

      const listed = await call<{ ok: Record<string, unknown>[] }>(svc, tenant, uploaded.extension_id, '/schedules');
      assert.equal(listed.ok.length, 1);
      assert.deepEqual(
        { ...listed.ok[0], createdAt: undefined },
        { id, endpointPath: '/heartbeat', endpointMethod: 'POST', name: 'beat', cron: '*/5 * * * *', timezone: 'UTC', enabled: true, payload: '{"hello":1}', createdAt: undefined },
      );
      assert.deepEqual((await call(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id } })).ok, listed.ok[0]);
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id: OTHER } }), { ok: null });
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id: 'not-a-uuid' } }), { err: 'validation-failed' });

      const updated = await call(svc, tenant, uploaded.extension_id, '/schedules/update', { query: { id }, body: { cron: '30 2 * * 1-5', timezone: 'Europe/Berlin', enabled: false, payload: '' } });
      assert.deepEqual(updated, { success: true });
      const after = (await call<{ ok: Record<string, unknown> }>(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id } })).ok;
      assert.equal(after['cron'], '30 2 * * 1-5');
      assert.equal(after['timezone'], 'Europe/Berlin');
      assert.equal(after['enabled'], false);
      assert.equal(after['payload'], undefined, 'the empty string cleared the payload');
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/update', { query: { id: OTHER }, body: { enabled: true } }), { success: false, error: 'Schedule not found' });

      const shown = await admin<{ schedules: Record<string, unknown>[] }>(svc, 'GET', `/admin/v1/installs/${installId}/schedules`);
      assert.equal(shown.status, 200);
      assert.equal(shown.json.schedules.length, 1);
      assert.equal(shown.json.schedules[0]!['schedule_id'], id);
      assert.equal(shown.json.schedules[0]!['tenant_id'], tenant);
      assert.equal(shown.json.schedules[0]!['enabled'], false);
      assert.equal(shown.json.schedules[0]!['last_run'], null);
      assert.equal((await admin(svc, 'GET', '/admin/v1/installs/no-such-install/schedules')).status, 404);

      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/delete', { query: { id } }), { success: true });
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/delete', { query: { id } }), { success: false, error: 'Schedule not found' });
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules'), { ok: [] });
    });

    test("create-manual-invoice: a draft invoice in the store, with Alga's validation and arithmetic; the admin API lists it", async () => {
      const put = (what: string, items: unknown[]) => admin(svc, 'PUT', `/admin/v1/tenants/${tenant}/${what}`, { items });
      assert.equal((await put('clients', [{ client_id: CLIENT, client_name: 'Acme' }])).status, 204);
      assert.equal(
        (await put('services', [{ service_id: SERVICE, service_name: 'Support', item_kind: 'service', billing_method: 'hourly', default_rate: 15000, unit_of_measure: 'hour' }])).status,
        204,
      );

      const created = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', {
        body: {
          clientId: CLIENT,
          items: [
            { serviceId: SERVICE, quantity: 2.5, description: 'Support hours', rate: 15000 },
            { serviceId: SERVICE, quantity: 1, description: '10% off', rate: 10, isDiscount: true, discountType: 'percentage' },
          ],
          invoiceDate: '2026-12-01',
          poNumber: 'PO-7',
        },
      });
      // 2.5 × 15000 = 37500; 10% of it off: −3750
      assert.deepEqual({ ...created, invoiceId: undefined }, { success: true, invoiceNumber: 'INV-000001', status: 'draft', subtotal: 33750, tax: 0, total: 33750, invoiceId: undefined });
      assert.match(String(created['invoiceId']), UUID);

      const invalid = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', {
        body: { clientId: 'nope', items: [{ serviceId: SERVICE, quantity: 0, description: ' ', rate: -1, discountType: 'fixed' }], dueDate: '1/2/2026' },
      });
      assert.equal(invalid['success'], false);
      assert.equal(invalid['error'], 'Validation error');
      assert.deepEqual(JSON.parse(String(invalid['fieldErrors'])), {
        clientId: 'Invalid UUID',
        'items[0].description': 'Required',
        'items[0].quantity': 'Must be > 0',
        'items[0].rate': 'Must be >= 0',
        'items[0].discountType': 'Not allowed unless isDiscount=true',
        dueDate: 'Invalid date (expected YYYY-MM-DD)',
      });
      const unknownClient = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', {
        body: { clientId: OTHER, items: [{ serviceId: SERVICE, quantity: 1, description: 'x', rate: 1 }] },
      });
      assert.deepEqual(unknownClient, { success: false, error: 'Client not found', fieldErrors: JSON.stringify({ clientId: 'Client not found' }) });
      const unknownService = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', {
        body: { clientId: CLIENT, items: [{ serviceId: OTHER, quantity: 1, description: 'x', rate: 1 }] },
      });
      assert.deepEqual(unknownService, { success: false, error: 'Service not found', fieldErrors: JSON.stringify({ serviceId: 'Service not found' }) });

      const listed = await admin<{ invoices: Record<string, unknown>[] }>(svc, 'GET', `/admin/v1/tenants/${tenant}/invoices`);
      assert.equal(listed.status, 200);
      assert.equal(listed.json.invoices.length, 1, 'refused invoices are not kept');
      const invoice = listed.json.invoices[0]!;
      assert.equal(invoice['invoice_number'], 'INV-000001');
      assert.equal(invoice['client_id'], CLIENT);
      assert.equal(invoice['due_date'], '2026-12-01', 'the due date defaults to the invoice date');
      assert.equal(invoice['po_number'], 'PO-7');
      assert.equal(invoice['install_id'], installId);
      assert.deepEqual(
        (invoice['items'] as Record<string, unknown>[]).map((i) => [i['net_amount'], i['is_discount']]),
        [
          [37500, false],
          [-3750, true],
        ],
      );
      assert.deepEqual((await admin<{ invoices: unknown[] }>(svc, 'GET', '/admin/v1/tenants/someone-else/invoices')).json.invoices, []);
    });

    test("an install without the grants gets Alga's denied answers, and nothing is kept", async () => {
      const other = 'tenant-ungranted';
      await createInstall(svc, { tenant_id: other, extension_id: uploaded.extension_id, grants: ['cap:storage.kv'] });
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules'), { err: 'denied' });
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/endpoints'), { err: 'denied' });
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/heartbeat', cron: '0 9 * * *' } }), {
        success: false,
        error: 'Permission denied: cap:scheduler.manage not granted',
      });
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/invoice', { body: { clientId: CLIENT, items: [] } }), {
        success: false,
        error: 'Permission denied: cap:invoice.manual.create not granted',
      });
      assert.deepEqual((await admin<{ invoices: unknown[] }>(svc, 'GET', `/admin/v1/tenants/${other}/invoices`)).json.invoices, []);
    });

    test("a due schedule runs (the store's own runner), and its outcome is its last run: success, or the status Alga reports", async () => {
      const make = async (endpoint: string) => {
        const r = await call<{ success: boolean; scheduleId: string }>(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint, cron: '0 3 * * *', payload: { from: 'test' } } });
        assert.equal(r.success, true);
        return r.scheduleId;
      };
      const beat = await make('/heartbeat');
      const broken = await make('GET /broken'); // in the manifest, not in the guest: it answers 404
      const runsBefore = (await call<{ runs: number }>(svc, tenant, uploaded.extension_id, '/runs')).runs;
      // due now, behind the runner's back (the minimum interval is 5 minutes)
      const db = svc.running.runtime.store.db as unknown as Kysely<{ extension_schedules: { id: string; next_run_at: number } }>;
      await db
        .updateTable('extension_schedules')
        .set({ next_run_at: Date.now() - 1000 })
        .where('id', 'in', [beat, broken])
        .execute();
      type Shown = { schedule_id: string; last_run: { at: string; status: string; error: string | null } | null; next_run_at: string | null };
      const lastRuns = async () => new Map((await admin<{ schedules: Shown[] }>(svc, 'GET', `/admin/v1/installs/${installId}/schedules`)).json.schedules.map((s) => [s.schedule_id, s]));
      const deadline = Date.now() + 30_000;
      let shown = await lastRuns();
      while (!(shown.get(beat)?.last_run && shown.get(broken)?.last_run)) {
        assert.ok(Date.now() < deadline, 'both schedules ran within 30 s');
        await new Promise((r) => setTimeout(r, 50));
        shown = await lastRuns();
      }
      assert.deepEqual({ ...shown.get(beat)!.last_run!, at: '' }, { at: '', status: 'success', error: null });
      assert.deepEqual({ ...shown.get(broken)!.last_run!, at: '' }, { at: '', status: 'error', error: 'Runner returned status 404' });
      assert.ok(Date.parse(shown.get(beat)!.next_run_at!) > Date.now(), 'due again at its next time');
      assert.equal((await call<{ runs: number }>(svc, tenant, uploaded.extension_id, '/runs')).runs, runsBefore + 1, 'the heartbeat ran once');
      for (const id of [beat, broken]) assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/delete', { query: { id } }), { success: true });
    });

    test("RUNNER_SCHEDULE_MUTATIONS_PER_MINUTE: an install's creates, updates and deletes beyond it in a minute get Alga's route's answer", async () => {
      const other = 'tenant-busy';
      await createInstall(svc, { tenant_id: other, extension_id: uploaded.extension_id, grants: ALL_CAPS });
      for (let i = 0; i < MUTATIONS_PER_MINUTE; i++) {
        assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules/delete', { query: { id: OTHER } }), { success: false, error: 'Schedule not found' }, `mutation ${i + 1}`);
      }
      const limited = { success: false, error: 'Too many requests, please try again later' };
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/status', cron: '0 4 * * *' } }), limited);
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules/delete', { query: { id: OTHER } }), limited);
      assert.deepEqual(await call(svc, other, uploaded.extension_id, '/schedules'), { ok: [] }, 'reads still answer');
    });

    test("at most 50 schedules per install (Alga's quota)", async () => {
      for (let i = 0; i < 50; i++) {
        const r = await call<{ success: boolean }>(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/status', cron: `${i % 60} 3 * * *` } });
        assert.equal(r.success, true, `schedule ${i}`);
      }
      assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/status', cron: '0 4 * * *' } }), {
        success: false,
        error: 'Too many schedules (max 50 per extension install)',
      });
    });
  });
}

describe("alga-world guest, Alga's internal API backend (RUNNER_TENANT_DATA_URL)", () => {
  let svc: TestService;
  let alga: FakeAlgaInternal;
  let uploaded: Uploaded;
  const installs: Record<string, FakeAlgaInstall> = {};
  const tenant = 'tenant-api';
  let installId: string;

  before(async () => {
    alga = await startFakeAlgaInternal(installs);
    svc = await startTestService({ examples: ['alga-world'], env: { RUNNER_TENANT_DATA_URL: alga.baseUrl, RUNNER_TENANT_DATA_TOKEN: RUNNER_AUTH } });
    uploaded = await uploadAlgaWorld(svc);
    installId = await createInstall(svc, { tenant_id: tenant, extension_id: uploaded.extension_id, grants: ALL_CAPS });
    installs[installId] = { providers: ALL_CAPS };
  });
  after(async () => {
    await svc?.close();
    await alga?.close();
  });

  const callsFor = (what: string) => alga.calls.filter((c) => c.path === `/api/internal/ext-${what}/install/${encodeURIComponent(installId)}`);

  test("scheduler: the calls Alga's runner makes (operation, camelCase fields, absent options left out, x-runner-auth), and its answers read back", async () => {
    const created = await call<{ success: boolean; scheduleId: string }>(svc, tenant, uploaded.extension_id, '/schedules/create', {
      body: { endpoint: 'POST /heartbeat', cron: '*/5 * * * *', payload: { a: [1] } },
    });
    assert.equal(created.success, true);
    const sent = callsFor('scheduler').at(-1)!;
    assert.equal(sent.headers['x-runner-auth'], RUNNER_AUTH);
    assert.deepEqual(sent.body, { operation: 'create', endpoint: 'POST /heartbeat', cron: '*/5 * * * *', payload: { a: [1] } });

    const listed = await call<{ ok: Record<string, unknown>[] }>(svc, tenant, uploaded.extension_id, '/schedules');
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'list' });
    assert.equal(listed.ok.length, 1);
    assert.equal(listed.ok[0]!['id'], created.scheduleId);
    assert.equal(listed.ok[0]!['payload'], '{"a":[1]}', 'a JSON payload reaches the guest as JSON text');

    const got = await call<{ ok: Record<string, unknown> }>(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id: created.scheduleId } });
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'get', scheduleId: created.scheduleId });
    assert.equal(got.ok['cron'], '*/5 * * * *');
    assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/get', { query: { id: 'x' } }), { err: 'validation-failed' }, "Alga's 400 is validation-failed");

    const endpoints = await call<{ ok: Record<string, unknown>[] }>(svc, tenant, uploaded.extension_id, '/endpoints');
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'getEndpoints' });
    assert.deepEqual(
      endpoints.ok.map((e) => [e['path'], e['schedulable']]),
      [
        ['/heartbeat', true],
        ['/items/:id', false],
      ],
    );

    const refused = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/heartbeat', cron: '0 9 * *', name: 'n', enabled: false } });
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'create', endpoint: '/heartbeat', cron: '0 9 * *', name: 'n', enabled: false });
    const cronError = 'Invalid cron expression (expected 5 fields: m h dom mon dow)';
    assert.deepEqual(refused, { success: false, error: cronError, fieldErrors: JSON.stringify({ cron: cronError }) }, "Alga's words on a 400 reach the guest");

    assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/update', { query: { id: created.scheduleId }, body: { enabled: false, payload: '' } }), { success: true });
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'update', scheduleId: created.scheduleId, enabled: false, payload: null });
    assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/delete', { query: { id: OTHER } }), { success: false, error: 'Schedule not found' });
    assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/delete', { query: { id: created.scheduleId } }), { success: true });
    assert.deepEqual(callsFor('scheduler').at(-1)!.body, { operation: 'delete', scheduleId: created.scheduleId });

    // Alga's route allows 10 create/update/delete calls a minute per install; the 11th is a 429
    const mutations = () => callsFor('scheduler').filter((c) => ['create', 'update', 'delete'].includes(String(c.body['operation']))).length;
    while (mutations() < 10) await call(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/heartbeat', cron: '0 9 * * *' } });
    assert.deepEqual(await call(svc, tenant, uploaded.extension_id, '/schedules/create', { body: { endpoint: '/heartbeat', cron: '0 9 * * *' } }), {
      success: false,
      error: 'Too many requests, please try again later',
    });
    assert.ok(svc.logText().includes('Alga scheduler API answered HTTP 429 to create'), 'the reason is in the install log');
  });

  test("invoicing: the body Alga's runner sends, the invoice read from Alga's answer, Alga's refusals passed on", async () => {
    const created = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', {
      body: { clientId: CLIENT, items: [{ serviceId: SERVICE, quantity: 3, description: 'Hours', rate: 1000 }], dueDate: '2026-12-31' },
    });
    const sent = callsFor('invoicing').at(-1)!;
    assert.equal(sent.headers['x-runner-auth'], RUNNER_AUTH);
    assert.deepEqual(sent.body, {
      operation: 'createManualInvoice',
      clientId: CLIENT,
      items: [{ serviceId: SERVICE, quantity: 3, description: 'Hours', rate: 1000 }],
      dueDate: '2026-12-31',
    });
    assert.deepEqual({ ...created, invoiceId: undefined }, { success: true, invoiceNumber: 'INV-1042', status: 'draft', subtotal: 3000, tax: 0, total: 3000, invoiceId: undefined });
    assert.match(String(created['invoiceId']), UUID);

    const invalid = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', { body: { clientId: 'bad', items: [] } });
    assert.deepEqual(invalid, { success: false, error: 'Validation error', fieldErrors: JSON.stringify({ clientId: 'Invalid UUID' }) });

    installs[installId] = { providers: ['cap:storage.kv'] }; // Alga's own grant check: 403
    const forbidden = await call<Record<string, unknown>>(svc, tenant, uploaded.extension_id, '/invoice', { body: { clientId: CLIENT, items: [] } });
    assert.deepEqual(forbidden, { success: false, error: 'Permission denied: cap:invoice.manual.create not granted' });
    installs[installId] = { providers: ALL_CAPS };
    assert.deepEqual((await admin<{ invoices: unknown[] }>(svc, 'GET', `/admin/v1/tenants/${tenant}/invoices`)).json.invoices, [], 'Alga keeps them, not the store');
  });

  test('an ungranted install is answered by the runner without calling Alga', async () => {
    const other = await createInstall(svc, { tenant_id: 'tenant-api-ungranted', extension_id: uploaded.extension_id, grants: [] });
    installs[other] = { providers: [] };
    const before = alga.calls.length;
    assert.deepEqual(await call(svc, 'tenant-api-ungranted', uploaded.extension_id, '/schedules'), { err: 'denied' });
    assert.deepEqual(
      (await call<Record<string, unknown>>(svc, 'tenant-api-ungranted', uploaded.extension_id, '/invoice', { body: { clientId: CLIENT, items: [] } }))['error'],
      'Permission denied: cap:invoice.manual.create not granted',
    );
    assert.equal(alga.calls.length, before);
  });
});
