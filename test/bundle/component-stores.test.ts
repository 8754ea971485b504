/**
 * The component store's backends (src/service/component-store.ts picks one): PostgreSQL (a table
 * of the runner's database), S3 (s3rver on loopback), a read-only HTTP mirror (a loopback server)
 * and a local directory. Each against its real server: put/get of a bundle and of a bare
 * component, missing → not found, tampered bytes → refused, unreachable → unavailable, and the
 * readiness probe both ways.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import S3rver from 's3rver';
import { COMPONENT_FILE, contentHashOf, HttpBundleStore, LocalBundleStore, S3BundleStore, TableBundleStore, type BundleStore, type StoredFile } from '../../src/bundle/index.js';
import { createBlobStore, openStore, type Database, type Store } from '../../src/store/index.js';
import { exampleBytes } from '../service/harness.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import { validBundle, withTempDir } from './fixtures.js';

const MISSING = `sha256:${'c'.repeat(64)}`;
const PROBE_MS = 1_000;

function codeOf(result: { kind: string; error?: { code: string } }): string {
  return result.kind === 'err' ? result.error!.code : 'ok';
}

/**
 * What every writable backend must do. `tamper` replaces what the store holds for a key (or hash)
 * behind its back.
 */
async function writableContract(store: BundleStore, tamper: (key: string, hash: string, bytes: Buffer) => Promise<void>): Promise<void> {
  const bundle = await validBundle();
  const component = exampleBytes('wat-counter');
  for (const [bytes, file] of [
    [bundle, undefined],
    [component, COMPONENT_FILE],
  ] as [Buffer, StoredFile | undefined][]) {
    const put = await store.putBundle('registry', 'ext-1', bytes, file);
    assert.equal(put.kind, 'ok', put.kind === 'err' ? put.error.message : '');
    if (put.kind !== 'ok') return;
    assert.equal(put.value.contentHash, contentHashOf(bytes));
    assert.equal(put.value.key, `tenants/registry/extensions/ext-1/sha256/${put.value.contentHash.slice(7)}/${file ?? 'bundle.tar.zst'}`);
    assert.equal((await store.putBundle('registry', 'ext-1', bytes, file)).kind, 'ok', 'the same bytes again succeed');
    const got = await store.getBundle('registry', 'ext-1', put.value.contentHash, file);
    assert.deepEqual(got.kind === 'ok' && Buffer.from(got.value), bytes, `round trip of ${file ?? 'a bundle'}`);
  }
  assert.equal(codeOf(await store.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_NOT_FOUND');
  assert.equal(codeOf(await store.getBundle('registry', 'ext-1', MISSING)), 'BUNDLE_NOT_FOUND');
  assert.equal(codeOf(await store.getBundle('registry', 'ext-1', contentHashOf(component))), 'BUNDLE_NOT_FOUND', 'a component is not a bundle');
  assert.equal(codeOf(await store.getBundle('registry', 'ext-1', contentHashOf(bundle), COMPONENT_FILE)), 'BUNDLE_NOT_FOUND', 'nor a bundle a component');
  assert.equal(codeOf(await store.getBundle('../x', 'ext-1', contentHashOf(component), COMPONENT_FILE)), 'BUNDLE_INVALID_KEY');

  const hash = contentHashOf(component);
  await tamper(`tenants/registry/extensions/ext-1/sha256/${hash.slice(7)}/component.wasm`, hash, Buffer.concat([component, Buffer.from([0])]));
  assert.equal(codeOf(await store.getBundle('registry', 'ext-1', hash, COMPONENT_FILE)), 'BUNDLE_HASH_MISMATCH', 'tampered bytes are refused');

  assert.deepEqual(await store.probe(PROBE_MS), { ok: true });
}

describe('component store backends', () => {
  it('local directory', async () => {
    await withTempDir(async (dir) => {
      await writableContract(new LocalBundleStore(dir), (key, _hash, bytes) => writeFile(join(dir, key), bytes));
      // a directory that cannot be made (a file is in the way): not ready, said why
      await writeFile(join(dir, 'file'), 'x');
      const blocked = await new LocalBundleStore(join(dir, 'file', 'store')).probe(PROBE_MS);
      assert.equal(blocked.ok, false);
      assert.match(blocked.ok ? '' : blocked.detail, /local store .*file\/store/);
    });
  });

  describe('PostgreSQL (component_blobs, migration 052)', async () => {
    const skip = await postgresSkipReason();
    const schema = `cstore_${process.pid}_${randomBytes(4).toString('hex')}`;
    let store: Store | undefined;
    after(async () => {
      if (!store) return;
      await store.close();
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`drop schema if exists "${schema}" cascade`);
      await admin.end();
    });

    it('round trip, missing, tampered, probe', { skip }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'cstore-pg-'));
      store = await openStore({ databaseUrl: TEST_DATABASE_URL, schema, dataDir });
      await rm(dataDir, { recursive: true, force: true });
      const opened = store;
      const table = new TableBundleStore({ read: (h) => opened.blobs.read(h), write: (h, f, b) => opened.blobs.write(h, f, b), ping: () => opened.blobs.ping() });
      await writableContract(table, async (_key, hash, bytes) => {
        await opened.db.updateTable('component_blobs').set({ bytes }).where('content_hash', '=', hash).execute();
      });
      const rows = await opened.db.selectFrom('component_blobs').select(['content_hash', 'size']).execute();
      assert.equal(rows.length, 2, 'one row per content hash, written once');
    });

    it('a database that does not answer: unavailable, and the probe says so', { skip }, async () => {
      // nothing listens on port 1: connections are refused
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 500 }) }) });
      try {
        const blobs = createBlobStore(db, Date.now);
        const table = new TableBundleStore({ read: (h) => blobs.read(h), write: (h, f, b) => blobs.write(h, f, b), ping: () => blobs.ping() });
        assert.equal(codeOf(await table.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
        assert.equal(codeOf(await table.putBundle('registry', 'ext-1', Buffer.from('x'), COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
        const probe = await table.probe(PROBE_MS);
        assert.equal(probe.ok, false);
      } finally {
        await db.destroy();
      }
    });
  });

  describe('S3 (s3rver on loopback)', () => {
    let s3: S3rver;
    let endpoint: string;
    let dataDir: string;
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'cstore-s3rver-'));
      s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dataDir, configureBuckets: [{ name: 'components' }] });
      endpoint = `http://127.0.0.1:${(await s3.run()).port}`;
    });
    after(async () => {
      await s3.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('round trip under the prefix, missing, tampered, probe', async () => {
      const clientConfig = { endpoint, region: 'us-east-1', forcePathStyle: true, credentials };
      const store = new S3BundleStore({ bucket: 'components', prefix: 'runner/', clientConfig });
      await writableContract(store, async (key, _hash, bytes) => {
        const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
        const client = new S3Client({ ...clientConfig, requestChecksumCalculation: 'WHEN_REQUIRED' });
        await client.send(new PutObjectCommand({ Bucket: 'components', Key: `runner/${key}`, Body: bytes }));
        client.destroy();
      });
      const noBucket = await new S3BundleStore({ bucket: 'no-such-bucket', clientConfig }).probe(PROBE_MS);
      assert.equal(noBucket.ok, false, 'a bucket that is not there is not ready');
    });

    it('a server that does not answer: unavailable, and the probe says so', async () => {
      const store = new S3BundleStore({ bucket: 'components', clientConfig: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 } });
      assert.equal(codeOf(await store.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
      assert.equal(codeOf(await store.putBundle('registry', 'ext-1', Buffer.from('x'), COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
      assert.equal((await store.probe(PROBE_MS)).ok, false);
    });
  });

  describe('HTTP mirror (loopback server, read-only)', () => {
    let server: Server;
    let base: string;
    const objects = new Map<string, Buffer>();
    /** when set, every request gets this status */
    let failWith: number | null = null;
    before(async () => {
      server = createServer((req, res) => {
        if (failWith !== null) return res.writeHead(failWith).end();
        const body = objects.get((req.url ?? '').replace(/^\/mirror\//, ''));
        if (req.method === 'HEAD') return res.writeHead(body ? 200 : 404).end();
        if (!body) return res.writeHead(404).end();
        res.writeHead(200).end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('reads bundles and components in the layout, refuses tampered bytes and uploads', async () => {
      const store = new HttpBundleStore({ baseUrl: base });
      const bundle = await validBundle();
      const component = exampleBytes('wat-counter');
      const bundleHash = contentHashOf(bundle);
      const componentHash = contentHashOf(component);
      objects.set(`tenants/registry/extensions/ext-1/sha256/${bundleHash.slice(7)}/bundle.tar.zst`, bundle);
      objects.set(`tenants/registry/extensions/ext-1/sha256/${componentHash.slice(7)}/component.wasm`, component);
      const gotBundle = await store.getBundle('registry', 'ext-1', bundleHash);
      assert.deepEqual(gotBundle.kind === 'ok' && Buffer.from(gotBundle.value), bundle);
      const got = await store.getBundle('registry', 'ext-1', componentHash, COMPONENT_FILE);
      assert.deepEqual(got.kind === 'ok' && Buffer.from(got.value), component);
      assert.equal(codeOf(await store.getBundle('registry', 'ext-1', componentHash)), 'BUNDLE_NOT_FOUND', 'a component is not a bundle');
      assert.equal(codeOf(await store.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_NOT_FOUND');
      objects.set(`tenants/registry/extensions/ext-1/sha256/${componentHash.slice(7)}/component.wasm`, Buffer.concat([component, Buffer.from([1])]));
      assert.equal(codeOf(await store.getBundle('registry', 'ext-1', componentHash, COMPONENT_FILE)), 'BUNDLE_HASH_MISMATCH');
      assert.equal(codeOf(await store.putBundle('registry', 'ext-1', component, COMPONENT_FILE)), 'BUNDLE_STORE_READ_ONLY');
      // the mirror's root answers 404: a server that answers is reachable
      assert.deepEqual(await store.probe(PROBE_MS), { ok: true });
    });

    it('a server that fails or does not answer: unavailable, and the probe says so', async () => {
      const store = new HttpBundleStore({ baseUrl: base });
      failWith = 503;
      try {
        assert.equal(codeOf(await store.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
        const probe = await store.probe(PROBE_MS);
        assert.equal(probe.ok, false);
        assert.match(probe.ok ? '' : probe.detail, /answered 503/);
      } finally {
        failWith = null;
      }
      const gone = new HttpBundleStore({ baseUrl: 'http://127.0.0.1:1/mirror' });
      assert.equal(codeOf(await gone.getBundle('registry', 'ext-1', MISSING, COMPONENT_FILE)), 'BUNDLE_STORE_UNAVAILABLE');
      assert.equal((await gone.probe(PROBE_MS)).ok, false);
    });

    it('a server that accepts the connection but never answers: the probe gives up in time', async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const store = new HttpBundleStore({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
        const probe = await store.probe(200);
        assert.equal(probe.ok, false);
      } finally {
        silent.closeAllConnections();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });
  });
});
