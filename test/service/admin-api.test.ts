/**
 * The admin API (docs/openapi.json) against a real service on loopback: extensions (bare components),
 * installs, secrets and tenant data, and the errors each of them answers with.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  admin,
  createInstall,
  exampleBytes,
  execute,
  guestJson,
  metricsText,
  metricValue,
  startTestService,
  uploadExample,
  type Answer,
  type ErrorBody,
  type Registered,
  type TestService,
} from './harness.js';

let svc: TestService;
let kitchen: Registered;

before(async () => {
  svc = await startTestService({ examples: ['kitchen-sink', 'wat-ok'] });
  kitchen = await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv', 'cap:secrets.get', 'cap:client.read', 'cap:service.read', 'cap:log.emit'] });
});
after(async () => svc.close());

describe('admin auth', () => {
  test('every admin route refuses a missing, wrong or service token with 401 unauthorized', async () => {
    for (const token of [undefined, 'wrong-token', svc.serviceToken]) {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      for (const [method, path] of [
        ['GET', '/admin/v1/installs'],
        ['GET', '/admin/v1/installs/x'],
        ['POST', '/admin/v1/extensions'],
        ['PUT', '/admin/v1/tenants/t/clients'],
      ] as const) {
        const r = await fetch(`${svc.url}${path}`, { method, headers });
        assert.equal(r.status, 401, `${method} ${path} with ${token ?? 'no token'}`);
        assert.equal(((await r.json()) as ErrorBody).error.code, 'unauthorized');
      }
    }
  });
});

describe('POST /admin/v1/extensions (bare component)', () => {
  test('a new component is 201 with ids; the same bytes again are 200 with the same ids', async () => {
    const first = await admin<Registered>(svc, 'POST', '/admin/v1/extensions?name=hello&version=1.0.0', new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(first.status, 201);
    assert.match(first.json.content_hash, /^sha256:[0-9a-f]{64}$/);
    const again = await admin<Registered>(svc, 'POST', '/admin/v1/extensions?name=hello&version=1.0.0', new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, first.json);
    const listed = await admin<{ extensions: { name: string; extension_id: string; versions: { version_id: string }[] }[] }>(svc, 'GET', '/admin/v1/extensions');
    const hello = listed.json.extensions.find((e) => e.name === 'hello');
    assert.equal(hello?.extension_id, first.json.extension_id);
    assert.deepEqual(
      hello?.versions.map((v) => v.version_id),
      [first.json.version_id],
    );
  });

  test('different bytes under an existing version are 409 version_conflict', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions?name=kitchen-sink&version=1.0.0', new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'version_conflict');
    assert.match(r.json.error.message, /kitchen-sink@1\.0\.0/);
  });

  test('bytes that are not a component are 400 invalid_component', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions?name=junk&version=1.0.0', new Uint8Array(randomBytes(64)));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_component');
    const listed = await admin<{ extensions: { name: string }[] }>(svc, 'GET', '/admin/v1/extensions');
    assert.ok(!listed.json.extensions.some((e) => e.name === 'junk'), 'an invalid component leaves no trace');
  });

  test('a component importing something the runner does not serve is 400 naming the import', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions?name=forbidden&version=1.0.0', new Uint8Array(exampleBytes('wat-forbidden')));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_component');
    assert.match(r.json.error.message, /evil:net\/dial/);
  });

  test('an unknown capability is 400 unknown_capability naming it', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions?name=hello&version=2.0.0&capabilities=cap:storage.kv,cap:teleport', new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'unknown_capability');
    assert.match(r.json.error.message, /cap:teleport/);
  });

  test('a bad name, version or endpoint is 400 invalid_request listing every problem', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', `/admin/v1/extensions?name=Bad%20Name&version=one&endpoints=${encodeURIComponent('FETCH /x,GET nope')}`, new Uint8Array(exampleBytes('wat-ok')));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_request');
    const problems = r.json.error.problems ?? [];
    assert.deepEqual(problems.map((p) => p.path).sort(), ['query.endpoints', 'query.endpoints', 'query.name', 'query.version']);
    assert.ok(problems.some((p) => /FETCH \/x/.test(p.message)));
    assert.ok(problems.some((p) => /'nope' must start with '\/'/.test(p.message)));
  });

  test('another content type is 415 unsupported_media_type; a broken bundle is 400 invalid_bundle', async () => {
    const text = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions?name=x&version=1.0.0', 'hello', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.json.error.code, 'unsupported_media_type');
    const bundle = await admin<ErrorBody>(svc, 'POST', '/admin/v1/extensions', new Uint8Array(randomBytes(100)), { 'content-type': 'application/zstd' });
    assert.equal(bundle.status, 400);
    assert.equal(bundle.json.error.code, 'invalid_bundle');
  });
});

describe('installs', () => {
  test('create, read, list, patch, delete — and an execution follows each change', async () => {
    const id = await createInstall(svc, { tenant_id: 'crud-tenant', extension_id: 'kitchen-sink', config: { greeting: 'hi' }, limits: { timeout_ms: 2000 } });
    const got = await admin(svc, 'GET', `/admin/v1/installs/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.install_id, id);
    assert.equal(got.json.extension_id, kitchen.extension_id, 'found by name, stored by id');
    assert.equal(got.json.version_id, kitchen.version_id, 'omitted version = the latest');
    assert.deepEqual(got.json.grants, ['cap:storage.kv', 'cap:secrets.get', 'cap:client.read', 'cap:service.read', 'cap:log.emit'], 'omitted grants = what the manifest declares');
    assert.deepEqual(got.json.config, { greeting: 'hi' });
    assert.deepEqual(got.json.limits, { timeout_ms: 2000 });
    assert.equal(got.json.enabled, true);

    const listed = await admin<{ installs: { install_id: string }[] }>(svc, 'GET', '/admin/v1/installs?tenant_id=crud-tenant');
    assert.deepEqual(
      listed.json.installs.map((i) => i.install_id),
      [id],
    );

    const ran = await execute(svc, '/kv/get', { tenant: 'crud-tenant', query: { ns: 'n', key: 'k' } });
    assert.deepEqual(guestJson(ran.json), { err: 'missing' }, 'storage granted: the key is just missing');

    const patched = await admin(svc, 'PATCH', `/admin/v1/installs/${id}`, { grants: ['cap:client.read'], instance: 'reuse', egress: { allow: ['https://api.example.com'] } });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.json.grants, ['cap:client.read']);
    assert.equal(patched.json.instance, 'reuse');
    assert.deepEqual(patched.json.egress, { allow: ['https://api.example.com'] });
    const denied = await execute(svc, '/kv/get', { tenant: 'crud-tenant', query: { ns: 'n', key: 'k' } });
    assert.deepEqual(guestJson(denied.json), { err: 'denied' }, 'the patched grants apply at once');

    const disabled = await admin(svc, 'PATCH', `/admin/v1/installs/${id}`, { enabled: false });
    assert.equal(disabled.json.enabled, false);
    const refused = await execute<ErrorBody>(svc, '/noop', { tenant: 'crud-tenant' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'install_disabled');

    const deleted = await fetch(`${svc.url}/admin/v1/installs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${svc.adminToken}` } });
    assert.equal(deleted.status, 204);
    for (const [method, path] of [
      ['GET', `/admin/v1/installs/${id}`],
      ['DELETE', `/admin/v1/installs/${id}`],
    ] as const) {
      const r = await admin<ErrorBody>(svc, method, path);
      assert.equal(r.status, 404, `${method} after delete`);
      assert.equal(r.json.error.code, 'install_not_found');
    }
    const patchGone = await admin<ErrorBody>(svc, 'PATCH', `/admin/v1/installs/${id}`, { enabled: true });
    assert.equal(patchGone.json.error.code, 'install_not_found');
    const gone = await execute<ErrorBody>(svc, '/noop', { tenant: 'crud-tenant' });
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'install_not_found');
  });

  test('a new install is warm: its first execution runs on an instance made at install time, not a cold start', async () => {
    // a memory limit no other test uses: no earlier execution has loaded this compiled variant
    const id = await createInstall(svc, { tenant_id: 'warm-tenant', extension_id: 'kitchen-sink', limits: { memory_mb: 96 } });
    // logged before the install was answered
    const warmed = svc
      .logText()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((l) => l.msg === 'install warmed' && l.tenant === 'warm-tenant');
    assert.equal(warmed?.instance, 'new', 'the install instantiated the component');
    assert.equal(warmed?.memory_mb, 96);
    const before = await metricsText(svc);
    const ran = await execute(svc, '/counter', { tenant: 'warm-tenant' });
    assert.deepEqual(guestJson(ran.json), { counter: 1 });
    const after = await metricsText(svc);
    const delta = (source: string) => metricValue(after, 'alga_runner_guest_instances_total', { source }) - metricValue(before, 'alga_runner_guest_instances_total', { source });
    assert.equal(delta('new'), 0, 'no instantiation on the request path');
    assert.equal(delta('restored'), 1);
    const install = await admin(svc, 'GET', `/admin/v1/installs/${id}`);
    assert.deepEqual(install.json.limits, { memory_mb: 96 });
  });

  test('switching an install to reuse mode warms its own instance: its first execution reuses it', async () => {
    const id = await createInstall(svc, { tenant_id: 'reuse-warm-tenant', extension_id: 'kitchen-sink' });
    const patched = await admin(svc, 'PATCH', `/admin/v1/installs/${id}`, { instance: 'reuse' });
    assert.equal(patched.status, 200);
    const before = await metricsText(svc);
    const counters: number[] = [];
    for (let i = 0; i < 2; i++) counters.push(guestJson<{ counter: number }>((await execute(svc, '/counter', { tenant: 'reuse-warm-tenant' })).json).counter);
    assert.deepEqual(counters, [1, 2], 'one warm instance, kept across requests');
    const after = await metricsText(svc);
    const delta = (source: string) => metricValue(after, 'alga_runner_guest_instances_total', { source }) - metricValue(before, 'alga_runner_guest_instances_total', { source });
    assert.equal(delta('new'), 0, 'the first request found the instance the PATCH made');
    assert.equal(delta('reused'), 2);
  });

  test('an install that cannot start with its memory limit is refused (install_not_runnable) and nothing is saved; so is such a PATCH', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { tenant_id: 'tiny-tenant', extension_id: 'kitchen-sink', limits: { memory_mb: 4 } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'install_not_runnable');
    assert.equal(r.json.error.fault, 'memory_limit');
    assert.match(r.json.error.message, /needs 9\.1 MiB of memory to start, above its limit of 4 MiB/);
    const listed = await admin<{ installs: unknown[] }>(svc, 'GET', '/admin/v1/installs?tenant_id=tiny-tenant');
    assert.deepEqual(listed.json.installs, []);

    const id = await createInstall(svc, { tenant_id: 'tiny-tenant', extension_id: 'kitchen-sink', limits: { memory_mb: 128 } });
    const patched = await admin<ErrorBody>(svc, 'PATCH', `/admin/v1/installs/${id}`, { limits: { memory_mb: 4 } });
    assert.equal(patched.status, 400);
    assert.equal(patched.json.error.code, 'install_not_runnable');
    const kept = await admin(svc, 'GET', `/admin/v1/installs/${id}`);
    assert.deepEqual(kept.json.limits, { memory_mb: 128 }, 'the refused PATCH changed nothing');
    const ran = await execute(svc, '/counter', { tenant: 'tiny-tenant' });
    assert.deepEqual(guestJson(ran.json), { counter: 1 });
  });

  test('a second install of the same extension for a tenant is 409 install_exists with its id', async () => {
    const id = await createInstall(svc, { tenant_id: 'dup-tenant', extension_id: kitchen.extension_id });
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { tenant_id: 'dup-tenant', extension_id: 'kitchen-sink' });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'install_exists');
    assert.equal(r.json.error.install_id, id);
    // the duplicate is the answer even when its limits could not start the version
    const tiny = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { tenant_id: 'dup-tenant', extension_id: 'kitchen-sink', limits: { memory_mb: 4 } });
    assert.equal(tiny.status, 409);
    assert.equal(tiny.json.error.code, 'install_exists');
  });

  test('unknown extension, version or capability, and limits over the maximum are refused', async () => {
    const cases: [Record<string, unknown>, number, string, RegExp][] = [
      [{ tenant_id: 't', extension_id: 'no-such-extension' }, 404, 'extension_not_found', /no-such-extension/],
      [{ tenant_id: 't', extension_id: 'kitchen-sink', version_id: 'no-such-version' }, 404, 'version_not_found', /no-such-version/],
      [{ tenant_id: 't', extension_id: 'kitchen-sink', grants: ['cap:storage.kv', 'cap:root'] }, 400, 'unknown_capability', /cap:root/],
      [{ tenant_id: 't', extension_id: 'kitchen-sink', limits: { timeout_ms: 10 ** 9 } }, 400, 'invalid_request', /operator maximum/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.json.error.code, code);
      assert.match(r.json.error.message, message);
    }
  });

  test('a malformed install body is 400 invalid_request with every problem and its path', async () => {
    const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { tenant_id: '', extension_id: 'kitchen-sink', grants: ['storage'], instance: 'sometimes', colour: 'red' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_request');
    const paths = (r.json.error.problems ?? []).map((p) => p.path).sort();
    assert.deepEqual(paths, ['body', 'body.grants.0', 'body.instance', 'body.tenant_id']);
    const notJson = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', undefined, { 'content-type': 'application/json' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error.code, 'invalid_request');
  });
});

describe('secrets', () => {
  test('PUT stores values the guest can read; GET shows names, never values', async () => {
    const id = await createInstall(svc, { tenant_id: 'secret-tenant', extension_id: 'kitchen-sink' });
    const value = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const put = await fetch(`${svc.url}/admin/v1/installs/${id}/secrets`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ values: { api_key: value, other: 'x' } }),
    });
    assert.equal(put.status, 204);
    const got = await fetch(`${svc.url}/admin/v1/installs/${id}`, { headers: { authorization: `Bearer ${svc.adminToken}` } });
    const text = await got.text();
    assert.ok(!text.includes(value), 'the install view holds no secret value');
    assert.deepEqual((JSON.parse(text) as { secrets: string[] }).secrets.sort(), ['api_key', 'other']);
    const read = await execute<Answer>(svc, '/secrets/get', { tenant: 'secret-tenant', query: { key: 'api_key' } });
    assert.deepEqual(guestJson(read.json), { ok: value });

    const expired = await admin(svc, 'PUT', `/admin/v1/installs/${id}/secrets`, { values: { old: 'v' }, expires_at: '2000-01-01T00:00:00Z' });
    assert.equal(expired.status, 204);
    const late = await execute<Answer>(svc, '/secrets/get', { tenant: 'secret-tenant', query: { key: 'old' } });
    assert.deepEqual(guestJson(late.json), { err: 'expired' });

    const bad = await admin<ErrorBody>(svc, 'PUT', `/admin/v1/installs/${id}/secrets`, { values: { k: 1 } });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json.error.problems?.map((p) => p.path),
      ['body.values.k'],
    );
    const missing = await admin<ErrorBody>(svc, 'PUT', '/admin/v1/installs/no-such-install/secrets', { values: { k: 'v' } });
    assert.equal(missing.json.error.code, 'install_not_found');
    assert.ok(!svc.logText().includes(value), 'no secret value in the service log');
  });

  test('without RUNNER_SECRETS_KEY storing a secret is 409 secrets_key_missing', async () => {
    const keyless = await startTestService({ env: { RUNNER_SECRETS_KEY: '' }, examples: ['wat-ok'], workers: 1 });
    try {
      const ext = await uploadExample(keyless, 'wat-ok', { name: 'ok' });
      const id = await createInstall(keyless, { tenant_id: 't', extension_id: ext.extension_id });
      const r = await admin<ErrorBody>(keyless, 'PUT', `/admin/v1/installs/${id}/secrets`, { values: { k: 'v' } });
      assert.equal(r.status, 409);
      assert.equal(r.json.error.code, 'secrets_key_missing');
    } finally {
      await keyless.close();
    }
  });
});

describe('tenant data', () => {
  test('PUT clients and services replaces what the guest reads through /clients and /services', async () => {
    await createInstall(svc, { tenant_id: 'data-tenant', extension_id: 'kitchen-sink' });
    const clients = await admin(svc, 'PUT', '/admin/v1/tenants/data-tenant/clients', {
      items: [
        { client_id: 'c2', client_name: 'zulu works', billing_email: 'z@example.com' },
        { client_id: 'c1', client_name: 'Alpha Ltd' },
        { client_id: 'c3', client_name: 'Gone Inc', is_inactive: true },
      ],
    });
    assert.equal(clients.status, 204);
    const services = await admin(svc, 'PUT', '/admin/v1/tenants/data-tenant/services', {
      items: [{ service_id: 's1', service_name: 'Backup', item_kind: 'service', billing_method: 'fixed', default_rate: 12.5, unit_of_measure: 'month' }],
    });
    assert.equal(services.status, 204);

    const listed = guestJson<{ ok: { items: { clientId: string; clientName: string }[]; totalCount: number } }>((await execute<Answer>(svc, '/clients', { tenant: 'data-tenant' })).json);
    assert.deepEqual(
      listed.ok.items.map((c) => c.clientName),
      ['Alpha Ltd', 'zulu works'],
      'sorted by name, inactive left out',
    );
    assert.equal(listed.ok.totalCount, 2);
    const svcList = guestJson<{ ok: { items: { serviceId: string; defaultRate: number }[] } }>((await execute<Answer>(svc, '/services', { tenant: 'data-tenant' })).json);
    assert.deepEqual(
      svcList.ok.items.map((s) => [s.serviceId, s.defaultRate]),
      [['s1', 12.5]],
    );

    // another tenant's data is not visible
    await createInstall(svc, { tenant_id: 'other-data-tenant', extension_id: 'kitchen-sink' });
    const other = guestJson<{ ok: { items: unknown[] } }>((await execute<Answer>(svc, '/clients', { tenant: 'other-data-tenant' })).json);
    assert.deepEqual(other.ok.items, []);

    const bad = await admin<ErrorBody>(svc, 'PUT', '/admin/v1/tenants/data-tenant/services', {
      items: [{ service_id: 's1', service_name: 'X', item_kind: 'gadget', billing_method: 'fixed', default_rate: 1, unit_of_measure: 'h' }],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.json.error.problems?.map((p) => p.path),
      ['body.items.0.item_kind'],
    );
  });
});
