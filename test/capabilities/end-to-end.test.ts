/**
 * Every capability exercised end to end by the kitchen-sink guest through the engine:
 * granted and denied paths for every interface, on both store backends — and on
 * SQLite once more with the reads answered in the guest's worker (`in-worker` delivery, which the
 * pool uses when the main thread cannot hot-wait: here never), which must answer exactly the same.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../store/backends.js';
import { createTestRuntime, bodyJson, type TestRuntime } from '../support/runtime.js';
import { startServer, type LoopbackServer } from '../net/loopback.js';
import type { CapabilityName } from '../../src/capabilities/capability.js';
import { DEMO_CLIENTS, DEMO_SERVICES } from '../../src/capabilities/demo-data.js';

const ALL: CapabilityName[] = ['cap:context.read', 'cap:log.emit', 'cap:user.read', 'cap:secrets.get', 'cap:http.fetch', 'cap:storage.kv', 'cap:ui.proxy', 'cap:client.read', 'cap:service.read'];
const without = (cap: CapabilityName) => ALL.filter((c) => c !== cap);
const user = { userId: 'u-1', userEmail: 'ann@example.com', userName: 'Ann', userType: 'internal', clientName: 'Acme', clientId: 'c-9', additionalFields: { zeta: 'z', alpha: 'a' } };

const legs = [
  ...backends('e2e').map((backend) => ({ backend, label: backend.name, workerReads: false })),
  ...backends('e2e-worker')
    .filter((b) => b.name === 'sqlite')
    .map((backend) => ({ backend, label: 'sqlite, reads in the worker', workerReads: true })),
];

for (const { backend, label, workerReads } of legs) {
  describe(`capabilities through the kitchen-sink guest on ${label}`, { skip: backend.skip }, () => {
    let rt: TestRuntime;
    let hash: string;
    let web: LoopbackServer;
    let upstream: LoopbackServer;
    const installId = `inst-${backend.name}`;
    /** calls the worker answered itself, over the leg */
    let inWorker = 0;
    const run = async (url: string, o: Parameters<TestRuntime['run']>[2] = {}) => {
      const out = await rt.run(hash, url, {
        grants: ALL,
        ...o,
        install: { installId, egressAllow: [`http://127.0.0.1:${web.port}`], uiProxy: { baseUrl: `http://127.0.0.1:${upstream.port}/api` }, ...o.install },
      });
      inWorker += out.report.stats?.workerCalls.length ?? 0;
      return out;
    };
    const kvPut = (body: object, grants = ALL) => run('/kv/put', { method: 'POST', body: JSON.stringify(body), grants });

    before(async () => {
      // without a hot wait the pool always lets the worker run its reads (hot-wait.ts `workerPlan`)
      rt = await createTestRuntime({ store: backend.options, ...(workerReads ? { hotWaitMs: 0 } : {}) });
      hash = await rt.install('kitchen-sink');
      web = await startServer((req, res, body) => {
        res.setHeader('content-type', 'text/plain');
        res.end(`web saw ${req.method} ${req.url} ${body.toString()}`);
      });
      upstream = await startServer((req, res, body) => {
        if (req.url === '/api/missing') {
          res.statusCode = 404;
          return res.end();
        }
        res.end(JSON.stringify({ url: req.url, method: req.method, tenant: req.headers['x-alga-tenant'], key: req.headers['x-api-key'], body: body.toString() }));
      });
      await rt.tenantData.replaceClients('tenant-a', DEMO_CLIENTS);
      await rt.tenantData.replaceServices('tenant-a', DEMO_SERVICES);
    });
    after(async () => {
      await rt?.close();
      await web?.close();
      await upstream?.close();
      await backend.dispose();
    });

    test('storage: put, compare-and-swap, get, list, delete; denied without cap:storage.kv', async () => {
      assert.deepEqual(bodyJson(await kvPut({ ns: 'n', key: 'a', value: 'one' })), { ok: { namespace: 'n', key: 'a', value: 'one', revision: '1' } });
      assert.deepEqual(bodyJson(await kvPut({ ns: 'n', key: 'a', value: 'two', revision: 1 })), { ok: { namespace: 'n', key: 'a', value: 'two', revision: '2' } });
      assert.deepEqual(bodyJson(await kvPut({ ns: 'n', key: 'a', value: 'stale', revision: 1 })), { err: 'conflict' });
      assert.deepEqual(bodyJson(await kvPut({ ns: 'n', key: 'a', value: 'x', revision: 0 })), { err: 'conflict' });
      await kvPut({ ns: 'n', key: 'b', value: 'bee' });
      assert.deepEqual(bodyJson(await run('/kv/get?ns=n&key=a')), { ok: { namespace: 'n', key: 'a', value: 'two', revision: '2' } });
      const listed = bodyJson<{ ok: { key: string }[] }>(await run('/kv/list?ns=n'));
      assert.deepEqual(
        listed.ok.map((e) => e.key),
        ['a', 'b'],
      );
      assert.deepEqual(bodyJson(await run('/kv/list?ns=n&cursor=b')), { ok: [] });
      assert.deepEqual(bodyJson(await run('/kv/delete?ns=n&key=a')), { ok: null });
      assert.deepEqual(bodyJson(await run('/kv/get?ns=n&key=a')), { err: 'missing' });
      assert.deepEqual(bodyJson(await run('/kv/get?ns=n&key=b', { grants: without('cap:storage.kv') })), { err: 'denied' });
      assert.deepEqual(bodyJson(await kvPut({ ns: 'n', key: 'c', value: 'no' }, without('cap:storage.kv'))), { err: 'denied' });
      // another install sees nothing of this one's data
      assert.deepEqual(bodyJson(await run('/kv/get?ns=n&key=b', { install: { installId: 'someone-else' } })), { err: 'missing' });
    });

    test("secrets: an execution's envelope secrets over the stored ones (get, list); still denied without cap:secrets.get", async () => {
      await rt.store.secrets.putSecrets(installId, { api_key: 'k-123', other: 'o' });
      const envelope = { install: { installId, envelopeSecrets: { api_key: 'from-envelope', only_here: 'e' } } };
      assert.deepEqual(bodyJson(await run('/secrets/get?key=api_key', envelope)), { ok: 'from-envelope' });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=other', envelope)), { ok: 'o' });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=only_here', envelope)), { ok: 'e' });
      assert.deepEqual(bodyJson(await run('/secrets/list', envelope)), { ok: ['api_key', 'only_here', 'other'] });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=api_key', { ...envelope, grants: without('cap:secrets.get') })), { err: 'denied' });
      // the next execution without an envelope sees the stored secrets alone
      assert.deepEqual(bodyJson(await run('/secrets/get?key=only_here')), { err: 'missing' });
    });

    test('secrets: get and list from the encrypted store; missing, expired; denied without cap:secrets.get', async () => {
      await rt.store.secrets.putSecrets(installId, { api_key: 'k-123', other: 'o' });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=api_key')), { ok: 'k-123' });
      assert.deepEqual(bodyJson(await run('/secrets/list')), { ok: ['api_key', 'other'] });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=nope')), { err: 'missing' });
      await rt.store.secrets.putSecrets('inst-expired', { old: 'v' }, new Date(Date.now() - 1000));
      assert.deepEqual(bodyJson(await run('/secrets/get?key=old', { install: { installId: 'inst-expired' } })), { err: 'expired' });
      assert.deepEqual(bodyJson(await run('/secrets/get?key=api_key', { grants: without('cap:secrets.get') })), { err: 'denied' });
      assert.deepEqual(bodyJson(await run('/secrets/list', { grants: without('cap:secrets.get') })), { ok: [] });
    });

    test('http: fetch through the egress policy to an allowed loopback server; refused off the allowlist; denied without cap:http.fetch', async () => {
      const fetchBody = (url: string) => JSON.stringify({ method: 'POST', url, headers: [['x-a', '1']], body: 'ping' });
      const ok = bodyJson<{ ok: { status: number; body: string } }>(await run('/fetch', { method: 'POST', body: fetchBody(`http://127.0.0.1:${web.port}/hello?q=1`) }));
      assert.equal(ok.ok.status, 200);
      assert.equal(ok.ok.body, 'web saw POST /hello?q=1 ping');
      assert.deepEqual(bodyJson(await run('/fetch', { method: 'POST', body: fetchBody(`http://127.0.0.1:${upstream.port}/`) })), { err: 'not-allowed' });
      assert.deepEqual(bodyJson(await run('/fetch', { method: 'POST', body: fetchBody('not a url') })), { err: 'invalid-url' });
      assert.deepEqual(bodyJson(await run('/fetch', { method: 'POST', body: fetchBody(`http://127.0.0.1:${web.port}/`), grants: without('cap:http.fetch') })), { err: 'not-allowed' });
    });

    test('ui-proxy: forwards to the install upstream with identity and credential; 404 → route-not-found; denied without cap:ui.proxy', async () => {
      await rt.store.secrets.putSecrets(installId, { api_key: 'k-123' });
      const out = bodyJson<{ ok: string }>(await run('/proxy?route=/things', { method: 'POST', body: '{"x":1}' }));
      const seen = JSON.parse(out.ok) as Record<string, string>;
      assert.equal(seen.url, '/api/things');
      assert.equal(seen.method, 'POST');
      assert.equal(seen.tenant, 'tenant-a');
      assert.equal(seen.key, 'k-123');
      assert.equal(seen.body, '{"x":1}');
      assert.deepEqual(bodyJson(await run('/proxy?route=/missing')), { err: 'route-not-found' });
      assert.deepEqual(bodyJson(await run('/proxy?route=/../etc')), { err: 'bad-request' });
      assert.deepEqual(bodyJson(await run('/proxy?route=/things', { grants: without('cap:ui.proxy') })), { err: 'denied' });
    });

    test("user-v2: the request's user with sorted additional fields; absent → not-available; denied → not-allowed", async () => {
      const got = bodyJson<{ ok: Record<string, unknown> }>(await run('/user', { user }));
      assert.equal(got.ok.userId, 'u-1');
      assert.equal(got.ok.clientName, 'Acme');
      assert.equal(got.ok.clientId, 'c-9');
      assert.equal(got.ok.tenantId, 'tenant-a');
      assert.deepEqual(got.ok.additionalFields, [
        ['alpha', 'a'],
        ['zeta', 'z'],
      ]);
      assert.deepEqual(bodyJson(await run('/user')), { err: 'not-available' });
      assert.deepEqual(bodyJson(await run('/user', { user, grants: without('cap:user.read') })), { err: 'not-allowed' });
    });

    test('clients and services: tenant-scoped, searched, paged; denied → not-allowed', async () => {
      const page = bodyJson<{ ok: { items: { clientName: string }[]; totalCount: number; page: number; pageSize: number } }>(await run('/clients?page_size=5'));
      assert.equal(page.ok.items.length, 5);
      assert.equal(page.ok.totalCount, DEMO_CLIENTS.filter((c) => !c.isInactive).length);
      const names = page.ok.items.map((c) => c.clientName);
      assert.deepEqual(
        names,
        [...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())),
      );
      const one = DEMO_CLIENTS[0]!;
      assert.equal(bodyJson<{ ok: { clientId: string } }>(await run(`/client?id=${one.clientId}`)).ok.clientId, one.clientId);
      assert.deepEqual(bodyJson(await run(`/client?id=${one.clientId}`, { tenant: 'tenant-b' })), { ok: null });
      assert.deepEqual(bodyJson(await run('/clients?page=0')), { err: 'invalid-input' });
      const services = bodyJson<{ ok: { items: { itemKind: string }[] } }>(await run('/services?item_kind=product'));
      assert.ok(services.ok.items.length > 0 && services.ok.items.every((s) => s.itemKind === 'product'));
      assert.deepEqual(bodyJson(await run('/clients', { grants: without('cap:client.read') })), { err: 'not-allowed' });
      assert.deepEqual(bodyJson(await run('/services', { grants: without('cap:service.read') })), { err: 'not-allowed' });
    });

    test('context and logging are granted by default; without them the guest learns only its tenant and its logs are dropped', async () => {
      const ctx = bodyJson<{ ok: Record<string, unknown> }>(await run('/context', { grants: without('cap:context.read') }));
      assert.deepEqual(ctx.ok, { tenantId: 'tenant-a', extensionId: 'ext-1' });
      const dropped = await run('/log?level=info&msg=quiet', { grants: without('cap:log.emit') });
      assert.ok(!dropped.logs.some((r) => r.message === 'quiet'));
    });

    test('/all calls every import of the world once with everything granted', async () => {
      const all = bodyJson<Record<string, { ok?: unknown; err?: string }>>(await run(`/all?fetch=${encodeURIComponent(`http://127.0.0.1:${web.port}/all`)}&route=/ping`, { user }));
      for (const fn of [
        'context.get-context',
        'secrets.get',
        'secrets.list',
        'http.fetch',
        'storage.get',
        'storage.put',
        'storage.list',
        'storage.delete',
        'logging.info',
        'logging.warn',
        'logging.error',
        'ui-proxy.call',
        'user-v2.get-user',
        'clients.list-clients',
        'clients.get-client',
        'services.list-services',
        'services.get-service',
      ]) {
        assert.ok(fn in all, `missing ${fn} in ${Object.keys(all).join(',')}`);
      }
      assert.ok('ok' in all['http.fetch']!, JSON.stringify(all['http.fetch']));
      assert.ok('ok' in all['user-v2.get-user']!);
    });

    test(workerReads ? 'the reads above were answered in the worker' : 'every call above was a round trip or answered from the dispatch', () => {
      if (workerReads) assert.ok(inWorker > 20, `${inWorker} calls answered in the worker`);
      else assert.equal(inWorker, 0);
    });
  });
}
