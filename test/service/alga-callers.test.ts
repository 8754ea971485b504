/**
 * Alga PSA as a caller of this runner (docs/alga.md): its registry mirrored with caller-chosen
 * ids, its three callers of POST /v1/execute reproduced field by field from its code
 * (Nine-Minds/alga-psa at 432f5f5887), tokenless callers from listed networks, and secret envelopes.
 *
 * - the extension proxy: packages/product-ext-proxy/ee/handler.ts builds the body and the runner
 *   headers, ee/runner-backend.ts adds content-type, x-request-id and x-runner-service-token (when
 *   RUNNER_SERVICE_TOKEN is set), shared/gateway-utils.ts filterRequestHeaders the guest's headers;
 * - the API route server/src/app/api/ext/[extensionId]/[[...path]]/route.ts: no token;
 * - the scheduled-job handler packages/jobs/src/lib/handlers/extensionScheduledInvocationHandler.ts: no token.
 *
 * The tokenless callers come from 127.0.0.2 (a second loopback address: the client socket binds
 * it), the only network listed; calls from 127.0.0.1 stand for "elsewhere".
 * Vault: a loopback HTTP server that speaks Vault's transit decrypt API (`POST
 * /v1/transit/decrypt/:key`, `X-Vault-Token`, `{"ciphertext"}` → `{"data": {"plaintext"}}`),
 * not a real Vault.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { admin, exampleBytes, guestJson, startTestService, type Answer, type ErrorBody, type Registered, type TestService } from './harness.js';
import { algaApiRouteRequest, algaProxyRequest, algaScheduledJobRequest } from '../support/alga-gateway.js';

const TOKENLESS_FROM = '127.0.0.2';
const VAULT_TOKEN = 'vault-test-token';
const TRANSIT_KEY = 'alga-ext-secrets';
const KITCHEN_CAPS = ['cap:secrets.get', 'cap:context.read', 'cap:log.emit', 'cap:user.read'];

/** A loopback server speaking Vault's transit decrypt API, with ciphertexts it knows and a mode for failures. */
interface FakeVault {
  url: string;
  mode: 'ok' | 'deny' | 'hang';
  requests: { path: string; token: string | undefined; namespace: string | undefined; body: unknown }[];
  /** seals `values` as Alga's server does (vault-transit:v1): the ciphertext this server decrypts */
  seal(values: Record<string, string>): string;
  close(): Promise<void>;
}

