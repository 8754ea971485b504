/**
 * The component store through the service, with two runners on one PostgreSQL schema: A uploads
 * (its store: the database's `component_blobs`), B has never seen the version and reads it from a
 * read-only HTTP mirror (a loopback server answering from A's table, or failing on purpose). B
 * fetches, verifies and prepares on first need; every way that can go wrong has its error code.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packBundle } from '../../src/bundle/index.js';
import { manifest } from '../bundle/fixtures.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import { admin, createInstall, type Registered, execute, exampleBytes, metricsText, metricValue, startTestService, uploadExample, type ErrorBody, type TestService, type Answer } from './harness.js';

const skip = await postgresSkipReason();

type MirrorMode = 'serve' | 'fail' | 'missing' | 'tamper' | 'hold';

describe('component store: a runner that did not upload fetches the version', { skip }, () => {
  const schema = `cstore_svc_${process.pid}_${randomBytes(4).toString('hex')}`;
  let db: pg.Pool;
  let mirror: Server;
  let mode: MirrorMode = 'serve';
  let release: (() => void) | null = null;
  const objectGets: string[] = [];
  let a: TestService;
  let b: TestService;
  let extension: string;

  before(async () => {
    db = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });
    // the mirror answers in Alga's layout from A's table: what an operator's CDN in front of a shared bucket would serve
    mirror = createServer((req, res) => {
      const m = /^\/mirror\/tenants\/registry\/extensions\/[^/]+\/sha256\/([0-9a-f]{64})\/(component\.wasm|bundle\.tar\.zst)$/.exec(req.url ?? '');
      if (mode === 'fail') return res.writeHead(500).end();
      if (!m || req.method !== 'GET') return res.writeHead(404).end();
      objectGets.push(m[1]!);
      const answer = async () => {
        if (mode === 'hold') await new Promise<void>((resolve) => (release = resolve));
        const rows = await db.query<{ bytes: Buffer }>('select bytes from component_blobs where content_hash = $1', [`sha256:${m[1]}`]);
        const bytes = rows.rows[0]?.bytes;
        if (!bytes || mode === 'missing') return res.writeHead(404).end();
        res.writeHead(200).end(mode === 'tamper' ? Buffer.concat([bytes, Buffer.from([0])]) : bytes);
      };
      answer().catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    const mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/mirror`;
    const shared = { DATABASE_URL: TEST_DATABASE_URL, RUNNER_DATABASE_SCHEMA: schema, RUNNER_WARM_ON_START: '0' };
    a = await startTestService({ env: shared, examples: [] });
    b = await startTestService({ env: { ...shared, RUNNER_COMPONENT_STORE: 'http', RUNNER_COMPONENT_STORE_URL: mirrorUrl, RUNNER_COMPONENT_FETCH_TIMEOUT_MS: '3000' }, examples: [] });
    extension = (await uploadExample(a, 'wat-counter', { name: 'counter' })).extension_id;
    await createInstall(a, { tenant_id: 'tenant-a', extension_id: extension });
  });
  after(async () => {
    release?.();
    await b?.close();
    await a?.close();
    await new Promise<void>((resolve) => mirror.close(() => resolve()));
    await db.query(`drop schema if exists "${schema}" cascade`);
    await db.end();
  });

  const run = () => execute<Answer & ErrorBody>(b, '/', { extension });

  it('the upload stored the component in the database before registering it', async () => {
    const rows = await db.query<{ content_hash: string; size: number }>('select content_hash, size from component_blobs');
    assert.equal(rows.rows.length, 1);
    assert.equal(rows.rows[0]!.size, exampleBytes('wat-counter').byteLength);
  });

  it('an install created through B is warmed there: B fetches the component, prepares it, and the install is saved warm', async () => {
    const other = await uploadExample(a, 'wat-leak-global', { name: 'leak-global' });
    const r = await admin<{ install_id: string }>(b, 'POST', '/admin/v1/installs', { tenant_id: 'tenant-b', extension_id: other.extension_id });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const fetched = await b.logLine((l) => l.msg === 'component fetched from the component store and prepared');
    assert.equal(fetched.version, other.version_id);
    await b.logLine((l) => l.msg === 'install warmed' && l.version === other.version_id);
  });

  it('an HTTP store refuses uploads: component_store_read_only, nothing registered', async () => {
    const r = await admin<ErrorBody>(b, 'POST', '/admin/v1/extensions?name=other&version=1.0.0', new Uint8Array(exampleBytes('wat-exit')));
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'component_store_read_only');
    assert.match(r.json.error.message, /RUNNER_COMPONENT_STORE=http/);
    assert.equal((await db.query("select 1 from extension_versions v join extensions e on e.id = v.extension_id where e.name = 'other'")).rows.length, 0);
  });

  it('the store away: 503 component_unavailable with Retry-After, and /readyz says not ready', async () => {
    mode = 'fail';
    try {
      const r = await run();
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, 'component_unavailable');
      assert.equal(r.json.error.reason, 'store_unreachable');
      assert.equal(r.headers.get('retry-after'), '5');
      const ready = await fetch(`${b.url}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as { store: boolean; component_store: { kind: string; reachable: boolean; detail?: string } };
      assert.equal(body.store, true, 'the database is fine');
      assert.equal(body.component_store.kind, 'http');
      assert.equal(body.component_store.reachable, false);
      assert.match(body.component_store.detail ?? '', /answered 500/);
    } finally {
      mode = 'serve';
    }
    assert.equal((await fetch(`${b.url}/readyz`)).status, 200);
  });

  it('bytes that do not match their hash: 502 component_hash_mismatch, logged at error, never run', async () => {
    mode = 'tamper';
    try {
      const r = await run();
      assert.equal(r.status, 502);
      assert.equal(r.json.error.code, 'component_hash_mismatch');
      const line = await b.logLine((l) => l.outcome === 'hash_mismatch');
      assert.equal(line.level, 50);
      assert.equal(metricValue(await metricsText(b), 'alga_runner_component_fetches_total', { outcome: 'hash_mismatch' }), 1);
    } finally {
      mode = 'serve';
    }
  });

  it('bytes not in the store: 500 component_missing', async () => {
    mode = 'missing';
    try {
      const r = await run();
      assert.equal(r.status, 500);
      assert.equal(r.json.error.code, 'component_missing');
    } finally {
      mode = 'serve';
    }
  });

  it('a fetch slower than RUNNER_COMPONENT_FETCH_TIMEOUT_MS: 503 component_unavailable (timeout); the work goes on and later requests are served', async () => {
    mode = 'hold';
    const gets = objectGets.length;
    const r = await run();
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'component_unavailable');
    assert.equal(r.json.error.reason, 'timeout');
    mode = 'serve';
    release!();
    await b.logLine((l) => l.msg === 'component fetched from the component store and prepared' && l.extension === extension);
    // many at once now: all served from what the held fetch prepared, no second fetch
    const answers = await Promise.all(Array.from({ length: 6 }, () => run()));
    assert.deepEqual(
      answers.map((x) => [x.status, x.json.status]),
      answers.map(() => [200, 200]),
    );
    assert.equal(objectGets.length, gets + 1, 'one GET of the object for the held fetch and every request after it');
    assert.equal(metricValue(await metricsText(b), 'alga_runner_component_fetches_total', { outcome: 'prepared' }), 2, 'leak-global at its install, counter now');
  });

  it('a bundle kept only in the old local directory (from before the shared store) is served from there and copied into the store', async () => {
    const packed = await packBundle({
      manifestJson: JSON.stringify(manifest({ name: 'legacy-ui', version: '1.0.0' })),
      mainWasm: exampleBytes('wat-counter'),
      uiFiles: new Map([['ui/index.html', Buffer.from('<p>kept before</p>')]]),
    });
    assert.equal(packed.kind, 'ok');
    if (packed.kind !== 'ok') return;
    const up = await admin<Registered>(a, 'POST', '/admin/v1/extensions', new Uint8Array(packed.value.bytes), { 'content-type': 'application/zstd' });
    assert.equal(up.status, 201, JSON.stringify(up.json));
    await createInstall(a, { tenant_id: 'tenant-legacy', extension_id: up.json.extension_id });
    // as a runner before the shared store left it: the bundle in <dataDir>/bundles, nothing in the table
    await db.query('delete from component_blobs where content_hash = $1', [up.json.content_hash]);
    const legacy = join(a.dataDir, 'bundles', 'tenants', 'registry', 'extensions', up.json.extension_id, 'sha256', up.json.content_hash.slice(7), 'bundle.tar.zst');
    await mkdir(dirname(legacy), { recursive: true });
    await writeFile(legacy, packed.value.bytes);

    const page = `/ext-ui/${up.json.extension_id}/${up.json.content_hash}/index.html`;
    const onB = await fetch(`${b.url}${page}`);
    assert.equal(onB.status, 500, 'B cannot have it yet');
    assert.equal(((await onB.json()) as ErrorBody).error.code, 'component_missing');
    const onA = await fetch(`${a.url}${page}`);
    assert.equal(onA.status, 200);
    assert.equal(await onA.text(), '<p>kept before</p>');
    assert.equal((await db.query('select 1 from component_blobs where content_hash = $1', [up.json.content_hash])).rows.length, 1, 'copied into the shared store');
    const again = await fetch(`${b.url}${page}`);
    assert.equal(again.status, 200, 'and B serves it from there');
    assert.equal(await again.text(), '<p>kept before</p>');
  });
});
