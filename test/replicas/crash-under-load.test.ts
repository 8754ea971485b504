/**
 * One of three replicas killed -9 under load (kv writes from several clients spread over the
 * three): no request to a survivor fails, and every write the runner acknowledged — a 200 answer
 * with the guest's success — is readable afterwards, whichever replica took it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, guestJson, uploadExample } from '../service/harness.js';
import { replicaSkipReason, startCluster, type Cluster } from '../support/replicas.js';

const skip = await replicaSkipReason();

let cluster: Cluster;

before(async () => {
  if (skip) return;
  cluster = await startCluster({ replicas: 3, seed: ['kitchen-sink'] });
  const [r0] = cluster.replicas;
  await uploadExample(r0!, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] });
  await createInstall(r0!, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
  for (const r of cluster.replicas) assert.equal((await execute(r, '/noop')).json.status, 200);
});
after(async () => cluster?.close());

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a replica killed -9 under load: no request to a survivor fails, and no acknowledged write is lost', { skip, timeout: 120_000 }, async (t) => {
  const victim = cluster.replicas[1]!;
  const survivors = cluster.replicas.filter((r) => r !== victim);
  const acknowledged = new Map<string, string>();
  const survivorFailures: string[] = [];
  const toVictim = { sent: 0, unanswered: 0 };
  let killed = false;
  let survivorAcksAfterKill = 0;
  let loading = true;

  const client = async (c: number) => {
    for (let n = 0; loading; n++) {
      // spread over the three; once the victim is dead (a load balancer noticed), over the two left
      const pool = killed ? survivors : cluster.replicas;
      const target = pool[(c + n) % pool.length]!;
      const key = `c${c}-${n}`;
      const value = `value of ${key}`;
      const sentToVictim = target === victim;
      if (sentToVictim) toVictim.sent++;
      const outcome = await execute(target, '/kv/put', { body: { ns: 'crash', key, value } }).then(
        (r) => (r.status === 200 && r.json.status === 200 && 'ok' in guestJson(r.json) ? 'ok' : `${r.status} ${JSON.stringify(r.json)}`),
        (e: unknown) => `request failed: ${String((e as { cause?: unknown }).cause ?? e)}`,
      );
      if (outcome === 'ok') {
        acknowledged.set(key, value);
        if (killed && !sentToVictim) survivorAcksAfterKill++;
      } else if (sentToVictim) toVictim.unanswered++;
      else survivorFailures.push(`replica ${target.index} ${key}: ${outcome}`);
    }
  };
  const clients = Array.from({ length: 6 }, (_, c) => client(c));
  try {
    await until(() => acknowledged.size >= 60, 'load before the crash');
    const inFlightAtKill = toVictim.sent;
    await victim.kill();
    killed = true;
    await until(() => survivorAcksAfterKill >= 60, 'load on the survivors after the crash');
    t.diagnostic(`the victim was sent ${toVictim.sent} writes (${inFlightAtKill} before the kill), ${toVictim.unanswered} went unanswered`);
  } finally {
    loading = false;
    await Promise.all(clients);
  }
  assert.deepEqual(survivorFailures, []);

  // every acknowledged write is there, read through each survivor
  const lost: string[] = [];
  for (const [i, [key, value]] of [...acknowledged].entries()) {
    const read = await execute(survivors[i % survivors.length]!, '/kv/get', { query: { ns: 'crash', key } });
    const got = read.status === 200 && read.json.status === 200 ? guestJson<{ ok?: { value: string } }>(read.json).ok?.value : undefined;
    if (got !== value) lost.push(`${key}: ${JSON.stringify(read.json)}`);
  }
  assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged writes lost`);
  t.diagnostic(`${acknowledged.size} acknowledged writes, all readable`);
});
