/**
 * Install logs (by request id, and live as server-sent events), the dev gateway
 * (`/api/ext/{extension}/{path}`, honouring `api.endpoints`), and that no secret or token value ever
 * reaches the service's own log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { admin, createInstall, execute, guestJson, startTestService, uploadExample, type ErrorBody, type Registered, type TestService } from './harness.js';

let svc: TestService;
let kitchen: Registered;
let installId: string;
const secretValue = `top-secret-${randomBytes(12).toString('hex')}`;

before(async () => {
  // trace: the most the service ever logs, so the secret check below sees everything
  svc = await startTestService({ env: { LOG_LEVEL: 'trace', RUNNER_DEV_TENANT: 'dev-tenant' } });
  kitchen = await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:secrets.get', 'cap:storage.kv'] });
  installId = await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
  await createInstall(svc, { tenant_id: 'dev-tenant', extension_id: 'kitchen-sink' });
  const put = await admin(svc, 'PUT', `/admin/v1/installs/${installId}/secrets`, { values: { api_key: secretValue } });
  assert.equal(put.status, 204);
});
after(async () => svc.close());

interface LogRecordJson {
  id: number;
  ts: number | string;
  level: string;
  stream: string;
  message: string;
  request_id: string;
}

describe('GET /admin/v1/installs/{id}/logs', () => {
  test('records of one request, by request id, with a limit', async () => {
    await execute(svc, '/log', { query: { level: 'warn', msg: 'first words' }, envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: 'req-log-1' } } });
    await execute(svc, '/env', { envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: 'req-log-2' } } });
    const one = await admin<{ records: LogRecordJson[] }>(svc, 'GET', `/admin/v1/installs/${installId}/logs?request_id=req-log-1`);
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.json.records.map((r) => [r.level, r.stream, r.message, r.request_id]),
      [['warn', 'log', 'first words', 'req-log-1']],
    );
    const env = await admin<{ records: LogRecordJson[] }>(svc, 'GET', `/admin/v1/installs/${installId}/logs?request_id=req-log-2`);
    assert.deepEqual([...new Set(env.json.records.map((r) => r.stream))].sort(), ['stderr', 'stdout'], '/env writes to both stdio streams');
    const limited = await admin<{ records: LogRecordJson[] }>(svc, 'GET', `/admin/v1/installs/${installId}/logs?limit=1`);
    assert.equal(limited.json.records.length, 1);
    const bad = await admin<ErrorBody>(svc, 'GET', `/admin/v1/installs/${installId}/logs?limit=0`);
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json.error.problems?.map((p) => p.path),
      ['query.limit'],
    );
    const unknown = await admin<ErrorBody>(svc, 'GET', '/admin/v1/installs/nope/logs');
    assert.equal(unknown.json.error.code, 'install_not_found');
  });

  test('follow=1 streams new records as server-sent events', async () => {
    const controller = new AbortController();
    const res = await fetch(`${svc.url}/admin/v1/installs/${installId}/logs?follow=1&request_id=req-live`, { headers: { authorization: `Bearer ${svc.adminToken}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    const nextEvent = async (): Promise<{ event: string; data: LogRecordJson }> => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (block.startsWith(':')) continue; // keep-alive comment
          const fields = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
          return { event: fields.event!, data: JSON.parse(fields.data!) as LogRecordJson };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffered += value;
      }
    };
    // the stream is open (headers arrived): an execution now must show up on it
    const ran = await execute(svc, '/log', { query: { level: 'error', msg: 'live line' }, envelope: { context: { tenant_id: 'tenant-a', extension_id: 'kitchen-sink', request_id: 'req-live' } } });
    assert.equal(ran.json.status, 200);
    const first = await nextEvent();
    assert.equal(first.event, 'log');
    assert.deepEqual([first.data.level, first.data.message, first.data.request_id], ['error', 'live line', 'req-live']);
    controller.abort();
    await reader.cancel().catch(() => undefined);
  });
});

describe('dev gateway /api/ext/{extension}/{path}', () => {
  test('by name or id, the dev tenant by default or x-alga-tenant, body/query/user passed through', async () => {
    const ctx = await fetch(`${svc.url}/api/ext/kitchen-sink/context`);
    assert.equal(ctx.status, 200);
    assert.match(ctx.headers.get('x-request-id') ?? '', /.+/);
    const view = ((await ctx.json()) as { ok: { tenantId: string } }).ok;
    assert.equal(view.tenantId, 'dev-tenant');

    const byId = await fetch(`${svc.url}/api/ext/${kitchen.extension_id}/context`, { headers: { 'x-alga-tenant': 'tenant-a', 'x-request-id': 'gw-req-1' } });
    assert.equal(byId.headers.get('x-request-id'), 'gw-req-1');
    assert.deepEqual(((await byId.json()) as { ok: Record<string, string> }).ok, {
      requestId: 'gw-req-1',
      tenantId: 'tenant-a',
      extensionId: kitchen.extension_id,
      installId,
      versionId: kitchen.version_id,
    });

    const echo = await fetch(`${svc.url}/api/ext/kitchen-sink/echo?a=1&b=two`, { method: 'PUT', headers: { 'content-type': 'text/plain', 'x-thing': 'yes' }, body: 'raw body ✓' });
    const echoed = (await echo.json()) as { method: string; url: string; headers: [string, string][]; body: string };
    assert.equal(echoed.method, 'PUT');
    assert.equal(echoed.url, '/echo?a=1&b=two');
    assert.equal(echoed.body, 'raw body ✓');
    assert.ok(echoed.headers.some(([k, v]) => k === 'x-thing' && v === 'yes'));

    const user = await fetch(`${svc.url}/api/ext/kitchen-sink/user`, { headers: { 'x-user-id': 'u-7', 'x-user-email': 'dev@example.com', 'x-client-name': 'DevCo' } });
    const u = ((await user.json()) as { ok: { userId: string; userEmail: string; clientName: string; tenantId: string } }).ok;
    assert.deepEqual([u.userId, u.userEmail, u.clientName, u.tenantId], ['u-7', 'dev@example.com', 'DevCo', 'dev-tenant']);
  });

  test('the guest status is the HTTP status; a guest fault is 502/504 with the error code', async () => {
    const missing = await fetch(`${svc.url}/api/ext/kitchen-sink/nowhere`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'not_found', path: '/nowhere' });
    const thrown = await fetch(`${svc.url}/api/ext/kitchen-sink/throw`);
    assert.equal(thrown.status, 502);
    assert.equal(((await thrown.json()) as ErrorBody).error.code, 'guest_trap');
    const unknown = await fetch(`${svc.url}/api/ext/no-such-extension/x`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as ErrorBody).error.code, 'install_not_found');
  });

  test('with api.endpoints declared, an undeclared endpoint is 404 endpoint_not_found', async () => {
    await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink-api', endpoints: ['GET /context', 'POST /echo', 'GET /items/:id'] });
    await createInstall(svc, { tenant_id: 'dev-tenant', extension_id: 'kitchen-sink-api' });
    assert.equal((await fetch(`${svc.url}/api/ext/kitchen-sink-api/context`)).status, 200);
    assert.equal((await fetch(`${svc.url}/api/ext/kitchen-sink-api/echo`, { method: 'POST', body: 'x' })).status, 200);
    const param = await fetch(`${svc.url}/api/ext/kitchen-sink-api/items/42`);
    assert.deepEqual([param.status, await param.json()], [404, { error: 'not_found', path: '/items/42' }], 'a :param endpoint reaches the guest (whose own 404 this is)');
    for (const [method, path] of [
      ['GET', '/noop'],
      ['GET', '/echo'],
      ['GET', '/items/42/more'],
    ] as const) {
      const r = await fetch(`${svc.url}/api/ext/kitchen-sink-api${path}`, { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      const body = (await r.json()) as ErrorBody;
      assert.equal(body.error.code, 'endpoint_not_found');
      assert.match(body.error.message, new RegExp(`${method} ${path}`));
    }
  });
});

test('no secret or token value appears in the service log', async () => {
  const read = await execute(svc, '/secrets/get', { query: { key: 'api_key' } });
  assert.deepEqual(guestJson(read.json), { ok: secretValue }, 'the guest did read the secret');
  await execute(svc, '/secrets/list');
  await fetch(`${svc.url}/api/ext/kitchen-sink/secrets/get?key=api_key`, { headers: { 'x-alga-tenant': 'tenant-a', authorization: `Bearer ${svc.serviceToken}` } });
  const log = svc.logText();
  assert.ok(log.includes('"reqId"'), 'the request log was captured');
  for (const [what, value] of [
    ['secret', secretValue],
    ['service token', svc.serviceToken],
    ['admin token', svc.adminToken],
  ] as [string, string][]) {
    assert.ok(!log.includes(value), `the ${what} is not in the log`);
  }
});
