/**
 * Any replica runs any extension: three runner processes on one PostgreSQL schema, each with its
 * own data directory and no artifact seeded (seedArtifacts would hide the very problem). A bare
 * component and a bundle are uploaded and installed through replica 0; replicas 1 and 2 have never
 * prepared them and take several first requests for each at once: all are served, and each
 * replica fetched and prepared each component exactly once (its log and its metric say so). The
 * bundle's UI is served by 1 and 2; a replica added later warms both at start without a failure.
 * Once with no store setting at all (the database is the store), once with every replica on S3
 * (s3rver started here) — and readiness follows the S3 store going away and coming back, while a
 * replica started without it reports its failed warm-ups at warn and serves once it is back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import S3rver from 's3rver';
import { startCluster, replicaSkipReason, type Cluster, type Replica } from '../support/replicas.js';
import { admin, createInstall, execute, metricsText, metricValue, repoRoot, uploadExample, guestJson, type Answer, type Registered } from '../service/harness.js';
import { packDemo } from '../bundle-service/demo-bundle.js';

const skip = await replicaSkipReason();

const PREPARED_LINE = 'component fetched from the component store and prepared';
/** concurrent first requests per extension and replica */
const AT_ONCE = 4;

/** This replica's log lines saying it fetched and prepared `componentHash`. */
function preparedLines(replica: Replica, componentHash: string): number {
  return replica.process.lines.filter((l) => l.includes(PREPARED_LINE) && l.includes(componentHash)).length;
}

async function componentHashOf(cluster: Cluster, versionId: string): Promise<string> {
  const rows = await cluster.query<{ manifest: string }>('select manifest from extension_versions where id = $1', [versionId]);
  return (JSON.parse(rows[0]!.manifest) as { component_hash: string }).component_hash;
}

interface Uploaded {
  bare: Registered;
  bundle: Registered;
  bareComponent: string;
  bundleComponent: string;
}

/** kitchen-sink (bare) and the demo bundle, uploaded and installed through replica 0. */
async function uploadAndInstall(cluster: Cluster): Promise<Uploaded> {
  const r0 = cluster.replicas[0]!;
  const demo = await packDemo();
  try {
    const bare = await uploadExample(r0, 'kitchen-sink', { name: 'kitchen-sink' });
    const up = await admin<Registered>(r0, 'POST', '/admin/v1/extensions', new Uint8Array(demo.bytes), { 'content-type': 'application/zstd' });
    assert.equal(up.status, 201, JSON.stringify(up.json));
    await createInstall(r0, { tenant_id: 'tenant-a', extension_id: bare.extension_id });
    await createInstall(r0, { tenant_id: 'tenant-a', extension_id: up.json.extension_id });
    return { bare, bundle: up.json, bareComponent: await componentHashOf(cluster, bare.version_id), bundleComponent: await componentHashOf(cluster, up.json.version_id) };
  } finally {
    await demo.cleanup();
  }
}

/** Every first request through replicas 1 and 2 at once; then the prepared-once proof and the UI. */
async function serveEverywhere(cluster: Cluster, u: Uploaded): Promise<void> {
  const others = [cluster.replicas[1]!, cluster.replicas[2]!];
  const requests = others.flatMap((r) => [
    ...Array.from({ length: AT_ONCE }, () => execute<Answer>(r, '/counter', { extension: u.bare.extension_id })),
    ...Array.from({ length: AT_ONCE }, () => execute<Answer>(r, '/hello', { extension: u.bundle.extension_id })),
  ]);
  const answers = await Promise.all(requests);
  assert.deepEqual(
    answers.map((a) => [a.status, a.json.status]),
    answers.map(() => [200, 200]),
    JSON.stringify(answers.filter((a) => a.status !== 200 || a.json.status !== 200).map((a) => a.json)),
  );
  assert.equal(guestJson<{ counter: number }>(answers[0]!.json).counter, 1);
  const index = await readFile(join(repoRoot, 'examples', 'demo', 'ui', 'index.html'));
  for (const r of others) {
    assert.equal(preparedLines(r, u.bareComponent), 1, `replica ${r.index} prepared kitchen-sink once`);
    assert.equal(preparedLines(r, u.bundleComponent), 1, `replica ${r.index} prepared the demo bundle's component once`);
    assert.equal(metricValue(await metricsText(r), 'alga_runner_component_fetches_total', { outcome: 'prepared' }), 2, `replica ${r.index}: two fetches, both prepared`);
    const page = await fetch(`${r.url}/ext-ui/${u.bundle.extension_id}/${u.bundle.content_hash}/index.html`);
    assert.equal(page.status, 200, `replica ${r.index} serves the UI page`);
    assert.deepEqual(Buffer.from(await page.arrayBuffer()), index);
  }
  assert.equal(preparedLines(cluster.replicas[0]!, u.bareComponent), 0, 'the uploading replica prepared at upload, never fetched');
}

