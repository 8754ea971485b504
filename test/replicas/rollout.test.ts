/**
 * Graceful rollout of three real replicas behind a small round-robin proxy that, like a load
 * balancer, polls each replica's /readyz every 50 ms and sends requests only to ready ones: each
 * replica in turn is stopped (SIGTERM: /readyz says draining at once while it keeps serving, its
 * listener closes after RUNNER_DRAIN_DELAY_MS) and started again, under continuous load — and no
 * request fails. A second signal skips the drain delay.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInstall, execute, guestJson, uploadExample } from '../service/harness.js';
import { replicaSkipReason, startCluster, type Cluster, type Replica, REPLICA_SERVICE_TOKEN } from '../support/replicas.js';

const skip = await replicaSkipReason();
const DRAIN_DELAY_MS = 1500;
const POLL_MS = 50;
const FAILURE_THRESHOLD = 3;

let cluster: Cluster;

before(async () => {
  if (skip) return;
  cluster = await startCluster({ replicas: 3, seed: ['kitchen-sink'], env: { RUNNER_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS) } });
  const [r0] = cluster.replicas;
  await uploadExample(r0!, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] });
  await createInstall(r0!, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
  for (const r of cluster.replicas) assert.equal((await execute(r, '/noop')).json.status, 200);
});
after(async () => cluster?.close());

interface Proxy {
  readonly url: string;
  /** requests forwarded, by replica URL */
  readonly forwarded: Map<string, number>;
  /** what went wrong forwarding (no ready replica, a connection error) */
  readonly errors: string[];
  close(): Promise<void>;
}

/**
 * Round robin over the ready replicas. Like a Kubernetes readiness probe, a replica is ready after
 * one poll answered 200 and out of rotation after three polls in a row did not (503, a timeout, a
 * refused connection): a replica that stalls for a moment stays in.
 */
async function startProxy(replicas: readonly Replica[]): Promise<Proxy> {
  const ready = new Map<Replica, boolean>();
  const last = new Map<Replica, string>();
  const failures = new Map<Replica, number>();
  let polling = true;
  const pollers = replicas.map(async (r) => {
    while (polling) {
      const status = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        async (res) => `${res.status} ${await res.text()}`,
        (e: unknown) => `error ${String(e)}`,
      );
      last.set(r, `${Date.now()} ${status}`);
      const failed = status.startsWith('200') ? 0 : (failures.get(r) ?? 0) + 1;
      failures.set(r, failed);
      if (failed === 0) ready.set(r, true);
      else if (failed >= FAILURE_THRESHOLD) ready.set(r, false);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  });
  const agent = new Agent({ keepAlive: true });
  const forwarded = new Map<string, number>();
  const errors: string[] = [];
  let next = 0;
  const server: Server = createServer((req, res) => {
    const candidates = replicas.filter((r) => ready.get(r));
    if (candidates.length === 0) {
      errors.push(`no ready replica ${Date.now()}: ${[...last.values()].join(' | ')}`);
      return void res.writeHead(503).end('no ready replica');
    }
    const target = candidates[next++ % candidates.length]!;
    const url = target.url;
    forwarded.set(url, (forwarded.get(url) ?? 0) + 1);
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const upstream = request(`${url}${req.url ?? '/'}`, { method: req.method, headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (e: NodeJS.ErrnoException) => {
      errors.push(`${url}: ${e.code ?? e.message}`);
      if (!res.headersSent) res.writeHead(502).end(`proxy: ${e.code ?? e.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // the proxy starts sending once it has seen every replica ready
  const deadline = Date.now() + 10_000;
  while (!replicas.every((r) => ready.get(r))) {
    if (Date.now() > deadline) throw new Error('the replicas never became ready');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    errors,
    async close() {
      polling = false;
      await Promise.all(pollers);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a rolling restart of all three replicas under continuous load through a readiness-polling proxy fails no request', { skip, timeout: 180_000 }, async (t) => {
  const proxy = await startProxy(cluster.replicas);
  const failures: string[] = [];
  let succeeded = 0;
  let loading = true;
  const client = async (c: number) => {
    for (let n = 0; loading; n++) {
      const body = { ns: 'rollout', key: `c${c}-${n}`, value: `v${n}` };
      const outcome = await execute({ url: proxy.url, serviceToken: REPLICA_SERVICE_TOKEN }, '/kv/put', { body }).then(
        (r) => (r.status === 200 && r.json.status === 200 && 'ok' in guestJson(r.json) ? null : `${r.status} ${JSON.stringify(r.json)}`),
        (e: unknown) => `request failed: ${String(e)}`,
      );
      if (outcome) failures.push(`${body.key}: ${outcome}`);
      else succeeded++;
    }
  };
  const clients = Array.from({ length: 4 }, (_, c) => client(c));
  try {
    await until(() => succeeded >= 20, 'load through the proxy');
    for (const replica of cluster.replicas) {
      const oldUrl = replica.url;
      const servedBefore = proxy.forwarded.get(oldUrl) ?? 0;
      assert.ok(servedBefore > 0, `replica ${replica.index} was in rotation`);
      assert.equal(await replica.stop(), 0, `replica ${replica.index} exits 0 after draining`);
      assert.ok(
        replica.process.lines.some((l) => /^SIGTERM: draining: \/readyz reports not ready; requests are still served until the listener closes in 1500 ms/.test(l)),
        'it announced the drain',
      );
      await replica.start();
      // back in rotation: the proxy saw it ready and sends to it again
      await until(() => (proxy.forwarded.get(replica.url) ?? 0) >= 5, `replica ${replica.index} to serve again`);
    }
    const afterRollout = succeeded;
    await until(() => succeeded >= afterRollout + 20, 'load after the rollout');
  } finally {
    loading = false;
    await Promise.all(clients);
    await proxy.close();
  }
  assert.deepEqual(proxy.errors, []);
  assert.deepEqual(failures, [], `${failures.length} failed of ${succeeded + failures.length}`);
  assert.ok(succeeded > 60, `${succeeded} requests succeeded`);
  t.diagnostic(`${succeeded} requests, none failed; forwarded by replica URL: ${JSON.stringify(Object.fromEntries(proxy.forwarded))}`);
});

test('a second SIGTERM skips the drain delay; during the delay the replica answers /readyz 503 draining and still serves', { skip, timeout: 60_000 }, async () => {
  const replica = await cluster.add({ RUNNER_DRAIN_DELAY_MS: '600000' });
  assert.equal((await execute(replica, '/noop')).json.status, 200);
  replica.process.child.kill('SIGTERM');
  await replica.process.line(/^SIGTERM: draining: .*closes in 600000 ms/);
  const readyz = await fetch(`${replica.url}/readyz`);
  assert.equal(readyz.status, 503);
  assert.deepEqual(await readyz.json(), { status: 'not_ready', store: true, component_store: { kind: 'postgres', reachable: true }, engine: false, draining: true });
  const served = await execute(replica, '/kv/put', { body: { ns: 'drain', key: 'during-the-delay', value: 'v' } });
  assert.equal(served.status, 200);
  assert.ok('ok' in guestJson(served.json), JSON.stringify(served.json));

  replica.process.child.kill('SIGTERM');
  await replica.process.line(/^SIGTERM again: closing the listener now/);
  // exits well before the 600 s delay would have ended
  assert.equal(await replica.stop(), 0);
});