async function startFakeVault(): Promise<FakeVault> {
  const plaintexts = new Map<string, string>();
  const vault: FakeVault = {
    url: '',
    mode: 'ok',
    requests: [],
    seal(values) {
      const ciphertext = `vault:v1:${randomUUID()}`;
      plaintexts.set(ciphertext, Buffer.from(JSON.stringify(values)).toString('base64'));
      return ciphertext;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const body = JSON.parse(text) as { ciphertext?: string };
      vault.requests.push({ path: req.url ?? '', token: req.headers['x-vault-token'] as string | undefined, namespace: req.headers['x-vault-namespace'] as string | undefined, body });
      if (vault.mode === 'hang') return;
      const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (vault.mode === 'deny' || req.headers['x-vault-token'] !== VAULT_TOKEN) return send(403, { errors: ['permission denied'] });
      const plaintext = req.method === 'POST' && req.url === `/v1/transit/decrypt/${TRANSIT_KEY}` ? plaintexts.get(body.ciphertext ?? '') : undefined;
      if (plaintext === undefined) return send(400, { errors: ['invalid ciphertext: unable to decrypt'] });
      send(200, { request_id: randomUUID(), data: { plaintext } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  vault.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return vault;
}

interface RawResponse<T> {
  status: number;
  json: T;
}

/** POST JSON from a chosen local address (fetch cannot bind one). */
function postFrom<T = Answer>(localAddress: string, url: string, headers: Record<string, string>, body: unknown): Promise<RawResponse<T>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, localAddress }, (res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as T }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const inline = (values: Record<string, string>) => ({ ciphertext_b64: Buffer.from(JSON.stringify(values)).toString('base64'), algorithm: 'inline/base64' });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

/** Alga's registry, as its ids: UUIDs for the extension (registry id), version and install. */
interface AlgaIds {
  tenantId: string;
  registryId: string;
  versionId: string;
  installId: string;
  contentHash: string;
}

/** Mirrors one Alga install into the runner through the admin API, with Alga's ids. */
async function mirror(svc: TestService, name: string): Promise<AlgaIds> {
  const ids = { tenantId: randomUUID(), registryId: randomUUID(), versionId: randomUUID(), installId: randomUUID() };
  const q = new URLSearchParams({ name, version: '1.0.0', capabilities: KITCHEN_CAPS.join(','), extension_id: ids.registryId, version_id: ids.versionId });
  const up = await admin<Registered>(svc, 'POST', `/admin/v1/extensions?${q}`, new Uint8Array(exampleBytes('kitchen-sink')));
  assert.equal(up.status, 201, JSON.stringify(up.json));
  const inst = await admin<{ install_id: string }>(svc, 'POST', '/admin/v1/installs', {
    install_id: ids.installId,
    tenant_id: ids.tenantId,
    extension_id: ids.registryId,
    version_id: ids.versionId,
  });
  assert.equal(inst.status, 201, JSON.stringify(inst.json));
  return { ...ids, contentHash: up.json.content_hash };
}

/** The extension proxy's call (test/support/alga-gateway.ts), with RUNNER_SERVICE_TOKEN set on Alga's side. */
function proxyCall(svc: TestService, a: AlgaIds, target: string, secretEnvelope: unknown) {
  const { headers, body } = algaProxyRequest(a, target, { providers: KITCHEN_CAPS, secretEnvelope, serviceToken: svc.serviceToken });
  return postFrom('127.0.0.1', `${svc.url}/v1/execute`, headers, body);
}

/** The API route's call (test/support/alga-gateway.ts): no token; a POST with the request id as its idempotency key. */
function apiRouteCall(svc: TestService, from: string, a: AlgaIds, path: string, secretEnvelope: unknown, extraHeaders: Record<string, string> = {}) {
  const { headers, body } = algaApiRouteRequest(a, path, { method: 'POST', body: { hello: 'world' }, providers: KITCHEN_CAPS, secretEnvelope });
  return postFrom(from, `${svc.url}/v1/execute`, { ...headers, ...extraHeaders }, body);
}

/** The scheduled-job handler's call (test/support/alga-gateway.ts): no token, x-idempotency-key = request id, trigger and schedule id in the context. */
function scheduledCall(svc: TestService, from: string, a: AlgaIds, endpointPath: string, secretEnvelope: unknown, requestId = randomUUID()) {
  const { headers, body } = algaScheduledJobRequest(
    a,
    { scheduleId: 'f3b0c442-98fc-4c1c-9f6e-2a1d1e4b7c10', method: 'POST', path: endpointPath, payload: { nightly: true } },
    { providers: KITCHEN_CAPS, secretEnvelope, requestId },
  );
  return postFrom(from, `${svc.url}/v1/execute`, headers, body);
}

let vault: FakeVault;
let svc: TestService;
let alga: AlgaIds;

before(async () => {
  vault = await startFakeVault();
  svc = await startTestService({
    env: {
      RUNNER_SERVICE_TOKEN: 'service-token-0123456789',
      RUNNER_ADMIN_TOKEN: 'admin-token-0123456789ab',
      RUNNER_TOKENLESS_NETWORKS: `${TOKENLESS_FROM}/32`,
      RUNNER_ENVELOPE_SECRETS: '1',
      RUNNER_VAULT_ADDR: vault.url,
      RUNNER_VAULT_TOKEN: VAULT_TOKEN,
      RUNNER_VAULT_NAMESPACE: 'alga/prod',
      RUNNER_VAULT_TRANSIT_KEYS: `${TRANSIT_KEY},other-key`,
      RUNNER_VAULT_TIMEOUT_MS: '1000',
    },
  });
  alga = await mirror(svc, 'alga-mirrored');
});
after(async () => {
  await svc.close();
  await vault.close();
});

describe('caller-chosen ids (mirroring Alga registry)', () => {
  test('an upload and an install take the given ids; the same requests again answer 200 with the same ids', async () => {
    const q = new URLSearchParams({ name: 'alga-mirrored', version: '1.0.0', capabilities: KITCHEN_CAPS.join(','), extension_id: alga.registryId, version_id: alga.versionId });
    const again = await admin<Registered>(svc, 'POST', `/admin/v1/extensions?${q}`, new Uint8Array(exampleBytes('kitchen-sink')));
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { extension_id: alga.registryId, version_id: alga.versionId, content_hash: alga.contentHash, warnings: [] });
    const inst = await admin(svc, 'POST', '/admin/v1/installs', { install_id: alga.installId, tenant_id: alga.tenantId, extension_id: alga.registryId, version_id: alga.versionId });
    assert.equal(inst.status, 200);
    assert.deepEqual(inst.json, { install_id: alga.installId });
    const got = await admin<Record<string, unknown>>(svc, 'GET', `/admin/v1/installs/${alga.installId}`);
    assert.equal(got.json.extension_id, alga.registryId);
    assert.equal(got.json.version_id, alga.versionId);
  });

  test('an id already naming something else, or a thing that already has another id, is 409 id_conflict', async () => {
    const upload = (query: Record<string, string>) =>
      admin<ErrorBody>(svc, 'POST', `/admin/v1/extensions?${new URLSearchParams({ version: '1.0.0', ...query })}`, new Uint8Array(exampleBytes('kitchen-sink')));
    // the extension id names another extension
    let r = await upload({ name: 'someone-else', extension_id: alga.registryId });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'id_conflict');
    assert.equal(r.json.error.extension_id, alga.registryId);
    // this publisher and name already have another id
    r = await upload({ name: 'alga-mirrored', extension_id: randomUUID() });
    assert.equal(r.json.error.code, 'id_conflict');
    assert.equal(r.json.error.extension_id, alga.registryId);
    // the version id names version 1.0.0: a 2.0.0 cannot have it
    r = await upload({ name: 'alga-mirrored', version: '2.0.0', extension_id: alga.registryId, version_id: alga.versionId });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'id_conflict');
    // 1.0.0 under another version id
    r = await upload({ name: 'alga-mirrored', extension_id: alga.registryId, version_id: randomUUID() });
    assert.equal(r.json.error.code, 'id_conflict');
    assert.equal(r.json.error.version_id, alga.versionId);
    // the install id with other settings, or for another tenant
    let i = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', {
      install_id: alga.installId,
      tenant_id: alga.tenantId,
      extension_id: alga.registryId,
      version_id: alga.versionId,
      config: { x: '1' },
    });
    assert.equal(i.status, 409);
    assert.equal(i.json.error.code, 'id_conflict');
    assert.equal(i.json.error.install_id, alga.installId);
    i = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { install_id: alga.installId, tenant_id: randomUUID(), extension_id: alga.registryId });
    assert.equal(i.json.error.code, 'id_conflict');
    // the tenant already has the extension under another install id
    i = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { install_id: randomUUID(), tenant_id: alga.tenantId, extension_id: alga.registryId });
    assert.equal(i.status, 409);
    assert.equal(i.json.error.code, 'install_exists');
    assert.equal(i.json.error.install_id, alga.installId);
    // nothing of the refused requests was registered
    const list = await admin<{ extensions: { extension_id: string; name: string; versions: unknown[] }[] }>(svc, 'GET', '/admin/v1/extensions');
    assert.deepEqual(
      list.json.extensions.filter((e) => e.name === 'someone-else' || e.extension_id === alga.registryId).map((e) => [e.name, e.versions.length]),
      [['alga-mirrored', 1]],
    );
  });

  test('ids outside the documented pattern are refused with invalid_request', async () => {
    for (const bad of ['', '-leading-dash', 'has space', 'x'.repeat(129), 'slash/inside']) {
      const r = await admin<ErrorBody>(svc, 'POST', '/admin/v1/installs', { install_id: bad, tenant_id: 't', extension_id: alga.registryId });
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.error.code, 'invalid_request');
      const u = await admin<ErrorBody>(svc, 'POST', `/admin/v1/extensions?${new URLSearchParams({ name: 'n', version: '1.0.0', extension_id: bad })}`, new Uint8Array(exampleBytes('kitchen-sink')));
      assert.equal(u.status, 400, bad);
    }
  });

  test("Alga's extension proxy reaches the mirrored install with Alga's ids, field by field", async () => {
    const r = await proxyCall(svc, alga, '/context', null);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status, 200);
    const ctx = guestJson<{ ok: Record<string, unknown> }>(r.json).ok;
    assert.equal(ctx.tenantId, alga.tenantId);
    assert.equal(ctx.extensionId, alga.registryId);
    assert.equal(ctx.installId, alga.installId);
    assert.equal(ctx.versionId, alga.versionId);
  });
});

