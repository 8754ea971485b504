/**
 * `POST /v1/execute` (docs/openapi.json) against a real service on loopback: both Alga gateway
 * variants, transport status vs payload status, grants that callers can only narrow, the install
 * taken from the registry, every refusal with its error code, and the metrics that move.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { admin, createInstall, envelopeFor, execute, guestJson, metricsText, metricValue, startTestService, uploadExample, type ErrorBody, type Registered, type TestService } from './harness.js';

const MAX_BODY = 64 * 1024;
let svc: TestService;
let kitchen: Registered;
let installA: string;
let installB: string;

before(async () => {
  // an operator maximum of 1 s: callers asking for more get 1 s
  svc = await startTestService({ env: { RUNNER_MAX_BODY_BYTES: String(MAX_BODY), RUNNER_MAX_TIMEOUT_MS: '1000', RUNNER_DEFAULT_TIMEOUT_MS: '1000' } });
  kitchen = await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:secrets.get', 'cap:client.read'] });
  installA = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', config: { region: 'eu' } });
  installB = await createInstall(svc, { tenant_id: 'tenant-b', extension_id: 'kitchen-sink', grants: ['cap:storage.kv'] });
});
after(async () => svc.close());

interface UserView {
  ok?: { tenantId: string; clientName: string; clientId: string | null; userId: string; userEmail: string; userName: string; userType: string; additionalFields: [string, string][] };
  err?: string;
}

describe('Alga gateway variants', () => {
  test('client_name with url, client_id, additional fields and unknown fields everywhere', async () => {
    const r = await execute(svc, '/user', {
      envelope: {
        context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: 'req-variant-1', trace_parent: '00-abc', future_field: { nested: true } },
        http: { method: 'GET', path: '/user', url: 'https://psa.example.com/api/ext/kitchen-sink/user?x=1', query: { x: '1' }, headers: {}, something_new: 1 },
        user: {
          user_id: 'u-1',
          user_email: 'ann@example.com',
          user_name: 'Ann',
          user_type: 'internal',
          client_name: 'Acme',
          client_id: 'c-9',
          additional_fields: { role: 'admin', seats: 3 },
          avatar: 'x.png',
        },
        gateway_version: 7,
      },
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 200);
    const user = guestJson<UserView>(r.json).ok!;
    assert.deepEqual(
      { ...user, additionalFields: Object.fromEntries(user.additionalFields) },
      {
        tenantId: 'tenant-a',
        clientName: 'Acme',
        clientId: 'c-9',
        userId: 'u-1',
        userEmail: 'ann@example.com',
        userName: 'Ann',
        userType: 'internal',
        additionalFields: { role: 'admin', seats: '3' },
      },
    );
  });

  test('company_name without url and without client_id', async () => {
    const r = await execute(svc, '/user', {
      envelope: { user: { user_id: 'u-2', user_email: 'bo@example.com', user_name: 'Bo', user_type: 'client', company_name: 'Globex' } },
    });
    const user = guestJson<UserView>(r.json).ok!;
    assert.equal(user.clientName, 'Globex');
    assert.equal(user.clientId ?? null, null, 'no client id: none');
    assert.equal(user.userType, 'client');
    assert.deepEqual(user.additionalFields, []);
  });

  test('no user (a scheduled run) → the guest gets not-available', async () => {
    const r = await execute(svc, '/user');
    assert.deepEqual(guestJson<UserView>(r.json), { err: 'not-available' });
  });

  test('the guest sees http.url = path + query string, whether or not url is sent', async () => {
    const echo = async (http: Record<string, unknown>) =>
      guestJson<{ url: string; method: string; headers: [string, string][]; body: string }>((await execute(svc, '/echo', { envelope: { http } })).json);
    assert.equal((await echo({ method: 'GET', path: '/echo', query: { a: '1', b: ['2', '3'] } })).url, '/echo?a=1&b=2&b=3');
    assert.equal((await echo({ method: 'GET', path: '/echo', url: 'https://psa.example.com/api/ext/x/echo?z=9' })).url, '/echo?z=9');
    assert.equal((await echo({ method: 'GET', path: '/echo', url: '/echo' })).url, '/echo');
    const posted = await echo({ method: 'post', path: '/echo', headers: { 'x-custom': 'yes', authorization: 'Bearer user-token' }, body_b64: Buffer.from('héllo').toString('base64') });
    assert.equal(posted.method, 'POST');
    assert.equal(posted.body, 'héllo');
    assert.deepEqual(posted.headers, [['x-custom', 'yes']], 'the hop-by-hop authorization header is not passed on');
  });
});

describe('transport status vs payload status', () => {
  test('a guest fault is transport 200 with status 500 and a machine-readable error', async () => {
    const r = await execute(svc, '/throw');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 500);
    assert.equal(r.json.error, 'guest_trap');
    assert.equal(typeof r.json.message, 'string');
  });

  test('a guest over its deadline is transport 200 with status 504 and error timeout', async () => {
    const r = await execute(svc, '/loop', { envelope: { limits: { timeout_ms: 150 } } });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 504);
    assert.equal(r.json.error, 'timeout');
  });

  test('a caller asking for more time than the operator maximum gets the maximum', async () => {
    const started = performance.now();
    const r = await execute(svc, '/loop', { envelope: { limits: { timeout_ms: 60_000 } } });
    assert.equal(r.json.status, 504);
    assert.match(r.json.message ?? '', /1000 ms deadline/);
    assert.ok(performance.now() - started < 10_000);
  });

  test("the guest's own 4xx is the payload status, with no error code", async () => {
    const r = await execute(svc, '/no-such-route');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 404);
    assert.equal(r.json.error, undefined);
    assert.deepEqual(guestJson(r.json), { error: 'not_found', path: '/no-such-route' });
    assert.equal(r.json.headers['content-type'], 'application/json');
  });
});

describe('grants and the install come from the registry', () => {
  test('providers may only narrow: naming a capability the install lacks does not grant it', async () => {
    // tenant-b's install grants storage only
    const secrets = await execute(svc, '/secrets/list', { tenant: 'tenant-b', envelope: { providers: ['cap:secrets.get', 'cap:storage.kv'] } });
    assert.deepEqual(guestJson(secrets.json), { ok: [] }, 'secrets.list without the grant is empty');
    const secret = await execute(svc, '/secrets/get', { tenant: 'tenant-b', query: { key: 'x' }, envelope: { providers: ['cap:secrets.get'] } });
    assert.deepEqual(guestJson(secret.json), { err: 'denied' });
    const kv = await execute(svc, '/kv/get', { tenant: 'tenant-b', query: { ns: 'n', key: 'k' } });
    assert.deepEqual(guestJson(kv.json), { err: 'missing' }, 'granted by the install');
    const narrowed = await execute(svc, '/kv/get', { tenant: 'tenant-b', query: { ns: 'n', key: 'k' }, envelope: { providers: ['cap:context.read'] } });
    assert.deepEqual(guestJson(narrowed.json), { err: 'denied' }, 'a providers list without storage takes it away');
  });

  test("the caller cannot pick another tenant's install, nor spoof ids it sends", async () => {
    const other = await execute<ErrorBody>(svc, '/context', { envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', install_id: installB } } });
    assert.equal(other.status, 404);
    assert.equal(other.json.error.code, 'install_not_found');

    const spoofed = await execute(svc, '/context', {
      envelope: { context: { tenant_id: 'tenant-a', extension_id: kitchen.extension_id, install_id: installA, version_id: 'spoofed-version', request_id: 'req-ctx' } },
    });
    const ctx = guestJson<{ ok: Record<string, string> }>(spoofed.json).ok;
    assert.deepEqual(ctx, { requestId: 'req-ctx', tenantId: 'tenant-a', extensionId: kitchen.extension_id, installId: installA, versionId: kitchen.version_id });
  });

  test('content_hash: the right one runs, another is 409 content_hash_mismatch', async () => {
    const ok = await execute(svc, '/noop', { envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', content_hash: kitchen.content_hash } } });
    assert.equal(ok.json.status, 200);
    const wrong = await execute<ErrorBody>(svc, '/noop', { envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', content_hash: `sha256:${'0'.repeat(64)}` } } });
    assert.equal(wrong.status, 409);
    assert.equal(wrong.json.error.code, 'content_hash_mismatch');
  });
});

describe('refusals (transport 4xx with a JSON error)', () => {
  const expectError = (r: { status: number; json: ErrorBody }, status: number, code: string) => {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.equal(r.json.error.code, code);
    assert.equal(typeof r.json.error.message, 'string');
  };

  test('unauthorized: no token, a wrong token, the admin token; Bearer works too', async () => {
    expectError(await execute<ErrorBody>(svc, '/noop', { token: null }), 401, 'unauthorized');
    expectError(await execute<ErrorBody>(svc, '/noop', { token: 'not-the-token' }), 401, 'unauthorized');
    expectError(await execute<ErrorBody>(svc, '/noop', { token: svc.adminToken }), 401, 'unauthorized');
    const bearer = await execute(svc, '/noop', { token: null, headers: { authorization: `Bearer ${svc.serviceToken}` } });
    assert.equal(bearer.status, 200);
  });

  test('invalid_request lists every problem with its path', async () => {
    const r = await execute<ErrorBody>(svc, '/noop', { envelope: { http: { method: 'GET /x', path: 'noop' }, limits: { timeout_ms: -1 }, providers: ['storage'] } });
    expectError(r, 400, 'invalid_request');
    assert.deepEqual((r.json.error.problems ?? []).map((p) => p.path).sort(), ['body.http.method', 'body.http.path', 'body.limits.timeout_ms', 'body.providers.0']);
    expectError(await execute<ErrorBody>(svc, '/noop', { envelope: { http: { method: 'POST', path: '/echo', body_b64: 'not base64!' } } }), 400, 'invalid_request');
    expectError(await execute<ErrorBody>(svc, '/noop', { idempotencyKey: 'k'.repeat(201) }), 400, 'invalid_request');
    const notJson = await fetch(`${svc.url}/v1/execute`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-runner-service-token': svc.serviceToken }, body: '{"context":' });
    expectError({ status: notJson.status, json: (await notJson.json()) as ErrorBody }, 400, 'invalid_request');
  });

  test('tenant_mismatch (differs or missing) and extension_mismatch', async () => {
    expectError(await execute<ErrorBody>(svc, '/noop', { headers: { 'x-alga-tenant': 'tenant-b' } }), 400, 'tenant_mismatch');
    const noHeader = await fetch(`${svc.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-runner-service-token': svc.serviceToken },
      body: JSON.stringify(envelopeFor('/noop')),
    });
    expectError({ status: noHeader.status, json: (await noHeader.json()) as ErrorBody }, 400, 'tenant_mismatch');
    expectError(await execute<ErrorBody>(svc, '/noop', { headers: { 'x-alga-extension': 'something-else' } }), 400, 'extension_mismatch');
    assert.equal((await execute(svc, '/noop', { headers: { 'x-alga-extension': 'kitchen-sink' } })).status, 200);
  });

  test('install_not_found and unknown_capability', async () => {
    expectError(await execute<ErrorBody>(svc, '/noop', { tenant: 'tenant-nobody' }), 404, 'install_not_found');
    expectError(await execute<ErrorBody>(svc, '/noop', { extension: 'no-such-extension' }), 404, 'install_not_found');
    const unknown = await execute<ErrorBody>(svc, '/noop', { envelope: { providers: ['cap:storage.kv', 'cap:mind.read'] } });
    expectError(unknown, 400, 'unknown_capability');
    assert.match(unknown.json.error.message, /cap:mind\.read/);
  });

  test('body_too_large: a decoded body over the limit, and a request over the transport limit', async () => {
    expectError(await execute<ErrorBody>(svc, '/echo', { body: 'x'.repeat(MAX_BODY + 1) }), 413, 'body_too_large');
    assert.equal((await execute(svc, '/echo', { body: 'x'.repeat(MAX_BODY - 2) })).json.status, 200, 'just under the limit runs');
    const huge = await fetch(`${svc.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-runner-service-token': svc.serviceToken, 'x-alga-tenant': 'tenant-a' },
      body: JSON.stringify({ ...envelopeFor('/echo'), padding: 'p'.repeat(MAX_BODY * 8) }),
    });
    expectError({ status: huge.status, json: (await huge.json()) as ErrorBody }, 413, 'body_too_large');
  });

  test('headers over the server limit are 431 headers_too_large', async () => {
    // fetch refuses to send such headers on some versions; a raw request shows what the server answers
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${svc.url}/v1/execute`, { method: 'POST', headers: { 'x-filler': 'f'.repeat(64 * 1024) } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer.status, 431);
    assert.equal((JSON.parse(answer.body) as ErrorBody).error.code, 'headers_too_large');
  });

  test("a malformed URL is invalid_request in our error format, not the framework's", async () => {
    const r = await fetch(`${svc.url}/api/ext/x/%E0%A4%A`);
    expectError({ status: r.status, json: (await r.json()) as ErrorBody }, 400, 'invalid_request');
  });

  test('unsupported_media_type and not_found', async () => {
    const text = await fetch(`${svc.url}/v1/execute`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-runner-service-token': svc.serviceToken }, body: 'hi' });
    expectError({ status: text.status, json: (await text.json()) as ErrorBody }, 415, 'unsupported_media_type');
    for (const [method, path] of [
      ['GET', '/v1/execute'],
      ['GET', '/v2/anything'],
      ['DELETE', '/admin/v1/extensions'],
    ]) {
      const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${svc.adminToken}` } });
      expectError({ status: r.status, json: (await r.json()) as ErrorBody }, 404, 'not_found');
    }
  });
});

describe('health and metrics', () => {
  test('/healthz and /readyz answer; /metrics has every family and they move', async () => {
    assert.deepEqual(await (await fetch(`${svc.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${svc.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', store: true, component_store: { kind: 'local', reachable: true }, engine: true, draining: false });

    const before = await metricsText(svc);
    for (const family of [
      'alga_runner_executions_total counter',
      'alga_runner_execution_duration_seconds histogram',
      'alga_runner_queue_depth gauge',
      'alga_runner_executions_in_flight gauge',
      'alga_runner_capability_calls_total counter',
      'alga_runner_worker_restarts_total counter',
      'alga_runner_guest_memory_bytes histogram',
      'alga_runner_rejected_total counter',
      'alga_runner_hot_wait_seconds_total counter',
      'alga_runner_component_fetches_total counter',
      'alga_runner_warm_failures_total counter',
    ]) {
      assert.ok(before.includes(`# TYPE ${family}`), `metric family ${family}`);
    }
    await execute(svc, '/kv/put', { body: { ns: 'm', key: 'k', value: 'v' } });
    await execute(svc, '/loop', { envelope: { limits: { timeout_ms: 100 } } });
    const afterText = await metricsText(svc);
    const moved = (name: string, labels: Record<string, string> = {}) => metricValue(afterText, name, labels) - metricValue(before, name, labels);
    assert.equal(moved('alga_runner_executions_total', { outcome: 'ok' }), 1);
    assert.equal(moved('alga_runner_executions_total', { outcome: 'timeout' }), 1);
    assert.equal(moved('alga_runner_execution_duration_seconds_count'), 2);
    assert.ok(moved('alga_runner_execution_duration_seconds_sum', { outcome: 'timeout' }) >= 0.1);
    assert.equal(moved('alga_runner_capability_calls_total', { capability: 'cap:storage.kv', function: 'put' }), 1);
    assert.equal(moved('alga_runner_worker_restarts_total'), 1, 'the timed-out worker was replaced');
    assert.ok(moved('alga_runner_guest_memory_bytes_count') >= 1);
    assert.equal(metricValue(afterText, 'alga_runner_executions_in_flight'), 0);
  });
});

test('an admin view of the install still matches what executions used', async () => {
  const got = await admin(svc, 'GET', `/admin/v1/installs/${installA}`);
  assert.deepEqual(got.json.config, { region: 'eu' });
});
