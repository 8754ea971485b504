/**
 * Bundle upload through the admin API, against a real service on loopback: the
 * demo extension packed by `alga-runner pack` registers, runs through the dev gateway, and is
 * immutable per version; invalid and hostile bundles are refused with their bundle error code.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { admin, createInstall, startTestService, type ErrorBody, type Registered, type TestService } from '../service/harness.js';
import { makeTar, manifest, validEntries, WASM, zstd, type TarEntry } from '../bundle/fixtures.js';
import { demoManifest, packDemo, type PackedDemo } from './demo-bundle.js';

const ZSTD = { 'content-type': 'application/zstd' };

interface Listed {
  extensions: {
    extension_id: string;
    name: string;
    publisher: string;
    versions: { version_id: string; version: string; content_hash: string; capabilities: string[]; endpoints: unknown[]; ui: unknown }[];
  }[];
}

function storedBundlePath(svc: TestService, extensionId: string, contentHash: string): string {
  return join(svc.dataDir, 'bundles', 'tenants', 'registry', 'extensions', extensionId, 'sha256', contentHash.slice('sha256:'.length), 'bundle.tar.zst');
}

async function upload(svc: TestService, bytes: Uint8Array, headers: Record<string, string> = {}) {
  return admin<Registered & ErrorBody>(svc, 'POST', '/admin/v1/extensions', new Uint8Array(bytes), { ...ZSTD, ...headers });
}

let svc: TestService;
let demo: PackedDemo;
/** the same name and version as `demo`, one more UI file */
let changed: PackedDemo;
/** another extension whose publisher could not be a path segment */
let spaced: PackedDemo;
/** another extension, registered under ids chosen by the caller (as when mirroring Alga's registry) */
let mirrored: PackedDemo;

before(async () => {
  [svc, demo, changed, spaced, mirrored] = await Promise.all([
    startTestService({ examples: ['demo'] }),
    packDemo(),
    packDemo({ uiFiles: { 'notes.txt': 'a change the version number does not show' } }),
    packDemo({ manifest: { name: 'com.example.spaced', publisher: 'Example Labs / EU' } }),
    packDemo({ manifest: { name: 'com.example.mirrored' } }),
  ]);
});
after(async () => {
  await Promise.all([svc?.close(), demo?.cleanup(), changed?.cleanup(), spaced?.cleanup(), mirrored?.cleanup()]);
});

describe('POST /admin/v1/extensions with a packed bundle', () => {
  let first: Registered;

  test('is 201 and registers the manifest: name, publisher, version, capabilities, endpoints, UI', async () => {
    const r = await upload(svc, demo.bytes);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    first = r.json;
    assert.equal(first.content_hash, demo.contentHash, 'the version is named by the bundle hash `alga-runner pack` printed');

    const listed = await admin<Listed>(svc, 'GET', '/admin/v1/extensions');
    const ext = listed.json.extensions.find((e) => e.extension_id === first.extension_id);
    const declared = await demoManifest();
    assert.equal(ext?.name, 'com.example.demo');
    assert.equal(ext?.publisher, 'Example');
    assert.deepEqual(ext?.versions, [
      {
        version_id: first.version_id,
        version: '1.0.0',
        content_hash: demo.contentHash,
        capabilities: declared.capabilities,
        endpoints: (declared.api as { endpoints: unknown[] }).endpoints,
        ui: declared.ui,
      },
    ]);
    assert.deepEqual(await readFile(storedBundlePath(svc, first.extension_id, demo.contentHash)), demo.bytes, 'the bytes are kept for serving the UI');
  });

  test('the same bytes again are 200 with the same ids', async () => {
    const r = await upload(svc, demo.bytes);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, first);
  });

  test('other bytes under the same version are 409 version_conflict, and are not kept', async () => {
    assert.notEqual(changed.contentHash, demo.contentHash);
    const r = await upload(svc, changed.bytes);
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'version_conflict');
    assert.match(r.json.error.message, /com\.example\.demo@1\.0\.0 is sha256:/);
    await assert.rejects(stat(storedBundlePath(svc, first.extension_id, changed.contentHash)), /ENOENT/);
    const listed = await admin<Listed>(svc, 'GET', '/admin/v1/extensions');
    assert.deepEqual(
      listed.json.extensions.find((e) => e.extension_id === first.extension_id)?.versions.map((v) => v.content_hash),
      [demo.contentHash],
    );
  });

  test('it installs and runs: the dev tenant reaches its declared endpoints through the dev gateway', async () => {
    await createInstall(svc, { tenant_id: 'demo', extension_id: first.extension_id });
    const hello = await fetch(`${svc.url}/api/ext/${first.extension_id}/hello`);
    assert.equal(hello.status, 200);
    const body = (await hello.json()) as { message: string; tenant: string; visits: number };
    assert.match(body.message, /^Hello, demo! Greetings from the demo extension/);
    assert.equal(body.visits, 1, 'storage is granted by default from the manifest');
    const again = (await (await fetch(`${svc.url}/api/ext/com.example.demo/hello`)).json()) as { visits: number };
    assert.equal(again.visits, 2, 'found by name too, and the count was stored');
    const undeclared = await fetch(`${svc.url}/api/ext/${first.extension_id}/secret`);
    assert.equal(undeclared.status, 404);
    assert.equal(((await undeclared.json()) as ErrorBody).error.code, 'endpoint_not_found');
  });

  test('a publisher that is no path segment ("Example Labs") is kept under the extension id', async () => {
    const r = await upload(svc, spaced.bytes);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.deepEqual(await readFile(storedBundlePath(svc, r.json.extension_id, spaced.contentHash)), spaced.bytes);
  });
});