describe('tokenless callers from listed networks', () => {
  test('the start-up warning names the networks', async () => {
    const line = await svc.logLine((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.includes('RUNNER_TOKENLESS_NETWORKS'));
    assert.deepEqual(line.networks, ['127.0.0.2/32']);
    assert.match(String(line.msg), /127\.0\.0\.2\/32/);
  });

  test("Alga's API route call, without a token: run from the listed network, 401 from elsewhere", async () => {
    const ok = await apiRouteCall(svc, TOKENLESS_FROM, alga, '/echo', null);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.status, 200);
    const elsewhere = await apiRouteCall(svc, '127.0.0.1', alga, '/echo', null);
    assert.equal(elsewhere.status, 401);
    assert.equal((elsewhere.json as unknown as ErrorBody).error.code, 'unauthorized');
  });

  test("Alga's scheduled-job call, without a token: run from the listed network, 401 from elsewhere", async () => {
    const ok = await scheduledCall(svc, TOKENLESS_FROM, alga, '/echo', null);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.status, 200);
    assert.equal((await scheduledCall(svc, '127.0.0.1', alga, '/echo', null)).status, 401);
  });

  test('X-Forwarded-For is not believed without trusted proxies; a wrong token is 401 even from a listed network', async () => {
    const forged = await apiRouteCall(svc, '127.0.0.1', alga, '/echo', null, { 'x-forwarded-for': TOKENLESS_FROM });
    assert.equal(forged.status, 401);
    const wrongToken = await apiRouteCall(svc, TOKENLESS_FROM, alga, '/echo', null, { 'x-runner-service-token': 'not-the-token-at-all' });
    assert.equal(wrongToken.status, 401);
  });
});

