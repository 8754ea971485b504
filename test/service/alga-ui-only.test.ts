/**
 * UI-only extensions (a manifest with a `ui` and no `api`, no `dist/main.wasm`; the class of Alga's
 * `ee/extensions/samples/hello-world`), in both modes (docs/alga.md), on SQLite and PostgreSQL. The
 * bundle is packed by our `alga-runner pack` code (packBundleDirectory) from a temp directory shaped
 * like that sample — our own small files, not Alga's.
 *
 * Standalone: uploaded and installed with Alga's ids through the admin API, its UI served at
 * /ext-ui; an execute call as Alga's extension proxy makes it, and the dev gateway, answer the
 * catalogued `no_component`; an idempotency key refused so is not held; a component installed
 * beside it still runs; another process on the same store (SQLite: a restart on the same data
 * directory; PostgreSQL: a second replica on the same schema) warms nothing for it at start, fails
 * nothing, and serves and refuses the same.
 * Managed: the bundle is in Alga's bundle store (a loopback fake, test/support/fake-alga.ts): /ext-ui
 * serves it by Alga's ids, execute answers `no_component`.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packBundle, packBundleDirectory } from '../../src/bundle/index.js';
import { admin, exampleBytes, guestJson, startTestService, type Answer, type ErrorBody, type TestService } from './harness.js';
import { algaProxyRequest, type AlgaInstallIds } from '../support/alga-gateway.js';
import { algaBundleKey, managedModeEnv, startFakeAlga, type FakeAlga } from '../support/fake-alga.js';
import { TEST_DATABASE_URL, dropTestSchema, postgresSkipReason } from '../support/postgres.js';

const INDEX_HTML = '<!doctype html><title>Hi</title><script type="module" src="./main.js"></script><main id="app"></main>';
const MAIN_JS = 'document.getElementById("app").textContent = "Hi from a UI-only extension";\n';
const KITCHEN_CAPS = ['cap:context.read', 'cap:log.emit'];

/** `alga-runner pack` of a directory shaped like Alga's hello-world sample: manifest.json and ui/, nothing else. */
async function packUiOnly(): Promise<{ bytes: Buffer; contentHash: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ui-only-src-'));
  try {
    await mkdir(join(dir, 'ui'));
    const manifest = {
      name: 'com.acme.hi',
      publisher: 'Acme',
      version: '0.1.0',
      runtime: 'wasm-js@1',
      capabilities: [],
      ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: 'Hi' } } },
      assets: ['ui/**/*'],
    };
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(dir, 'ui', 'index.html'), INDEX_HTML);
    await writeFile(join(dir, 'ui', 'main.js'), MAIN_JS);
    const packed = await packBundleDirectory(dir);
    if (packed.kind !== 'ok') throw new Error(packed.error.message);
    assert.equal(packed.value.uiOnly, true);
    return { bytes: packed.value.bytes, contentHash: packed.value.contentHash };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A bundle with a component (kitchen-sink), to show installs beside the UI-only one still run. */
async function packKitchen(): Promise<{ bytes: Buffer; contentHash: string }> {
  const packed = await packBundle({
    manifestJson: JSON.stringify({ name: 'com.acme.kitchen', publisher: 'Acme', version: '1.0.0', runtime: 'wasm-js@1', capabilities: KITCHEN_CAPS }),
    mainWasm: exampleBytes('kitchen-sink'),
  });
  if (packed.kind !== 'ok') throw new Error(packed.error.message);
  return { bytes: packed.value.bytes, contentHash: packed.value.contentHash };
}

const newIds = (contentHash: string): AlgaInstallIds => ({ tenantId: randomUUID(), registryId: randomUUID(), installId: randomUUID(), versionId: randomUUID(), contentHash });
const bundleKey = algaBundleKey;

/** The call Alga's extension proxy makes (test/support/alga-gateway.ts); the transport answer. */
async function proxyCall(svc: Pick<TestService, 'url' | 'serviceToken'>, a: AlgaInstallIds, target: string, o: { method?: string; body?: unknown; idempotencyKey?: string } = {}) {
  const { headers, body } = algaProxyRequest(a, target, { ...o, providers: KITCHEN_CAPS, serviceToken: svc.serviceToken });
  if (o.idempotencyKey) headers['x-idempotency-key'] = o.idempotencyKey;
  const response = await fetch(`${svc.url}/v1/execute`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Answer & Partial<ErrorBody> };
}