describe('a bundle under caller-chosen ids', () => {
  const extensionId = '6f1c2b9e-0d4a-4c1e-9a51-3b7e2f0c8d11';
  const versionId = 'a2e4c6d8-1b3d-4f5a-8c7e-9d0f1a2b3c4d';
  const path = `/admin/v1/extensions?extension_id=${extensionId}&version_id=${versionId}`;

  test('is registered with those ids and kept under the chosen extension id; the same upload again is 200', async () => {
    const r = await admin<Registered & ErrorBody>(svc, 'POST', path, new Uint8Array(mirrored.bytes), ZSTD);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.deepEqual(r.json, { extension_id: extensionId, version_id: versionId, content_hash: mirrored.contentHash, warnings: [] });
    await stat(storedBundlePath(svc, extensionId, mirrored.contentHash));
    const again = await admin<Registered>(svc, 'POST', path, new Uint8Array(mirrored.bytes), ZSTD);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, r.json);
  });

  test('the same bundle under another version id, or another bundle under these ids, is 409 id_conflict', async () => {
    const otherVersion = await admin<ErrorBody>(svc, 'POST', `/admin/v1/extensions?extension_id=${extensionId}&version_id=b0000000-0000-4000-8000-000000000000`, new Uint8Array(mirrored.bytes), ZSTD);
    assert.equal(otherVersion.status, 409);
    assert.equal(otherVersion.json.error.code, 'id_conflict');
    const otherBundle = await admin<ErrorBody>(svc, 'POST', path, new Uint8Array(spaced.bytes), ZSTD);
    assert.equal(otherBundle.status, 409);
    assert.equal(otherBundle.json.error.code, 'id_conflict');
  });
});

describe('refused bundles', () => {
  async function listedNames(): Promise<string[]> {
    return (await admin<Listed>(svc, 'GET', '/admin/v1/extensions')).json.extensions.map((e) => e.name);
  }

  test('an invalid manifest is 400 invalid_bundle listing every problem', async () => {
    const bad = manifest({ version: '1.0', capabilities: ['cap:teleport'], api: { endpoints: [{ method: 'GET', path: 'no-slash', handler: 'h' }] }, colour: 'blue' });
    const bytes = zstd(
      await makeTar([
        { name: 'manifest.json', data: JSON.stringify(bad) },
        { name: 'dist/main.wasm', data: WASM },
        { name: 'ui/index.html', data: '<p>' },
      ]),
    );
    const r = await upload(svc, bytes);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_bundle');
    assert.equal(r.json.error.bundle_error, 'BUNDLE_INVALID_MANIFEST');
    // `colour` is unknown: ignored, not a problem (Alga's schema drops unknown keys)
    assert.deepEqual(r.json.error.problems?.map((p) => p.path).sort(), ['api.endpoints[0].path', 'capabilities[0]', 'version']);
    for (const text of ["unknown capability 'cap:teleport'", 'must be a semantic version', "endpoint path 'no-slash'"]) {
      assert.ok(r.json.error.message.includes(text), `the message names "${text}": ${r.json.error.message}`);
    }
  });

  const hostile: [string, () => Promise<Buffer>, number, string, string][] = [
    ['garbage', async () => Buffer.from('not zstd at all'), 400, 'invalid_bundle', 'BUNDLE_CORRUPT'],
    ['a path traversal', async () => zstd(await makeTar([...validEntries(), { name: 'ui/../../etc/passwd', data: 'x' }])), 400, 'invalid_bundle', 'BUNDLE_UNSAFE_PATH'],
    ['an absolute path', async () => zstd(await makeTar([...validEntries(), { name: '/etc/cron.d/evil', data: 'x' }])), 400, 'invalid_bundle', 'BUNDLE_UNSAFE_PATH'],
    ['a symlink', async () => zstd(await makeTar([...validEntries(), { name: 'ui/link', type: 'symlink', linkname: '/etc/passwd' }])), 400, 'invalid_bundle', 'BUNDLE_FORBIDDEN_ENTRY_TYPE'],
    ['a zstd bomb', async () => zstd(await makeTar([...validEntries(), { name: 'ui/zeros.bin', data: Buffer.alloc(16 * 2 ** 20) }]), 19), 413, 'bundle_too_large', 'BUNDLE_RATIO_EXCEEDED'],
    [
      'a huge entry count',
      async () => zstd(await makeTar([...validEntries(), ...Array.from({ length: 4100 }, (_, i): TarEntry => ({ name: `ui/d${i}/`, type: 'directory' }))])),
      413,
      'bundle_too_large',
      'BUNDLE_TOO_MANY_ENTRIES',
    ],
  ];
  for (const [label, make, status, code, bundleCode] of hostile) {
    test(`${label} is ${status} ${code} with bundle_error ${bundleCode}, and nothing is registered`, async () => {
      const before = await listedNames();
      const r = await upload(svc, await make());
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.equal(r.json.error.code, code);
      assert.equal(r.json.error.bundle_error, bundleCode);
      assert.deepEqual(await listedNames(), before);
    });
  }
});