describe('secret envelopes (RUNNER_ENVELOPE_SECRETS=1)', () => {
  test('inline/base64: the guest sees the envelope secrets over the stored ones, with the secrets capability', async () => {
    const put = await admin(svc, 'PUT', `/admin/v1/installs/${alga.installId}/secrets`, { values: { api_key: 'stored-key', stored_only: 's' } });
    assert.equal(put.status, 204);
    const envelope = inline({ api_key: 'alga-key', webhook_secret: 'w' });
    const got = await proxyCall(svc, alga, '/secrets/get?key=api_key', envelope);
    assert.deepEqual(guestJson(got.json), { ok: 'alga-key' });
    const listed = await proxyCall(svc, alga, '/secrets/list', envelope);
    assert.deepEqual(guestJson(listed.json), { ok: ['api_key', 'stored_only', 'webhook_secret'] });
    // without an envelope: the stored secrets alone
    assert.deepEqual(guestJson((await proxyCall(svc, alga, '/secrets/get?key=api_key', null)).json), { ok: 'stored-key' });
    assert.deepEqual(guestJson((await proxyCall(svc, alga, '/secrets/get?key=webhook_secret', null)).json), { err: 'missing' });
  });

  test('the envelope does not grant the secrets capability: without cap:secrets.get in providers the guest is denied', async () => {
    const requestId = randomUUID();
    const narrowed = await postFrom(
      '127.0.0.1',
      `${svc.url}/v1/execute`,
      { 'content-type': 'application/json', 'x-runner-service-token': svc.serviceToken, 'x-alga-tenant': alga.tenantId },
      {
        context: { request_id: requestId, tenant_id: alga.tenantId, extension_id: alga.registryId, install_id: alga.installId },
        http: { method: 'GET', path: '/secrets/get', query: { key: 'api_key' }, headers: {} },
        providers: ['cap:context.read'],
        secret_envelope: inline({ api_key: 'alga-key' }),
      },
    );
    assert.deepEqual(guestJson(narrowed.json), { err: 'denied' });
  });

  test('vault-transit: decrypted through the transit API with the token and the allowed key, then kept for a while', async () => {
    vault.requests.length = 0;
    const ciphertext = vault.seal({ api_key: 'vault-key' });
    const envelope = { ciphertext_b64: ciphertext, algorithm: 'vault-transit:v1', key_path: TRANSIT_KEY, mount: 'transit', version: '2' };
    const r = await scheduledCall(svc, TOKENLESS_FROM, alga, '/secrets/get', envelope);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    // the scheduled job POSTs; /secrets/get reads ?key=, so the guest answers bad_request without it — use the proxy for the value
    const viaProxy = await proxyCall(svc, alga, '/secrets/get?key=api_key', envelope);
    assert.deepEqual(guestJson(viaProxy.json), { ok: 'vault-key' });
    assert.equal(vault.requests.length, 1, 'the second request used the opened envelope');
    assert.deepEqual(vault.requests[0], { path: `/v1/transit/decrypt/${TRANSIT_KEY}`, token: VAULT_TOKEN, namespace: 'alga/prod', body: { ciphertext } });
    // an envelope naming no key uses the first allowed one
    const noKey = await proxyCall(svc, alga, '/secrets/get?key=api_key', { ciphertext_b64: vault.seal({ api_key: 'k2' }), algorithm: 'vault-transit:v1' });
    assert.deepEqual(guestJson(noKey.json), { ok: 'k2' });
  });

  test('an idempotent retry replays without opening its envelope; an envelope that failed to open leaves the key free', async () => {
    const vaultEnvelope = () => ({ ciphertext_b64: vault.seal({ api_key: 'v' }), algorithm: 'vault-transit:v1', key_path: TRANSIT_KEY });
    const requestId = randomUUID();
    const first = await scheduledCall(svc, TOKENLESS_FROM, alga, '/counter', vaultEnvelope(), requestId);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    vault.mode = 'deny';
    try {
      // the retry carries a re-sealed envelope (not in the runner's cache) while Vault refuses: the stored answer is replayed
      const retry = await scheduledCall(svc, TOKENLESS_FROM, alga, '/counter', vaultEnvelope(), requestId);
      assert.equal(retry.status, 200, JSON.stringify(retry.json));
      assert.deepEqual(retry.json, first.json);
      // a first attempt whose envelope cannot be opened runs nothing and claims nothing
      const other = randomUUID();
      assert.equal((await scheduledCall(svc, TOKENLESS_FROM, alga, '/counter', vaultEnvelope(), other)).status, 502);
      vault.mode = 'ok';
      const again = await scheduledCall(svc, TOKENLESS_FROM, alga, '/counter', vaultEnvelope(), other);
      assert.equal(again.status, 200, JSON.stringify(again.json));
      assert.equal(again.json.status, 200);
    } finally {
      vault.mode = 'ok';
    }
  });

  test('envelopes that cannot be opened are refused before the guest runs, with clear codes', async () => {
    const refused = async (envelope: unknown) => {
      const r = await proxyCall(svc, alga, '/secrets/get?key=api_key', envelope);
      return { status: r.status, error: (r.json as unknown as ErrorBody).error };
    };
    vault.requests.length = 0;
    let e = await refused({ ciphertext_b64: vault.seal({ a: 'b' }), algorithm: 'vault-transit:v1', key_path: 'root-key' });
    assert.equal(e.status, 400);
    assert.equal(e.error.code, 'secret_envelope_invalid');
    assert.match(e.error.message, /root-key.*RUNNER_VAULT_TRANSIT_KEYS/);
    e = await refused({ ciphertext_b64: vault.seal({ a: 'b' }), algorithm: 'vault-transit:v1', key_path: TRANSIT_KEY, mount: 'other-transit' });
    assert.equal(e.error.code, 'secret_envelope_invalid');
    assert.equal(vault.requests.length, 0, 'Vault is not asked with a key or mount the operator does not allow');
    e = await refused({ ciphertext_b64: 'not base64!', algorithm: 'inline/base64' });
    assert.equal(e.error.code, 'secret_envelope_invalid');
    e = await refused({ ciphertext_b64: b64({ api_key: 42 }), algorithm: 'inline/base64' });
    assert.equal(e.error.code, 'secret_envelope_invalid');
    assert.doesNotMatch(e.error.message, /42/);
    e = await refused({ ciphertext_b64: b64({}), algorithm: 'rot13' });
    assert.equal(e.error.code, 'secret_envelope_invalid');
    // Vault refusing, then Vault not answering
    vault.mode = 'deny';
    e = await refused({ ciphertext_b64: vault.seal({ a: 'b' }), algorithm: 'vault-transit:v1', key_path: TRANSIT_KEY });
    assert.equal(e.status, 502);
    assert.equal(e.error.code, 'secret_decrypt_failed');
    assert.match(e.error.message, /403.*permission denied/);
    vault.mode = 'hang';
    e = await refused({ ciphertext_b64: vault.seal({ a: 'b' }), algorithm: 'vault-transit:v1', key_path: TRANSIT_KEY });
    assert.equal(e.status, 502);
    assert.match(e.error.message, /did not answer within 1000 ms/);
    vault.mode = 'ok';
  });
});

