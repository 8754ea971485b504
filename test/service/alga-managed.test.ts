/**
 * The Alga-managed mode (RUNNER_REGISTRY=alga, docs/alga.md): Alga is the registry. Execute calls
 * are sent as Alga's extension proxy sends them (packages/product-ext-proxy/ee/handler.ts with
 * ee/runner-backend.ts, Nine-Minds/alga-psa at 432f5f5887), with no admin call before them.
 *
 * Alga is played by ONE LOOPBACK HTTP SERVER here (test/support/fake-alga.ts), not by Alga itself:
 * its bundle store, read over HTTP in Alga's key layout
 * (`/bundles/tenants/{tenant}/extensions/{extension}/sha256/{hex}/bundle.tar.zst`, the key Alga's
 * runner builds in ee/runner/src/engine/loader.rs from x-alga-tenant and x-alga-extension); Alga's
 * internal storage API as its route defines it
 * (ee/server/src/app/api/internal/ext-storage/install/[installId]/route.ts): `x-runner-auth`
 * checked (401 UNAUTHORIZED), `{operation, namespace, key, value, metadata, ifRevision}`, a get of
 * nothing → 404 NOT_FOUND, a stale `ifRevision` → 409 REVISION_MISMATCH, delete → `{success}`,
 * list → `{items, nextCursor}`, revisions from 1 up by 1; and a ui-proxy upstream that echoes the
 * path it was asked for.
 * Every request to it is recorded. One more suite reads the bundle from an S3 bucket served by
 * s3rver on loopback (an S3-compatible server, not AWS), in the same key layout under a prefix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { packBundle } from '../../src/bundle/index.js';
import { loadConfig, ConfigError } from '../../src/service/config.js';
import { exampleBytes, guestJson, startTestService, type Answer, type ErrorBody, type TestService } from './harness.js';
import { algaProxyRequest } from '../support/alga-gateway.js';
import { FAKE_ALGA_AUTH, managedModeEnv, startFakeAlga, type FakeAlga } from '../support/fake-alga.js';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { openGate, type Gate } from './gate.js';
import { cleanEnv, startCli } from './cli-process.js';

const RUNNER_AUTH = FAKE_ALGA_AUTH;
const MANIFEST_CAPS = ['cap:context.read', 'cap:log.emit', 'cap:user.read', 'cap:storage.kv', 'cap:ui.proxy'];

interface AlgaInstall {
  tenantId: string;
  registryId: string;
  installId: string;
  versionId: string;
  contentHash: string;
}

async function publish(alga: FakeAlga, capabilities: string[] = MANIFEST_CAPS, publishTo?: { tenantId: string; registryId: string }): Promise<AlgaInstall & { key: string }> {
  const packed = await packBundle({
    manifestJson: JSON.stringify({ name: 'com.acme.kitchen', publisher: 'Acme', version: '1.0.0', runtime: 'wasm-js@1', capabilities, ui: { type: 'iframe', entry: 'ui/index.html' } }),
    mainWasm: exampleBytes('kitchen-sink'),
    uiFiles: new Map([['ui/index.html', Buffer.from('<p>kitchen</p>')]]),
  });
  assert.equal(packed.kind, 'ok');
  if (packed.kind !== 'ok') throw new Error('pack failed');
  const ids = { tenantId: randomUUID(), registryId: randomUUID(), installId: randomUUID(), versionId: randomUUID(), contentHash: packed.value.contentHash };
  const at = publishTo ?? ids;
  const key = `tenants/${at.tenantId}/extensions/${at.registryId}/sha256/${packed.value.contentHash.slice('sha256:'.length)}/bundle.tar.zst`;
  alga.objects.set(key, packed.value.bytes);
  return { ...ids, key };
}

/** The refusal in a transport 4xx/5xx answer. */
const refusal = (json: Answer): ErrorBody['error'] => (json as unknown as ErrorBody).error;

