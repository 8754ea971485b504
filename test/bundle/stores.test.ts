import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import S3rver from 's3rver';
import { bundleKey, contentHashOf, HttpBundleStore, LocalBundleStore, S3BundleStore, type BundleStore } from '../../src/bundle/index.js';
import { validBundle, withTempDir } from './fixtures.js';

const MISSING = `sha256:${'a'.repeat(64)}`;

/** The contract every store honours, run against each real backend. */
async function storeContract(store: BundleStore, tamper: (key: string, bytes: Buffer) => Promise<void>): Promise<void> {
  const bytes = await validBundle();
  const put = await store.putBundle('tenant-1', 'ext-1', bytes);
  assert.equal(put.kind, 'ok', put.kind === 'err' ? put.error.message : '');
  if (put.kind !== 'ok') return;
  assert.equal(put.value.contentHash, contentHashOf(bytes));
  assert.equal(put.value.key, `tenants/tenant-1/extensions/ext-1/sha256/${put.value.contentHash.slice(7)}/bundle.tar.zst`);
  assert.equal((await store.putBundle('tenant-1', 'ext-1', bytes)).kind, 'ok', 'putting the same bytes again succeeds');

  const got = await store.getBundle('tenant-1', 'ext-1', put.value.contentHash);
  assert.equal(got.kind, 'ok');
  assert.deepEqual(got.kind === 'ok' && Buffer.from(got.value), bytes);

  const missing = await store.getBundle('tenant-1', 'ext-1', MISSING);
  assert.equal(missing.kind === 'err' && missing.error.code, 'BUNDLE_NOT_FOUND');
  const otherTenant = await store.getBundle('tenant-2', 'ext-1', put.value.contentHash);
  assert.equal(otherTenant.kind === 'err' && otherTenant.error.code, 'BUNDLE_NOT_FOUND', 'tenants do not see each other');

  const bad = await store.getBundle('../etc', 'ext-1', put.value.contentHash);
  assert.equal(bad.kind === 'err' && bad.error.code, 'BUNDLE_INVALID_KEY');

  // Replace the stored object with other bytes: the store must refuse them.
  const tampered = Buffer.concat([bytes, Buffer.from('x')]);
  await tamper(put.value.key, tampered);
  const refused = await store.getBundle('tenant-1', 'ext-1', put.value.contentHash);
  assert.equal(refused.kind === 'err' && refused.error.code, 'BUNDLE_HASH_MISMATCH');
}

describe('bundle stores', () => {
  it('key layout matches Alga and refuses unsafe parts', () => {
    assert.deepEqual(bundleKey('t', 'e', `sha256:${'b'.repeat(64)}`), { kind: 'ok', value: `tenants/t/extensions/e/sha256/${'b'.repeat(64)}/bundle.tar.zst` });
    for (const [t, e, h] of [
      ['a/b', 'e', MISSING],
      ['t', '..', MISSING],
      ['t', 'e', 'sha256:XYZ'],
      ['t', 'e', `md5:${'a'.repeat(64)}`],
    ] as const) {
      assert.equal(bundleKey(t, e, h).kind, 'err', `${t} ${e} ${h}`);
    }
  });

  it('local directory store', async () => {
    await withTempDir(async (dir) => {
      await storeContract(new LocalBundleStore(dir), (key, bytes) => writeFile(join(dir, key), bytes));
    });
  });

  describe('HTTP store (loopback server serving a directory)', () => {
    let server: Server;
    let baseUrl: string;
    const served = new Map<string, Buffer>();
    const seenHeaders: string[] = [];
    before(async () => {
      server = createServer((req, res) => {
        seenHeaders.push(String(req.headers['x-mirror-key']));
        const body = served.get((req.url ?? '').replace(/^\/mirror\//, ''));
        if (req.url === '/mirror/broken') return res.writeHead(500).end();
        if (!body) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/zstd' }).end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('fetches, checks hashes, caps size and is read-only', async () => {
      const bytes = await validBundle();
      const hash = contentHashOf(bytes);
      const key = bundleKey('tenant-1', 'ext-1', hash);
      assert.equal(key.kind, 'ok');
      if (key.kind !== 'ok') return;
      served.set(key.value, bytes);
      const store = new HttpBundleStore({ baseUrl, headers: { 'x-mirror-key': 'k1' } });
      const got = await store.getBundle('tenant-1', 'ext-1', hash);
      assert.deepEqual(got.kind === 'ok' && Buffer.from(got.value), bytes);
      assert.equal(seenHeaders.at(-1), 'k1');

      assert.equal(((await store.getBundle('tenant-1', 'ext-1', MISSING)) as { error: { code: string } }).error.code, 'BUNDLE_NOT_FOUND');
      served.set(key.value, Buffer.concat([bytes, Buffer.from('!')]));
      assert.equal(((await store.getBundle('tenant-1', 'ext-1', hash)) as { error: { code: string } }).error.code, 'BUNDLE_HASH_MISMATCH');
      const small = new HttpBundleStore({ baseUrl, maxBytes: 16 });
      assert.equal(((await small.getBundle('tenant-1', 'ext-1', hash)) as { error: { code: string } }).error.code, 'BUNDLE_TOO_LARGE');
      assert.equal(((await store.putBundle('tenant-1', 'ext-1', bytes)) as { error: { code: string } }).error.code, 'BUNDLE_STORE_READ_ONLY');
    });

    it('reports a server that answers with an error', async () => {
      const store = new HttpBundleStore({ baseUrl: 'http://127.0.0.1:1/' });
      assert.equal(((await store.getBundle('t', 'e', MISSING)) as { error: { code: string } }).error.code, 'BUNDLE_STORE_UNAVAILABLE');
    });
  });

  describe('S3 store (s3rver on loopback)', () => {
    let s3: S3rver;
    let endpoint: string;
    let dataDir: string;
    before(async () => {
      dataDir = await (await import('node:fs/promises')).mkdtemp(join((await import('node:os')).tmpdir(), 'alga-s3rver-'));
      s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dataDir, configureBuckets: [{ name: 'bundles' }] });
      const { port } = await s3.run();
      endpoint = `http://127.0.0.1:${port}`;
    });
    after(async () => {
      await s3.close();
      await (await import('node:fs/promises')).rm(dataDir, { recursive: true, force: true });
    });

    it('stores under the prefix + Alga key layout and refuses tampered objects', async () => {
      const clientConfig = { endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
      const store = new S3BundleStore({ bucket: 'bundles', prefix: 'alga/', clientConfig });
      await storeContract(store, async (key, bytes) => {
        const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
        const client = new S3Client({ ...clientConfig, requestChecksumCalculation: 'WHEN_REQUIRED' });
        await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: `alga/${key}`, Body: bytes }));
        client.destroy();
      });
      const onDisk = await readFile(join(dataDir, 'bundles', 'alga', 'tenants', 'tenant-1', 'extensions', 'ext-1')).catch((e: NodeJS.ErrnoException) => e.code);
      assert.equal(onDisk, 'EISDIR', 's3rver holds the object under the prefixed key');
    });
  });
});
