/**
 * Alga PSA's three callers of /v1/execute — its extension proxy, its API route and its
 * scheduled-job handler — send their requests field by field as Alga's code builds them, and
 * what they make of each answer is what Alga's code makes of it (test/support/alga-gateway.ts):
 * in both modes (standalone with Alga's registry mirrored under Alga's ids; Alga-managed, the
 * bundle in a loopback server playing Alga's bundle store, test/support/fake-alga.ts), on SQLite and PostgreSQL.
 *
 * The API route and the scheduled job send no token: the runner accepts them from 127.0.0.1
 * (RUNNER_TOKENLESS_NETWORKS; the refusal from elsewhere is alga-callers.test.ts's).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { packBundle } from '../../src/bundle/index.js';
import { admin, exampleBytes, startTestService, type TestService } from './harness.js';
import { TEST_DATABASE_URL, dropTestSchema, postgresSkipReason } from '../support/postgres.js';
import {
  algaApiRouteRequest,
  algaProxyRequest,
  algaScheduledJobRequest,
  apiRouteBrowserAnswer,
  proxyBrowserAnswer,
  scheduledJobOutcome,
  sendToRunner,
  type AlgaInstallIds,
} from '../support/alga-gateway.js';
import { ALGA_LEGS, algaBundleKey, managedModeEnv, startFakeAlga, type FakeAlga } from '../support/fake-alga.js';

const PROVIDERS = ['cap:context.read', 'cap:log.emit'];

interface Echoed {
  method: string;
  url: string;
  headers: [string, string][];
  body: string | null;
}

async function kitchenBundle(): Promise<{ bytes: Buffer; contentHash: string }> {
  const packed = await packBundle({
    manifestJson: JSON.stringify({ name: 'com.acme.three-callers', publisher: 'Acme', version: '1.0.0', runtime: 'wasm-js@1', capabilities: PROVIDERS }),
    mainWasm: exampleBytes('kitchen-sink'),
  });
  if (packed.kind !== 'ok') throw new Error(packed.error.message);
  return { bytes: packed.value.bytes, contentHash: packed.value.contentHash };
}

const pgSkip = await postgresSkipReason();

for (const leg of ALGA_LEGS) {
  describe(`Alga's three callers, ${leg.mode} mode on ${leg.store}`, { skip: leg.store === 'PostgreSQL' ? pgSkip : false }, () => {
    const schema = `svc_three_${process.pid}_${randomBytes(4).toString('hex')}`;
    let alga: FakeAlga;
    let svc: TestService;
    let ids: AlgaInstallIds;
    /** an install Alga knows and this runner cannot run (not mirrored / bundle not in the store) */
    let unknown: AlgaInstallIds;

    before(async () => {
      alga = await startFakeAlga();
      const env: Record<string, string> = { RUNNER_TOKENLESS_NETWORKS: '127.0.0.1/32' };
      if (leg.store === 'PostgreSQL') Object.assign(env, { DATABASE_URL: TEST_DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema });
      if (leg.mode === 'managed') {
        Object.assign(env, managedModeEnv(alga));
      }
      svc = await startTestService({ env });
      const bundle = await kitchenBundle();
      ids = { tenantId: randomUUID(), registryId: randomUUID(), installId: randomUUID(), versionId: randomUUID(), contentHash: bundle.contentHash };
      unknown = { ...ids, tenantId: randomUUID(), installId: randomUUID(), registryId: randomUUID() };
      if (leg.mode === 'managed') {
        alga.objects.set(algaBundleKey(ids), bundle.bytes);
      } else {
        // the operator's mirror: Alga's bundle under Alga's registry and version ids, the install under Alga's install id
        const up = await admin<{ content_hash: string }>(svc, 'POST', `/admin/v1/extensions?extension_id=${ids.registryId}&version_id=${ids.versionId}`, bundle.bytes, {
          'content-type': 'application/zstd',
        });
        assert.equal(up.status, 201, JSON.stringify(up.json));
        assert.equal(up.json.content_hash, bundle.contentHash, "the runner's hash of the bundle is the one Alga stores it under");
        const inst = await admin(svc, 'POST', '/admin/v1/installs', { install_id: ids.installId, tenant_id: ids.tenantId, extension_id: ids.registryId, version_id: ids.versionId, grants: PROVIDERS });
        assert.equal(inst.status, 201, JSON.stringify(inst.json));
      }
    });
    after(async () => {
      await svc?.close();
      await alga?.close();
      if (leg.store === 'PostgreSQL') await dropTestSchema(schema);
    });

    test('the extension proxy: GET and POST reach the guest as Alga filtered them; the browser gets the guest’s status, allowed headers and body', async () => {
      const get = algaProxyRequest(ids, '/echo?page=2', { providers: PROVIDERS, serviceToken: svc.serviceToken });
      const got = proxyBrowserAnswer(await sendToRunner(svc.url, get), get.requestId);
      assert.equal(got.status, 200, got.body);
      assert.deepEqual(got.headers, { 'content-type': 'application/json' });
      const seen = JSON.parse(got.body) as Echoed;
      assert.equal(seen.method, 'GET');
      assert.equal(seen.url, '/echo?page=2');
      assert.deepEqual(
        Object.fromEntries(seen.headers),
        { accept: 'application/json', 'user-agent': 'Mozilla/5.0', 'x-request-id': get.requestId, 'x-alga-tenant': ids.tenantId, 'x-alga-extension': ids.registryId },
        'the headers handler.ts passes, no authorization',
      );

      const post = algaProxyRequest(ids, '/echo', { method: 'POST', body: { n: 1 }, providers: PROVIDERS, serviceToken: svc.serviceToken });
      const posted = proxyBrowserAnswer(await sendToRunner(svc.url, post), post.requestId);
      const echoed = JSON.parse(posted.body) as Echoed;
      assert.equal(echoed.method, 'POST');
      assert.equal(echoed.body, '{"n":1}');
      const headers = Object.fromEntries(echoed.headers);
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['x-idempotency-key'], (post.body['http'] as { headers: Record<string, string> }).headers['x-idempotency-key'], 'the key filterRequestHeaders adds to a non-GET request');

      const missing = algaProxyRequest(ids, '/no-such-route', { providers: PROVIDERS, serviceToken: svc.serviceToken });
      const notFound = proxyBrowserAnswer(await sendToRunner(svc.url, missing), missing.requestId);
      assert.equal(notFound.status, 404, "the guest's own 404");
      assert.deepEqual(JSON.parse(notFound.body), { error: 'not_found', path: '/no-such-route' });
    });

    test('the API route: no token; a POST with its idempotency key runs once (the retry replays), a GET carries none; the browser gets the guest’s status and body', async () => {
      const post = algaApiRouteRequest(ids, '/env', { method: 'POST', body: { a: 1 }, providers: PROVIDERS, idempotencyKey: `route-${randomUUID()}` });
      assert.equal(post.headers['x-runner-service-token'], undefined);
      const first = apiRouteBrowserAnswer(await sendToRunner(svc.url, post), post.requestId);
      assert.equal(first.status, 200, first.body);
      assert.equal(first.headers['content-type'], 'application/json; charset=utf-8', "the runner's own content-type: the route passes the transport's headers");
      const retry = apiRouteBrowserAnswer(await sendToRunner(svc.url, post), post.requestId);
      assert.deepEqual(retry, first, 'the same key: the first answer replayed (the guest’s random numbers are the same)');
      const other = apiRouteBrowserAnswer(await sendToRunner(svc.url, algaApiRouteRequest(ids, '/env', { method: 'POST', body: { a: 1 }, providers: PROVIDERS })), 'x');
      assert.notEqual(other.body, first.body, 'without the caller’s key the request id is the key: another run');

      const get = algaApiRouteRequest(ids, '/echo?q=1', { providers: PROVIDERS, user: null });
      assert.equal(get.headers['x-idempotency-key'], undefined);
      assert.equal(get.body['user'], undefined);
      const echoed = JSON.parse(apiRouteBrowserAnswer(await sendToRunner(svc.url, get), get.requestId).body) as Echoed;
      assert.equal(echoed.url, '/echo?q=1', 'http.url absent: the path and query');
      assert.deepEqual(Object.fromEntries(echoed.headers), {
        accept: 'application/json',
        'user-agent': 'Mozilla/5.0',
        'x-request-id': get.requestId,
        'x-alga-tenant': ids.tenantId,
        'x-alga-extension': ids.registryId,
      });
      const thrown = algaApiRouteRequest(ids, '/throw', { providers: PROVIDERS });
      const failed = apiRouteBrowserAnswer(await sendToRunner(svc.url, thrown), thrown.requestId);
      assert.equal(failed.status, 500, 'a guest that throws: transport 200, status 500, passed on');
    });

    test('the scheduled-job handler: no token, its request id as the key, trigger and schedule id in the context; success, or the status it records', async () => {
      const scheduleId = randomUUID();
      const job = algaScheduledJobRequest(ids, { scheduleId, method: 'POST', path: '/echo', payload: { nightly: true } }, { providers: PROVIDERS });
      assert.equal(job.headers['x-idempotency-key'], job.requestId);
      const reply = await sendToRunner(svc.url, job);
      assert.deepEqual(scheduledJobOutcome(reply), { status: 'success', error: null });
      const echoed = JSON.parse(Buffer.from((JSON.parse(reply.text) as { body_b64: string }).body_b64, 'base64').toString('utf8')) as Echoed;
      assert.equal(echoed.url, '/echo');
      assert.equal(echoed.body, '{"nightly":true}', 'the payload as the body');
      assert.deepEqual(Object.fromEntries(echoed.headers), { 'x-alga-tenant': ids.tenantId, 'x-alga-extension': ids.registryId });
      // the job retried by Alga's queue with the same request id: replayed, not run again
      assert.deepEqual(scheduledJobOutcome(await sendToRunner(svc.url, job)), { status: 'success', error: null });

      const gone = algaScheduledJobRequest(ids, { scheduleId, method: 'GET', path: '/removed-endpoint' }, { providers: PROVIDERS });
      assert.deepEqual(scheduledJobOutcome(await sendToRunner(svc.url, gone)), { status: 'error', error: 'Runner returned status 404' });
    });

    test('an install this runner cannot run: each caller gets the failure it reports for a runner that refuses', async () => {
      const reason = leg.mode === 'managed' ? 'bundle_not_found' : 'install_not_found';
      const proxy = algaProxyRequest(unknown, '/echo', { providers: PROVIDERS, serviceToken: svc.serviceToken });
      const proxyReply = await sendToRunner(svc.url, proxy);
      assert.equal(proxyReply.status, 404);
      assert.equal((JSON.parse(proxyReply.text) as { error: { code: string } }).error.code, reason);
      assert.deepEqual(proxyBrowserAnswer(proxyReply, proxy.requestId), {
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: 'bad_gateway', requestId: proxy.requestId }),
      });

      const route = algaApiRouteRequest(unknown, '/echo', { providers: PROVIDERS });
      assert.equal(apiRouteBrowserAnswer(await sendToRunner(svc.url, route), route.requestId).status, 502);

      const job = algaScheduledJobRequest(unknown, { scheduleId: randomUUID(), method: 'GET', path: '/echo' }, { providers: PROVIDERS });
      assert.deepEqual(scheduledJobOutcome(await sendToRunner(svc.url, job)), { status: 'error', error: 'Runner returned status 404' });
    });
  });
}