/** The extension proxy's call, field by field (test/support/alga-gateway.ts), with an inline secret envelope. */
async function proxyCall(svc: TestService, a: AlgaInstall, target: string, o: { method?: string; body?: unknown; providers?: string[]; omit?: 'install_id'; idempotencyKey?: string } = {}) {
  const secretEnvelope = { ciphertext_b64: Buffer.from(JSON.stringify({ api_key: 'k-123' })).toString('base64'), algorithm: 'inline/base64', version: '2' };
  const { headers, body } = algaProxyRequest(a, target, { ...o, providers: o.providers ?? MANIFEST_CAPS, secretEnvelope, serviceToken: svc.serviceToken });
  if (o.idempotencyKey) headers['x-idempotency-key'] = o.idempotencyKey;
  const response = await fetch(`${svc.url}/v1/execute`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Answer };
}

describe('Alga-managed mode: the envelope says the install, Alga keeps bundles and storage', () => {
  let alga: FakeAlga;
  let svc: TestService;

  before(async () => {
    alga = await startFakeAlga();
    svc = await startTestService({
      env: {
        ...managedModeEnv(alga),
        RUNNER_MANAGED_UI_PROXY_URL: `${alga.url}/upstream`,
      },
    });
  });
  after(async () => {
    await svc?.close();
    await alga?.close();
  });

  test('with no admin call, the proxy call runs the bundle fetched from Alga’s store, as Alga’s install', async () => {
    const a = await publish(alga);
    const r = await proxyCall(svc, a, '/context');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status, 200, JSON.stringify(r.json));
    const ctx = guestJson<{ ok: Record<string, string> }>(r.json).ok;
    assert.equal(ctx.tenantId, a.tenantId);
    assert.equal(ctx.extensionId, a.registryId);
    assert.equal(ctx.installId, a.installId);
    assert.equal(ctx.versionId, a.versionId);
    const gets = alga.requests.filter((q) => q.method === 'GET' && q.path === `/bundles/${a.key}`);
    assert.equal(gets.length, 1, 'fetched from the bundle store under the caller’s tenant and extension');
    // the second call uses what was prepared: no second fetch
    const again = await proxyCall(svc, a, '/context');
    assert.equal(again.json.status, 200);
    assert.equal(alga.requests.filter((q) => q.path === `/bundles/${a.key}`).length, 1);
  });

  test('concurrent first calls for one bundle fetch it once; the guest’s log records reach the service log with Alga’s install id', async () => {
    const a = await publish(alga);
    const message = `managed-hello-${randomUUID()}`;
    const answers = await Promise.all([proxyCall(svc, a, '/context'), proxyCall(svc, a, '/context'), proxyCall(svc, a, `/log?msg=${message}`)]);
    for (const r of answers) assert.equal(r.json.status, 200, JSON.stringify(r.json));
    assert.equal(alga.requests.filter((q) => q.path === `/bundles/${a.key}`).length, 1);
    const line = await svc.logLine((l) => l.msg === message);
    assert.equal((line.guest as { install?: string }).install, a.installId);
  });

  test('storage goes to Alga’s ext-storage API with Alga’s install id: put, get, compare-and-swap, delete', async () => {
    const a = await publish(alga);
    const put = await proxyCall(svc, a, '/kv/put', { method: 'POST', body: { ns: 'prefs', key: 'theme', value: 'dark' } });
    assert.equal(put.json.status, 200, JSON.stringify(put.json));
    assert.deepEqual(guestJson(put.json), { ok: { namespace: 'prefs', key: 'theme', value: 'dark', revision: '1' } });
    const got = await proxyCall(svc, a, '/kv/get?ns=prefs&key=theme');
    assert.deepEqual(guestJson(got.json), { ok: { namespace: 'prefs', key: 'theme', value: 'dark', revision: '1' } });

    const calls = alga.requests.filter((q) => q.path === `/api/internal/ext-storage/install/${a.installId}`);
    assert.equal(calls.length, 2);
    const [putCall, getCall] = calls;
    assert.equal(putCall?.headers['x-runner-auth'], RUNNER_AUTH);
    assert.equal(putCall?.headers['content-type'], 'application/json');
    assert.deepEqual(putCall?.body, { operation: 'put', namespace: 'prefs', key: 'theme', value: Buffer.from('dark').toString('base64'), metadata: { encoding: 'base64-bytes' } });
    assert.deepEqual(getCall?.body, { operation: 'get', namespace: 'prefs', key: 'theme' });

    // a stale revision is Alga's 409 → conflict; the current one writes revision 2
    const stale = await proxyCall(svc, a, '/kv/put', { method: 'POST', body: { ns: 'prefs', key: 'theme', value: 'light', revision: 0 } });
    assert.deepEqual(guestJson(stale.json), { err: 'conflict' });
    assert.equal(alga.requests.at(-1)?.body?.ifRevision, 0);
    const swapped = await proxyCall(svc, a, '/kv/put', { method: 'POST', body: { ns: 'prefs', key: 'theme', value: 'light', revision: 1 } });
    assert.deepEqual(guestJson(swapped.json), { ok: { namespace: 'prefs', key: 'theme', value: 'light', revision: '2' } });
    const listed = await proxyCall(svc, a, '/kv/list?ns=prefs');
    assert.deepEqual(guestJson(listed.json), { ok: [{ namespace: 'prefs', key: 'theme', value: 'light', revision: '2' }] });
    const removed = await proxyCall(svc, a, '/kv/delete?ns=prefs&key=theme');
    assert.deepEqual(guestJson(removed.json), { ok: null });
    const gone = await proxyCall(svc, a, '/kv/get?ns=prefs&key=theme');
    assert.deepEqual(guestJson(gone.json), { err: 'missing' }, 'Alga’s 404 → missing');
    const removedAgain = await proxyCall(svc, a, '/kv/delete?ns=prefs&key=theme');
    assert.deepEqual(guestJson(removedAgain.json), { err: 'missing' }, 'Alga’s {success: false} → missing');
  });

  test('the providers grant: narrower than the manifest, the guest gets only them and Alga’s storage is never called', async () => {
    const a = await publish(alga);
    const before = alga.requests.length;
    const r = await proxyCall(svc, a, '/kv/get?ns=prefs&key=theme', { providers: ['cap:context.read', 'cap:log.emit'] });
    assert.equal(r.json.status, 200, JSON.stringify(r.json));
    assert.deepEqual(guestJson(r.json), { err: 'denied' });
    assert.equal(alga.requests.slice(before).filter((q) => q.path.startsWith('/api/internal/ext-storage')).length, 0);
  });

  test('providers wider than the manifest do not grant what the bundle does not declare', async () => {
    const a = await publish(alga, ['cap:context.read', 'cap:log.emit']);
    const r = await proxyCall(svc, a, '/kv/get?ns=prefs&key=theme');
    assert.deepEqual(guestJson(r.json), { err: 'denied' });
  });

  test('a bundle that is not in Alga’s store is 404 bundle_not_found; one under another tenant’s key is not found either', async () => {
    const a = await publish(alga);
    alga.objects.delete(a.key);
    const r = await proxyCall(svc, a, '/context');
    assert.equal(r.status, 404, JSON.stringify(r.json));
    assert.equal(refusal(r.json).code, 'bundle_not_found');
    assert.match(refusal(r.json).message, new RegExp(a.tenantId));

    const elsewhere = await publish(alga, MANIFEST_CAPS, { tenantId: randomUUID(), registryId: randomUUID() });
    const other = await proxyCall(svc, elsewhere, '/context');
    assert.equal(other.status, 404);
    assert.equal(refusal(other.json).code, 'bundle_not_found');
  });

  test('a tampered bundle (bytes that are not their hash) is 502 component_hash_mismatch and nothing runs', async () => {
    const a = await publish(alga);
    const bytes = Buffer.from(alga.objects.get(a.key) ?? Buffer.alloc(0));
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    alga.objects.set(a.key, bytes);
    const r = await proxyCall(svc, a, '/context');
    assert.equal(r.status, 502, JSON.stringify(r.json));
    assert.equal(refusal(r.json).code, 'component_hash_mismatch');
  });

  test('an envelope without Alga’s install id is refused: the managed mode does not guess the install', async () => {
    const a = await publish(alga);
    const r = await proxyCall(svc, a, '/context', { omit: 'install_id' });
    assert.equal(r.status, 400);
    assert.equal(refusal(r.json).code, 'invalid_request');
    assert.match(refusal(r.json).message, /context\.install_id/);
  });

  test('ui-proxy routes as Alga’s runner: a route not under /api/ is prefixed with the extension id, /api/ routes are not', async () => {
    const a = await publish(alga);
    const own = await proxyCall(svc, a, `/proxy?route=${encodeURIComponent('/items/7')}`);
    assert.deepEqual(guestJson(own.json), { ok: JSON.stringify({ upstream_path: `/${a.registryId}/items/7`, install: a.installId }) });
    const platform = await proxyCall(svc, a, `/proxy?route=${encodeURIComponent('/api/v1/tickets')}`);
    assert.deepEqual(guestJson(platform.json), { ok: JSON.stringify({ upstream_path: '/api/v1/tickets', install: a.installId }) });
    const upstream = alga.requests.filter((q) => q.path.startsWith('/upstream/')).at(-1);
    assert.equal(upstream?.headers['x-api-key'], 'k-123', 'the envelope’s api_key, as Alga’s runner sends it');
  });

  test('/ext-ui/{Alga extension id}/{content hash}/… serves the bundle’s UI from Alga’s store, for the tenant the URL names', async () => {
    const a = await publish(alga);
    const base = `${svc.url}/ext-ui/${a.registryId}/${a.contentHash}`;
    const page = await fetch(`${base}/index.html?tenant=${a.tenantId}`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), '<p>kitchen</p>');
    const byHeader = await fetch(`${base}/deep/link`, { headers: { 'x-tenant-id': a.tenantId } });
    assert.equal(await byHeader.text(), '<p>kitchen</p>', 'an extension-less path falls back to the UI entry');

    const noTenant = await fetch(`${base}/index.html`);
    assert.equal(noTenant.status, 400);
    const absent = await publish(alga);
    alga.objects.delete(absent.key);
    const missing = await fetch(`${svc.url}/ext-ui/${absent.registryId}/${absent.contentHash.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}/index.html?tenant=${absent.tenantId}`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as ErrorBody).error.code, 'bundle_not_found');
  });
});

