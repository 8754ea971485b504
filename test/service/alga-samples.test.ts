/**
 * examples/alga-samples — our guest doing what each of Alga PSA's sample extensions does, built
 * against Alga's world so it imports every interface of it — installed as Alga would install it and
 * called as Alga's extension proxy calls (test/support/alga-gateway.ts), in both modes on SQLite
 * and PostgreSQL: standalone (registry mirrored under Alga's ids, clients, services, schedules,
 * invoices and secrets in the runner's store) and Alga-managed (everything in a loopback server
 * playing Alga: test/support/fake-alga.ts). docs/alga.md, "Alga's samples", maps each sample to
 * the routes and assertions here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packBundle } from '../../src/bundle/index.js';
import { admin, exampleBytes, repoRoot, startTestService, type TestService } from './harness.js';
import { TEST_DATABASE_URL, dropTestSchema, postgresSkipReason } from '../support/postgres.js';
import { algaProxyRequest, proxyBrowserAnswer, sendToRunner, type AlgaInstallIds } from '../support/alga-gateway.js';
import { ALGA_LEGS, FAKE_ALGA_API_KEY, FAKE_CLIENT_ID, FAKE_SERVICE_ID, algaBundleKey, managedModeEnv, startFakeAlga, type FakeAlga } from '../support/fake-alga.js';

const manifestJson = readFileSync(join(repoRoot, 'examples', 'alga-samples', 'manifest.json'), 'utf8');
const manifest = JSON.parse(manifestJson) as { capabilities: string[]; api: { endpoints: { method: string; path: string; handler: string }[] } };
const SECRETS = { greeting: 'Hello from Alga secrets', ALGA_API_KEY: FAKE_ALGA_API_KEY };

type Json = Record<string, unknown>;

const pgSkip = await postgresSkipReason();

for (const leg of ALGA_LEGS) {
  describe(`Alga's samples, as examples/alga-samples: ${leg.mode} mode on ${leg.store}`, { skip: leg.store === 'PostgreSQL' ? pgSkip : false }, () => {
    const schema = `svc_samples_${process.pid}_${randomBytes(4).toString('hex')}`;
    let alga: FakeAlga;
    let svc: TestService;
    let ids: AlgaInstallIds;

    /** One call as Alga's extension proxy makes it; what the browser gets, the body parsed. */
    async function call(target: string, o: { method?: string; body?: unknown } = {}): Promise<{ status: number; json: Json }> {
      const request = algaProxyRequest(ids, target, {
        ...o,
        providers: manifest.capabilities,
        serviceToken: svc.serviceToken,
        // managed: Alga keeps the secrets and sends them sealed; standalone: the runner stores them
        secretEnvelope: leg.mode === 'managed' ? { ciphertext_b64: Buffer.from(JSON.stringify(SECRETS)).toString('base64'), algorithm: 'inline/base64' } : undefined,
      });
      const answer = proxyBrowserAnswer(await sendToRunner(svc.url, request), request.requestId);
      return { status: answer.status, json: JSON.parse(answer.body || '{}') as Json };
    }

    before(async () => {
      alga = await startFakeAlga();
      const env: Record<string, string> = {};
      if (leg.store === 'PostgreSQL') Object.assign(env, { DATABASE_URL: TEST_DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema });
      if (leg.mode === 'managed') {
        Object.assign(env, managedModeEnv(alga), { RUNNER_MANAGED_EGRESS_ALLOW: alga.url });
      }
      svc = await startTestService({ examples: ['alga-samples'], env });
      const packed = await packBundle({ manifestJson, mainWasm: exampleBytes('alga-samples') });
      if (packed.kind !== 'ok') throw new Error(packed.error.message);
      ids = { tenantId: randomUUID(), registryId: randomUUID(), installId: randomUUID(), versionId: randomUUID(), contentHash: packed.value.contentHash };
      if (leg.mode === 'managed') {
        alga.objects.set(algaBundleKey(ids), packed.value.bytes);
        alga.endpointsOf.set(ids.installId, manifest.api.endpoints);
        return;
      }
      const ok = (r: { status: number; json: unknown }, status: number) => assert.equal(r.status, status, JSON.stringify(r.json));
      ok(await admin(svc, 'POST', `/admin/v1/extensions?extension_id=${ids.registryId}&version_id=${ids.versionId}`, packed.value.bytes, { 'content-type': 'application/zstd' }), 201);
      ok(
        await admin(svc, 'POST', '/admin/v1/installs', {
          install_id: ids.installId,
          tenant_id: ids.tenantId,
          extension_id: ids.registryId,
          version_id: ids.versionId,
          grants: manifest.capabilities,
          egress: { allow: [alga.url] },
        }),
        201,
      );
      ok(await admin(svc, 'PUT', `/admin/v1/installs/${ids.installId}/secrets`, { values: SECRETS }), 204);
      ok(await admin(svc, 'PUT', `/admin/v1/tenants/${ids.tenantId}/clients`, { items: [{ client_id: FAKE_CLIENT_ID, client_name: 'Acme Corp' }] }), 204);
      ok(
        await admin(svc, 'PUT', `/admin/v1/tenants/${ids.tenantId}/services`, {
          items: [{ service_id: FAKE_SERVICE_ID, service_name: 'Support', item_kind: 'service', billing_method: 'hourly', default_rate: 15000, unit_of_measure: 'hour' }],
        }),
        204,
      );
    });
    after(async () => {
      await svc?.close();
      await alga?.close();
      if (leg.store === 'PostgreSQL') await dropTestSchema(schema);
    });

    test('client-service-read-demo: the first page of clients and of services; only GET', async () => {
      const clients = await call('/client-service-read/api/clients');
      assert.equal(clients.status, 200, JSON.stringify(clients.json));
      const page = clients.json['clients'] as { items: Json[]; totalCount: number };
      assert.deepEqual(
        page.items.map((c) => [c['clientId'], c['clientName']]),
        [[FAKE_CLIENT_ID, 'Acme Corp']],
      );
      const services = await call('/client-service-read/api/services');
      assert.deepEqual(
        (services.json['services'] as { items: Json[] }).items.map((s) => [s['serviceId'], s['serviceName'], s['itemKind']]),
        [[FAKE_SERVICE_ID, 'Support', 'service']],
      );
      assert.equal((await call('/client-service-read/api/clients', { method: 'POST', body: {} })).status, 405);
      if (leg.mode === 'managed')
        assert.ok(
          alga.calls.some((c) => c.api === 'clients' && c.installId === ids.installId),
          "Alga's clients API, with Alga's install id",
        );
    });

    test('invoicing-demo: status; a manual invoice created; a body it refuses before calling the host', async () => {
      const status = await call('/invoicing/api/status');
      assert.deepEqual(status.json, { status: 'healthy', tenant: ids.tenantId, extension: ids.registryId });
      const created = await call('/invoicing/api/create-manual-invoice', {
        method: 'POST',
        body: { clientId: FAKE_CLIENT_ID, items: [{ serviceId: FAKE_SERVICE_ID, quantity: 2, description: 'Support', rate: 15000 }] },
      });
      assert.equal(created.status, 200, JSON.stringify(created.json));
      assert.equal(created.json['success'], true);
      assert.match(String(created.json['invoiceNumber']), /^INV-\d+$/);
      assert.deepEqual([created.json['status'], created.json['subtotal'], created.json['total']], ['draft', 30000, 30000]);
      const refused = await call('/invoicing/api/create-manual-invoice', { method: 'POST', body: { items: [] } });
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.json, { error: 'validation_failed', fieldErrors: { clientId: 'clientId is required.', items: 'items must be a non-empty array.' } });
      if (leg.mode === 'standalone') {
        const kept = await admin<{ invoices: Json[] }>(svc, 'GET', `/admin/v1/tenants/${ids.tenantId}/invoices`);
        assert.deepEqual(
          kept.json.invoices.map((i) => i['invoice_number']),
          [created.json['invoiceNumber']],
        );
      } else {
        assert.equal(alga.calls.filter((c) => c.api === 'invoicing' && c.installId === ids.installId).length, 1);
      }
    });

    test('scheduler-demo: setup creates its two schedules once; list; delete one; the schedulable endpoints answer', async () => {
      const setup = await call('/scheduler/api/setup', { method: 'POST' });
      assert.equal(setup.status, 200, JSON.stringify(setup.json));
      const results = setup.json['results'] as Json[];
      assert.deepEqual(
        results.map((r) => [r['name'], r['success']]),
        [
          ['Heartbeat Check', true],
          ['Daily Status Check', true],
        ],
      );
      const again = await call('/scheduler/api/setup', { method: 'POST' });
      assert.deepEqual(
        (again.json['results'] as Json[]).map((r) => r['skipped']),
        [true, true],
        'existing schedules are not made twice',
      );
      const listed = await call('/scheduler/api/schedules');
      const schedules = listed.json['schedules'] as Json[];
      assert.equal(listed.json['count'], 2);
      assert.deepEqual(schedules.map((s) => `${String(s['endpointMethod'])} ${String(s['endpointPath'])} ${String(s['cron'])}`).sort(), [
        'GET /scheduler/api/status 0 9 * * *',
        'POST /scheduler/api/heartbeat */5 * * * *',
      ]);
      const deleted = await call(`/scheduler/api/schedules/${String(schedules[0]!['id'])}`, { method: 'DELETE' });
      assert.deepEqual(deleted.json, { deleted: schedules[0]!['id'] });
      assert.equal((await call('/scheduler/api/schedules')).json['count'], 1);
      assert.equal((await call(`/scheduler/api/schedules/${randomUUID()}`, { method: 'DELETE' })).status, 404);
      assert.deepEqual((await call('/scheduler/api/heartbeat', { method: 'POST' })).json, { event: 'heartbeat', tenant: ids.tenantId });
      assert.equal((await call('/scheduler/api/status')).json['status'], 'healthy');
    });

    test('secrets-demo: the greeting secret, from the install (standalone) or the envelope (managed)', async () => {
      const r = await call('/secrets');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json, { message: 'Hello from Alga secrets' });
    });

    test('service-proxy-demo: the API key secret sent to the ticket API through http.fetch, by query or by proxy body; a base outside the allowlist is not-allowed', async () => {
      const byQuery = await call(`/service-proxy?limit=1&base=${encodeURIComponent(alga.url)}`);
      assert.deepEqual(byQuery.json, { ok: true, tickets: [{ ticket_id: 'T-1', title: 'Printer on fire', status_name: 'Open' }], upstreamStatus: 200, limit: 1, fromProxy: false });
      const byProxy = await call('/service-proxy/proxy/tickets', { method: 'POST', body: { limit: 2, base: alga.url } });
      assert.equal((byProxy.json['tickets'] as unknown[]).length, 2);
      assert.equal(byProxy.json['fromProxy'], true);
      const elsewhere = await call('/service-proxy?limit=1');
      assert.deepEqual(elsewhere.json, { ok: false, tickets: [], upstreamStatus: 502, error: 'not-allowed', limit: 1, fromProxy: false });
    });

    test('client-portal-test: context with Alga’s ids, and the user through user-v2 and user', async () => {
      const r = await call('/client-portal');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json['context'], { tenantId: ids.tenantId, extensionId: ids.registryId, installId: ids.installId });
      assert.equal((r.json['user'] as Json)['userName'], 'Ada L');
      assert.equal((r.json['user'] as Json)['userEmail'], 'ada@example.com');
      assert.equal(r.json['clientName'], 'Acme');
      assert.equal(r.json['userError'], null);
    });
  });
}