describe('defaults and trusted proxies (a second service)', () => {
  let plain: TestService;
  let ids: AlgaIds;
  before(async () => {
    plain = await startTestService({ env: { RUNNER_TOKENLESS_NETWORKS: `${TOKENLESS_FROM}/32`, RUNNER_TRUSTED_PROXIES: '127.0.0.1' } });
    ids = await mirror(plain, 'alga-plain');
  });
  after(async () => plain.close());

  test('behind a trusted proxy, X-Forwarded-For names the caller', async () => {
    assert.equal((await apiRouteCall(plain, '127.0.0.1', ids, '/echo', null, { 'x-forwarded-for': TOKENLESS_FROM })).status, 200);
    assert.equal((await apiRouteCall(plain, '127.0.0.1', ids, '/echo', null, { 'x-forwarded-for': '10.9.9.9' })).status, 401);
    assert.equal((await apiRouteCall(plain, '127.0.0.1', ids, '/echo', null)).status, 401);
  });

  test('envelope secrets off (the default): the envelope is ignored, the guest sees the stored secrets, and the log says so once', async () => {
    await admin(plain, 'PUT', `/admin/v1/installs/${ids.installId}/secrets`, { values: { api_key: 'stored-key' } });
    for (let i = 0; i < 2; i++) {
      const r = await apiRouteCall(plain, TOKENLESS_FROM, ids, '/secrets/list', inline({ api_key: 'alga-key', extra: 'x' }));
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const r = await proxyCall(plain, ids, '/secrets/get?key=api_key', inline({ api_key: 'alga-key' }));
    assert.deepEqual(guestJson(r.json), { ok: 'stored-key' });
    await plain.logLine((l) => typeof l.msg === 'string' && l.msg.startsWith('secret_envelope ignored'));
    assert.equal(
      plain
        .logText()
        .split('\n')
        .filter((l) => l.includes('secret_envelope ignored')).length,
      1,
    );
  });
});