describe('Alga-managed mode on an S3 bundle store (s3rver on loopback, not AWS)', () => {
  let s3: S3rver;
  let s3Dir: string;
  let alga: FakeAlga;
  let svc: TestService;
  let put: (key: string, bytes: Buffer) => Promise<void>;

  before(async () => {
    s3Dir = await mkdtemp(join(tmpdir(), 'managed-s3rver-'));
    s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: 'alga-bundles' }] });
    const endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
    // the SDK in the service reads its credentials from the process environment
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    const client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    put = async (key, bytes) => void (await client.send(new PutObjectCommand({ Bucket: 'alga-bundles', Key: `extensions/${key}`, Body: bytes })));
    alga = await startFakeAlga();
    svc = await startTestService({
      env: {
        RUNNER_REGISTRY: 'alga',
        RUNNER_COMPONENT_STORE: 's3',
        RUNNER_COMPONENT_STORE_BUCKET: 'alga-bundles',
        RUNNER_COMPONENT_STORE_PREFIX: 'extensions',
        RUNNER_COMPONENT_STORE_REGION: 'us-east-1',
        RUNNER_COMPONENT_STORE_ENDPOINT: endpoint,
        RUNNER_TENANT_DATA_URL: alga.url,
        RUNNER_TENANT_DATA_TOKEN: RUNNER_AUTH,
      },
    });
  });
  after(async () => {
    await svc?.close();
    await alga?.close();
    await s3?.close();
    await rm(s3Dir, { recursive: true, force: true });
  });

  test('the bundle is read from the bucket under {prefix}/tenants/{tenant}/extensions/{extension}/sha256/{hex}/bundle.tar.zst; absent → bundle_not_found', async () => {
    const a = await publish(alga);
    await put(a.key, alga.objects.get(a.key) ?? Buffer.alloc(0));
    const r = await proxyCall(svc, a, '/context');
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(guestJson<{ ok: { installId: string } }>(r.json).ok.installId, a.installId);
    const absent = await publish(alga);
    const missing = await proxyCall(svc, absent, '/context');
    assert.equal(missing.status, 404, JSON.stringify(missing.json));
    assert.equal(refusal(missing.json).code, 'bundle_not_found');
  });
});