/** A replica started after the installs warms them at start (fetching both), with no failure, then serves. */
async function lateReplicaWarms(cluster: Cluster, u: Uploaded): Promise<void> {
  const late = await cluster.add();
  const warmed = await late.process.line(/"msg":"installed versions warmed at start/);
  const line = JSON.parse(warmed.input) as { level: number; warmed: number; failed: number };
  assert.deepEqual({ level: line.level, warmed: line.warmed, failed: line.failed }, { level: 30, warmed: 2, failed: 0 });
  assert.equal(preparedLines(late, u.bareComponent), 1);
  assert.equal(preparedLines(late, u.bundleComponent), 1);
  const answer = await execute<Answer>(late, '/counter', { extension: u.bare.extension_id });
  assert.deepEqual([answer.status, answer.json.status], [200, 200]);
  const text = await metricsText(late);
  assert.equal(metricValue(text, 'alga_runner_component_fetches_total', { outcome: 'prepared' }), 2, 'nothing fetched again for the request');
  assert.equal(metricValue(text, 'alga_runner_warm_failures_total'), 0);
}

// preparing two 12 MB components on every replica of a busy 2-core machine can take a while; the
// timeout is not what is tested here
const FETCH_TIMEOUT = { RUNNER_COMPONENT_FETCH_TIMEOUT_MS: '300000' };

test('three replicas on one PostgreSQL, no store setting: any replica runs and serves what replica 0 uploaded', { skip, timeout: 600_000 }, async () => {
  const cluster = await startCluster({ replicas: 3, env: FETCH_TIMEOUT });
  try {
    const u = await uploadAndInstall(cluster);
    const stored = await cluster.query<{ content_hash: string }>('select content_hash from component_blobs order by content_hash');
    assert.deepEqual(stored.map((r) => r.content_hash).sort(), [u.bare.content_hash, u.bundle.content_hash].sort(), 'the database holds the component and the bundle');
    await serveEverywhere(cluster, u);
    for (const r of cluster.replicas) {
      const ready = (await (await fetch(`${r.url}/readyz`)).json()) as { component_store: unknown };
      assert.deepEqual(ready.component_store, { kind: 'postgres', reachable: true });
    }
    await lateReplicaWarms(cluster, u);
  } finally {
    await cluster.close();
  }
});

test('three replicas on S3 (s3rver): the same, and /readyz follows the store going away and coming back', { skip, timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'replicas-s3rver-'));
  const startS3 = async (port = 0) => {
    const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: [{ name: 'components' }] });
    return { server, port: (await server.run()).port };
  };
  let s3 = await startS3();
  const env = {
    ...FETCH_TIMEOUT,
    RUNNER_COMPONENT_STORE: 's3',
    RUNNER_COMPONENT_STORE_BUCKET: 'components',
    RUNNER_COMPONENT_STORE_PREFIX: 'runner',
    RUNNER_COMPONENT_STORE_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ replicas: 3, env });
    const u = await uploadAndInstall(cluster);
    assert.deepEqual(await cluster.query('select content_hash from component_blobs'), [], 'nothing in the database: the store is S3');
    // s3rver keeps an object as files named after its key (plus its own suffixes)
    const objectFiles = (hash: string, extension: string) => readdir(join(dir, 'components', 'runner', 'tenants', 'registry', 'extensions', extension, 'sha256', hash.slice(7)));
    assert.ok((await objectFiles(u.bare.content_hash, u.bare.extension_id)).some((f) => f.startsWith('component.wasm')));
    assert.ok((await objectFiles(u.bundle.content_hash, u.bundle.extension_id)).some((f) => f.startsWith('bundle.tar.zst')));
    await serveEverywhere(cluster, u);

    const readiness = async (r: Replica) => {
      const res = await fetch(`${r.url}/readyz`);
      return { status: res.status, body: (await res.json()) as { store: boolean; component_store: { kind: string; reachable: boolean } } };
    };
    for (const r of cluster.replicas) assert.equal((await readiness(r)).status, 200);
    await s3.server.close();
    for (const r of cluster.replicas) {
      const { status, body } = await readiness(r);
      assert.equal(status, 503, `replica ${r.index} is not ready without its store`);
      assert.deepEqual([body.store, body.component_store.kind, body.component_store.reachable], [true, 's3', false]);
    }
    // a replica that starts meanwhile cannot warm what it has not prepared: said at warn, with the reason, and counted
    const blind = await cluster.add();
    const summary = JSON.parse((await blind.process.line(/"msg":"installed versions warmed at start/)).input) as { level: number; warmed: number; failed: number };
    assert.deepEqual([summary.level, summary.warmed, summary.failed], [40, 0, 2]);
    const failures = blind.process.lines.filter((l) => l.includes('warming an installed version at start failed')).map((l) => JSON.parse(l) as { level: number; reason: string });
    assert.deepEqual(
      failures.map((f) => [f.level, f.reason]),
      [
        [40, 'component_unavailable'],
        [40, 'component_unavailable'],
      ],
    );
    assert.equal(metricValue(await metricsText(blind), 'alga_runner_warm_failures_total', { reason: 'component_unavailable' }), 2);

    s3 = await startS3(s3.port);
    for (const r of cluster.replicas) assert.equal((await readiness(r)).status, 200, `replica ${r.index} is ready again`);
    // the store back: the replica that could not warm serves on first need
    const late = await execute<Answer>(blind, '/hello', { extension: u.bundle.extension_id });
    assert.deepEqual([late.status, late.json.status], [200, 200]);
    await lateReplicaWarms(cluster, u);
  } finally {
    await cluster?.close();
    await s3.server.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