/** Refused with the catalogued no_component, whatever the method and key. */
async function assertNoComponent(svc: Pick<TestService, 'url' | 'serviceToken'>, a: AlgaInstallIds): Promise<void> {
  const get = await proxyCall(svc, a, '/hello');
  assert.equal(get.status, 404, JSON.stringify(get.json));
  assert.equal(get.json.error?.code, 'no_component', JSON.stringify(get.json));
  assert.match(get.json.error?.message ?? '', /UI-only/);
  // a refused call leaves its key unclaimed: the same key again is refused the same, not held or replayed
  const key = `ui-only-${randomUUID()}`;
  for (let i = 0; i < 2; i++) {
    const post = await proxyCall(svc, a, '/hello', { method: 'POST', body: { n: i }, idempotencyKey: key });
    assert.equal(post.status, 404, JSON.stringify(post.json));
    assert.equal(post.json.error?.code, 'no_component');
  }
}

/** index.html and main.js of the bundle at /ext-ui (managed: `?tenant=`). */
async function assertUiServed(url: string, a: AlgaInstallIds, query = ''): Promise<void> {
  const base = `${url}/ext-ui/${a.registryId}/${a.contentHash}`;
  const page = await fetch(`${base}/index.html${query}`);
  assert.equal(page.status, 200, await page.clone().text());
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(await page.text(), INDEX_HTML);
  const script = await fetch(`${base}/main.js${query}`);
  assert.equal(script.status, 200);
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(await script.text(), MAIN_JS);
  // a single-page route falls back to the entry, as for any bundle
  assert.equal(await (await fetch(`${base}/settings${query}`)).text(), INDEX_HTML);
}

const pgSkip = await postgresSkipReason();