describe('Alga-managed mode: idempotent replays and the change feed’s full resync', () => {
  let alga: FakeAlga;
  let gate: Gate;
  let svc: TestService;
  const dataDir = mkdtempSync(join(tmpdir(), 'managed-resync-'));
  const env = (): Record<string, string> => ({
    ...managedModeEnv(alga),
    RUNNER_MANAGED_UI_PROXY_URL: `${alga.url}/upstream`,
    RUNNER_MANAGED_EGRESS_ALLOW: gate.origin,
    RUNNER_CHANGE_RECHECK_MS: '50',
  });
  const caps = [...MANIFEST_CAPS, 'cap:http.fetch', 'cap:secrets.get'];
  const bundleGets = (a: { key: string }) => alga.requests.filter((q) => q.method === 'GET' && q.path === `/bundles/${a.key}`).length;

  before(async () => {
    alga = await startFakeAlga();
    gate = await openGate();
    svc = await startTestService({ dataDir, env: env() });
  });
  after(async () => {
    await svc?.close();
    await gate?.close();
    await alga?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('“everything changed” (a change the feed missed) while a managed execution runs: it keeps the grants its envelope gave, and the next call fetches no bundle', async () => {
    const a = await publish(alga, caps);
    assert.equal((await proxyCall(svc, a, '/context', { providers: caps })).json.status, 200);
    assert.equal(bundleGets(a), 1);

    // the guest calls every interface, the gate's fetch first among those that block: it runs until released
    const running = proxyCall(svc, a, `/all?fetch=${encodeURIComponent(`${gate.origin}/held`)}&route=/items/1`, { providers: caps });
    const held = await gate.next();
    const resynced = svc.logLine((l) => l.msg === 'change feed: everything cached about installs dropped (a change notification may have been missed)');
    // another process's change this one never heard of: the re-check finds the counter moved
    await sql`update change_feed set generation = generation + 1 where id = 1`.execute(svc.running.runtime.store.db);
    assert.equal((await resynced)['reason'], 'missed');
    held.release('held-body');
    const r = await running;
    assert.equal(r.json.status, 200, JSON.stringify(r.json));
    const calls = guestJson<Record<string, Record<string, unknown>>>(r.json);
    assert.deepEqual(calls['storage.put'], { ok: { namespace: 'kitchen-sink', key: 'all', value: 'all', revision: '1' } }, 'storage after the resync: still granted, Alga’s API called');
    assert.deepEqual(calls['ui-proxy.call'], { ok: JSON.stringify({ upstream_path: `/${a.registryId}/items/1`, install: a.installId }) }, 'ui-proxy after the resync: still granted');
    assert.equal((calls['http.fetch'] as { ok?: { status: number } }).ok?.status, 200);

    const after = await proxyCall(svc, a, '/context', { providers: caps });
    assert.equal(after.json.status, 200);
    assert.equal(bundleGets(a), 1, 'the prepared bundle is content-addressed: a resync does not drop it');
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, /alga_runner_change_feed_resyncs_total\{reason="missed"\} [1-9]/);
  });

  test('a replayed idempotent call answers from the idempotency record without fetching the bundle (a process that never prepared it, the bundle gone from Alga’s store)', async () => {
    const a = await publish(alga, caps);
    const first = await proxyCall(svc, a, '/env', { providers: caps, idempotencyKey: 'req-7' });
    assert.equal(first.json.status, 200, JSON.stringify(first.json));
    assert.equal(bundleGets(a), 1);

    // a new process on the same store: it has prepared nothing
    await svc.close();
    alga.objects.delete(a.key);
    svc = await startTestService({ dataDir, env: env() });
    const replay = await proxyCall(svc, a, '/env', { providers: caps, idempotencyKey: 'req-7' });
    assert.equal(replay.status, 200, JSON.stringify(replay.json));
    assert.deepEqual(replay.json, first.json, 'the first answer, replayed');
    assert.equal(bundleGets(a), 1, 'the replay fetched nothing');

    const fresh = await proxyCall(svc, a, '/env', { providers: caps, idempotencyKey: 'req-8' });
    assert.equal(fresh.status, 404, 'a new key must run, and the bundle is gone');
    assert.equal(refusal(fresh.json).code, 'bundle_not_found');
    assert.equal(bundleGets(a), 2);
  });
});

describe('Alga-managed mode: settings', () => {
  const flags = { port: '0', host: '127.0.0.1', dataDir: '/tmp/unused', workers: '1' };
  test('the standalone mode is the default', () => {
    assert.equal(loadConfig(flags, {}).registry, 'standalone');
  });
  test('RUNNER_REGISTRY=alga needs Alga’s internal API and an http or s3 bundle store', () => {
    assert.throws(
      () => loadConfig(flags, { RUNNER_REGISTRY: 'alga', RUNNER_COMPONENT_STORE: 'http', RUNNER_COMPONENT_STORE_URL: 'http://alga.invalid/b' }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_TENANT_DATA_URL/.test(e.message),
    );
    assert.throws(
      () => loadConfig(flags, { RUNNER_REGISTRY: 'alga', RUNNER_TENANT_DATA_URL: 'http://alga.invalid', RUNNER_TENANT_DATA_TOKEN: 't' }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_COMPONENT_STORE=http or s3/.test(e.message),
    );
    assert.throws(
      () => loadConfig(flags, { RUNNER_REGISTRY: 'algae' }),
      (e: unknown) => e instanceof ConfigError && /RUNNER_REGISTRY/.test(e.message),
    );
    const ok = loadConfig(flags, {
      RUNNER_REGISTRY: 'alga',
      RUNNER_TENANT_DATA_URL: 'http://alga.invalid',
      RUNNER_TENANT_DATA_TOKEN: 't',
      RUNNER_COMPONENT_STORE: 'http',
      RUNNER_COMPONENT_STORE_URL: 'http://alga.invalid/b',
    });
    assert.equal(ok.registry, 'alga');
  });

  const managedEnv = {
    RUNNER_REGISTRY: 'alga',
    RUNNER_TENANT_DATA_URL: 'http://alga.invalid',
    RUNNER_TENANT_DATA_TOKEN: 't',
    RUNNER_COMPONENT_STORE: 'http',
    RUNNER_COMPONENT_STORE_URL: 'http://alga.invalid/b',
  };
  test('RUNNER_MANAGED_EGRESS_ALLOW: every entry checked as the install allowlist is, each mistake named; Alga’s bare hosts get the spelling meant', () => {
    assert.deepEqual(loadConfig(flags, { ...managedEnv, RUNNER_MANAGED_EGRESS_ALLOW: ' https://api.example.com , http://*.partner.io:8080 ' }).managed.egressAllow, [
      'https://api.example.com',
      'http://*.partner.io:8080',
    ]);
    assert.throws(
      () => loadConfig(flags, { ...managedEnv, RUNNER_MANAGED_EGRESS_ALLOW: 'https://ok.example.com,api.partner.io,https://*.com,ftp://files.example.com' }),
      (e: unknown) => {
        const text = e instanceof ConfigError ? e.message : '';
        assert.match(
          text,
          /RUNNER_MANAGED_EGRESS_ALLOW: invalid egress pattern "api\.partner\.io": expected scheme:\/\/host\[:port\] \(Alga's EXT_EGRESS_ALLOWLIST takes bare hosts; here write https:\/\/api\.partner\.io and, for its subdomains, https:\/\/\*\.api\.partner\.io\)/,
        );
        assert.match(text, /RUNNER_MANAGED_EGRESS_ALLOW: invalid egress pattern "https:\/\/\*\.com": a wildcard needs at least two labels/);
        assert.match(text, /RUNNER_MANAGED_EGRESS_ALLOW: invalid egress pattern "ftp:\/\/files\.example\.com": scheme must be http or https/);
        assert.doesNotMatch(text, /ok\.example\.com/);
        return true;
      },
    );
  });

  test('a bad RUNNER_MANAGED_EGRESS_ALLOW stops `serve` before it listens: exit code 2 and the reason on stderr', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'managed-egress-'));
    try {
      const proc = startCli(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir], cleanEnv({ ...managedEnv, RUNNER_MANAGED_EGRESS_ALLOW: 'api.partner.io' }));
      const [code] = (await once(proc.child, 'exit')) as [number | null];
      assert.equal(code, 2, proc.lines.join('\n'));
      assert.ok(
        proc.lines.some((l) => l.includes('RUNNER_MANAGED_EGRESS_ALLOW: invalid egress pattern "api.partner.io"')),
        proc.lines.join('\n'),
      );
      assert.ok(!proc.lines.some((l) => /listening/i.test(l)), 'never listened');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
