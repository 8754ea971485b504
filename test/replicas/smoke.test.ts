import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, replicaSkipReason } from '../support/replicas.js';

const skip = await replicaSkipReason();

test('three replicas start on one schema and answer /healthz', { skip, timeout: 120_000 }, async () => {
  const cluster = await startCluster({ replicas: 3 });
  try {
    for (const r of cluster.replicas) assert.equal((await fetch(`${r.url}/healthz`)).status, 200);
    await cluster.replicas[1]!.kill();
    await cluster.replicas[1]!.start();
    assert.equal((await fetch(`${cluster.replicas[1]!.url}/healthz`)).status, 200);
    const rows = await cluster.query<{ n: string }>('select count(*) as n from installs');
    assert.equal(Number(rows[0]!.n), 0);
  } finally {
    await cluster.close();
  }
});