for (const store of ['SQLite', 'PostgreSQL'] as const) {
  const skip = store === 'PostgreSQL' ? pgSkip : false;
  const schema = `svc_ui_only_${process.pid}_${randomBytes(4).toString('hex')}`;
  const storeEnv: Record<string, string> = store === 'PostgreSQL' ? { DATABASE_URL: TEST_DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema } : {};
  const dropSchema = async () => {
    if (store === 'PostgreSQL' && !skip) await dropTestSchema(schema);
  };

  describe(`UI-only extension, standalone mode on ${store}`, { skip }, () => {
    let dataDir: string;
    let svc: TestService;
    let uiOnly: AlgaInstallIds;
    let kitchen: AlgaInstallIds;
    const cleanups: (() => Promise<unknown>)[] = [];

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'ui-only-svc-'));
      svc = await startTestService({ dataDir, env: storeEnv });
      const [ui, kit] = await Promise.all([packUiOnly(), packKitchen()]);
      uiOnly = newIds(ui.contentHash);
      kitchen = newIds(kit.contentHash);
      for (const [a, bytes] of [
        [uiOnly, ui.bytes],
        [kitchen, kit.bytes],
      ] as const) {
        const up = await admin<{ content_hash: string }>(svc, 'POST', `/admin/v1/extensions?extension_id=${a.registryId}&version_id=${a.versionId}`, bytes, { 'content-type': 'application/zstd' });
        assert.equal(up.status, 201, JSON.stringify(up.json));
        assert.equal(up.json.content_hash, a.contentHash, 'the bundle’s hash, as Alga stores it');
        const install = await admin(svc, 'POST', '/admin/v1/installs', { install_id: a.installId, tenant_id: a.tenantId, extension_id: a.registryId, version_id: a.versionId, grants: KITCHEN_CAPS });
        assert.equal(install.status, 201, JSON.stringify(install.json));
      }
    });
    after(async () => {
      for (const c of cleanups) await c();
      await svc?.close();
      await rm(dataDir, { recursive: true, force: true });
      await dropSchema();
    });

    test('the upload is idempotent, registered as a version with no component', async () => {
      const again = await admin<{ content_hash: string }>(
        svc,
        'POST',
        `/admin/v1/extensions?extension_id=${uiOnly.registryId}&version_id=${uiOnly.versionId}`,
        await packUiOnly().then((p) => p.bytes),
        {
          'content-type': 'application/zstd',
        },
      );
      assert.equal(again.status, 200, JSON.stringify(again.json));
      const version = await svc.running.runtime.store.registry.getVersion(uiOnly.versionId);
      assert.equal(version?.contentHash, uiOnly.contentHash);
      assert.equal(version?.manifest.component_hash, null);
    });

    test('its UI is served at /ext-ui/{extension}/{bundle hash}/…', async () => {
      await assertUiServed(svc.url, uiOnly);
    });

    test('execute, as Alga’s extension proxy calls it, answers no_component; the dev gateway too', async () => {
      await assertNoComponent(svc, uiOnly);
      const gateway = await fetch(`${svc.url}/api/ext/${uiOnly.registryId}/hello`, { headers: { 'x-alga-tenant': uiOnly.tenantId, 'x-runner-service-token': svc.serviceToken } });
      const body = (await gateway.json()) as ErrorBody;
      assert.equal(gateway.status, 404, JSON.stringify(body));
      assert.equal(body.error.code, 'no_component');
    });

    test('the install with a component beside it still runs', async () => {
      const r = await proxyCall(svc, kitchen, '/context');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(guestJson<{ ok: { installId: string } }>(r.json).ok.installId, kitchen.installId);
    });

    test(store === 'SQLite' ? 'after a restart on the same data directory' : 'on a second replica of the same schema', async () => {
      let other: TestService;
      if (store === 'SQLite') {
        await svc.close();
        other = await startTestService({ dataDir, env: storeEnv });
        svc = other;
      } else {
        const otherDir = await mkdtemp(join(tmpdir(), 'ui-only-replica-'));
        other = await startTestService({ dataDir: otherDir, env: storeEnv });
        cleanups.push(
          () => other.close(),
          () => rm(otherDir, { recursive: true, force: true }),
        );
      }
      // the start-up warm-up: the component warmed, nothing for the UI-only install, no failure
      const warmed = await other.logLine((l) => typeof l.msg === 'string' && l.msg.startsWith('installed versions warmed at start'));
      assert.equal(warmed.warmed, 1, JSON.stringify(warmed));
      assert.equal(warmed.failed, 0, JSON.stringify(warmed));
      await assertUiServed(other.url, uiOnly);
      await assertNoComponent(other, uiOnly);
      assert.equal((await proxyCall(other, kitchen, '/context')).status, 200);
    });
  });

  describe(`UI-only extension, Alga-managed mode on ${store}`, { skip }, () => {
    let alga: FakeAlga;
    let svc: TestService;
    let uiOnly: AlgaInstallIds;
    let kitchen: AlgaInstallIds;

    before(async () => {
      alga = await startFakeAlga();
      svc = await startTestService({
        env: {
          ...storeEnv,
          ...managedModeEnv(alga),
        },
      });
      const [ui, kit] = await Promise.all([packUiOnly(), packKitchen()]);
      uiOnly = newIds(ui.contentHash);
      kitchen = newIds(kit.contentHash);
      alga.objects.set(bundleKey(uiOnly), ui.bytes);
      alga.objects.set(bundleKey(kitchen), kit.bytes);
    });
    after(async () => {
      await svc?.close();
      await alga?.close();
      await dropSchema();
    });

    test('/ext-ui serves it from Alga’s bundle store by Alga’s ids, for the tenant named', async () => {
      await assertUiServed(svc.url, uiOnly, `?tenant=${uiOnly.tenantId}`);
      assert.ok(alga.requests.some((q) => q.method === 'GET' && q.path === `/bundles/${bundleKey(uiOnly)}`));
      const noTenant = await fetch(`${svc.url}/ext-ui/${uiOnly.registryId}/${uiOnly.contentHash}/index.html`);
      assert.equal(noTenant.status, 400);
    });

    test('execute, as Alga’s extension proxy calls it, answers no_component; a bundle with a component still runs', async () => {
      await assertNoComponent(svc, uiOnly);
      const r = await proxyCall(svc, kitchen, '/context');
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(guestJson<{ ok: { installId: string } }>(r.json).ok.installId, kitchen.installId);
    });
  });
}
