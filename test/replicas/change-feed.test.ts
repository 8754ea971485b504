/**
 * Install changes across replicas (src/store/change-feed.ts): a change made through one replica is
 * in force on the others through PostgreSQL LISTEN/NOTIFY — not through a cache expiring or the
 * periodic re-check, which is set to 10 minutes on replicas 0-2 here, so only a notification can
 * explain a replica changing its behaviour within these tests' deadlines (20 s). Replica 3 has a
 * 200 ms re-check, for the backstop test. How fast a change arrives is measured in
 * bench/change-feed.ts, not asserted here.
 *
 * Artifacts: each replica gets the kitchen-sink by an upload through it (installKitchenSink).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, replicaSkipReason, type Cluster, type Replica } from '../support/replicas.js';
import { admin, execute, guestJson, metricValue, metricsText, uploadExample, type Answer } from '../service/harness.js';
import { openGate } from '../service/gate.js';
import { KITCHEN_SINK_CAPS, installKitchenSink, patchInstall, putOnce, tailLogs, until, writeLoop, type WriteAttempt } from './feed-support.js';

const skip = await replicaSkipReason();
const BACKSTOP_OFF = '600000';

describe('install changes across replicas', { skip, timeout: 600_000 }, () => {
  let cluster: Cluster;
  let r: Replica[];

  before(async () => {
    cluster = await startCluster({
      replicas: 4,
      // two workers: a probe runs beside an execution held at the gate
      workers: 2,
      env: { RUNNER_CHANGE_RECHECK_MS: BACKSTOP_OFF, RUNNER_LOG_TAIL_POLL_MS: BACKSTOP_OFF },
      envOf: (i): Record<string, string> => (i === 3 ? { RUNNER_CHANGE_RECHECK_MS: '200' } : {}),
    });
    r = cluster.replicas;
  });
  after(async () => {
    await cluster?.close();
  });

  const notifications = async (replica: Replica) => metricValue(await metricsText(replica), 'alga_runner_change_feed_notifications_total');
  /**
   * Installs the kitchen-sink, then waits until the replicas have heard of the creation: a lookup
   * that overlaps a notification answers without caching, and the lost-notification tests need
   * the install cached.
   */
  const installHeardBy = async (replicas: Replica[], tenant: string) => {
    const heard = await Promise.all(replicas.map(notifications));
    const installed = await installKitchenSink(r, tenant);
    for (const [i, replica] of replicas.entries()) await until(`replica ${replica.index} told of the new install`, async () => ((await notifications(replica)) > heard[i]! ? true : undefined));
    return installed;
  };
  const resyncs = async (replica: Replica, reason?: string) => metricValue(await metricsText(replica), 'alga_runner_change_feed_resyncs_total', reason ? { reason } : {});

  it('a revoked storage grant is refused by every other replica, with no re-check or resync to explain it', async () => {
    const tenant = 'tenant-revoke';
    const { installId } = await installKitchenSink(r, tenant, { grants: ['cap:storage.kv', 'cap:log.emit', 'cap:context.read'] });
    const loops = [writeLoop(r[1]!, tenant, (n) => `one-${n}`), writeLoop(r[2]!, tenant, (n) => `two-${n}`)];
    await until('both replicas acknowledging writes', async () => loops.every((l) => l.attempts.some((a) => a.outcome === 'ok')) || undefined);

    await patchInstall(r[0]!, installId, { grants: ['cap:log.emit', 'cap:context.read'] });
    const answered = performance.now();
    await until('both replicas refusing writes sent after the revoke', async () => loops.every((l) => l.attempts.some((a) => a.sentAt > answered && a.outcome === 'denied')) || undefined);
    // and they keep refusing: a replica in force never honours the old grant again
    const seen = loops.map((l) => l.attempts.length);
    await until('20 more writes on each replica', async () => loops.every((l, i) => l.attempts.length >= seen[i]! + 20) || undefined);
    await Promise.all(loops.map((l) => l.stop()));

    for (const [i, loop] of loops.entries()) {
      const firstRefusal = loop.attempts.findIndex((a) => a.sentAt > answered && a.outcome === 'denied');
      assert.deepEqual(
        loop.attempts.slice(firstRefusal).filter((a) => a.outcome !== 'denied'),
        [],
        `replica ${i + 1} acknowledged a write after it had refused one`,
      );
      const late = loop.attempts.filter((a) => a.sentAt > answered && a.outcome === 'ok');
      console.log(
        `# replica ${i + 1}: ${late.length} writes acknowledged that were sent after the revoke's answer (within ${late.length ? Math.round(Math.max(...late.map((a) => a.sentAt)) - answered) : 0} ms of it)`,
      );
      // no re-check ran and no reconnect happened: the notification is what changed the replica
      assert.equal(await resyncs(r[i + 1]!), 0);
    }
  });

  it('disable, enable, a version change and a delete reach the other replicas', async () => {
    const tenant = 'tenant-changes';
    const { installId } = await installKitchenSink(r, tenant);
    const others = [r[1]!, r[2]!];
    const context = async (replica: Replica) => {
      const res = await execute(replica, '/context', { tenant });
      if (res.status !== 200) return { status: res.status, code: (res.json as unknown as { error: { code: string } }).error.code };
      return { status: 200, versionId: guestJson<{ ok: { versionId: string } }>(res.json as Answer).ok.versionId };
    };
    // every replica has the install cached
    for (const replica of others) assert.equal((await context(replica)).status, 200);

    await patchInstall(r[0]!, installId, { enabled: false });
    for (const replica of others) await until(`replica ${replica.index} refusing the disabled install`, async () => ((await context(replica)).code === 'install_disabled' ? true : undefined));
    await patchInstall(r[0]!, installId, { enabled: true });
    for (const replica of others) await until(`replica ${replica.index} serving it again`, async () => ((await context(replica)).status === 200 ? true : undefined));

    // a second version of the same component: its version id is what tells the versions apart
    let second = '';
    for (const replica of r) second = (await uploadExample(replica, 'kitchen-sink', { name: 'kitchen-sink', version: '2.0.0', capabilities: KITCHEN_SINK_CAPS })).version_id;
    await patchInstall(r[0]!, installId, { version_id: second });
    for (const replica of others) await until(`replica ${replica.index} running version 2.0.0`, async () => ((await context(replica)).versionId === second ? true : undefined));

    const removed = await admin(r[0]!, 'DELETE', `/admin/v1/installs/${installId}`);
    assert.equal(removed.status, 204);
    for (const replica of others) await until(`replica ${replica.index} not finding the removed install`, async () => ((await context(replica)).code === 'install_not_found' ? true : undefined));
    for (const replica of others) assert.equal(await resyncs(replica), 0);
  });

  it('a delete under load on two replicas: no write acknowledged after its answer, no row left in any table', async () => {
    const tenant = 'tenant-delete';
    const { installId, extensionId } = await installKitchenSink(r, tenant);
    assert.equal((await admin(r[0]!, 'PUT', `/admin/v1/installs/${installId}/secrets`, { values: { token: 'secret-value' } })).status, 204);
    // an idempotency record of the tenant and extension, which the uninstall removes too
    assert.equal((await execute(r[1]!, '/kv/put', { tenant, body: { ns: 'feed', key: 'once', value: 'v' }, idempotencyKey: 'before-delete' })).status, 200);

    const puts = [writeLoop(r[1]!, tenant, (n) => `one-${n}`), writeLoop(r[2]!, tenant, (n) => `two-${n}`)];
    // log records too, from both replicas
    let logging = true;
    const logLoops = [r[1]!, r[2]!].map(async (replica) => {
      for (let n = 0; logging; n++) await execute(replica, '/log', { tenant, query: { msg: `load ${replica.index} ${n}` } });
    });
    const count = async (sql: string, values: unknown[]) => Number((await cluster.query<{ n: string }>(sql, values))[0]!.n);
    await until('storage and log rows written', async () =>
      (await count('select count(*) as n from kv_entries where install_id = $1', [installId])) >= 20 && (await count('select count(*) as n from log_records where install_id = $1', [installId])) >= 20
        ? true
        : undefined,
    );

    assert.equal((await admin(r[0]!, 'DELETE', `/admin/v1/installs/${installId}`)).status, 204);
    const answered = performance.now();
    await until('both replicas answering install_not_found', async () => puts.every((l) => l.attempts.some((a) => a.sentAt > answered && a.outcome === 'install_not_found')) || undefined);
    logging = false;
    await Promise.all([...puts.map((l) => l.stop()), ...logLoops]);

    const attempts: WriteAttempt[] = puts.flatMap((l) => l.attempts);
    assert.deepEqual(
      attempts.filter((a) => a.sentAt > answered && a.outcome === 'ok'),
      [],
      'a write sent after the delete was answered was acknowledged',
    );
    const afterwards = attempts.filter((a) => a.sentAt > answered);
    console.log(`# writes sent after the delete's answer: ${afterwards.length} (${afterwards.filter((a) => a.outcome === 'denied').length} refused by the fence, the rest install_not_found)`);

    const perInstall = ['installs', 'install_secrets', 'kv_entries', 'kv_namespaces', 'kv_usage', 'log_records', 'log_usage'];
    for (const table of perInstall) {
      const column = table === 'installs' ? 'id' : 'install_id';
      assert.equal(await count(`select count(*) as n from ${table} where ${column} = $1`, [installId]), 0, `rows of the removed install left in ${table}`);
    }
    assert.equal(await count('select count(*) as n from idempotency where tenant_id = $1 and extension_id = $2', [tenant, extensionId]), 0, 'idempotency records left');
  });

  it('a lost notification is caught by the reconnect of the LISTEN connection, and by the periodic re-check', async () => {
    const grantsWithoutStorage = JSON.stringify(['cap:log.emit', 'cap:context.read']);

    // 1. A change no replica is told of (made behind the runner's back), then replica 1's LISTEN connection killed.
    const first = await installHeardBy([r[1]!, r[2]!], 'tenant-lost-1');
    for (const replica of [r[1]!, r[2]!]) assert.equal((await putOnce(replica, 'tenant-lost-1', 'k', 'v')).outcome, 'ok');
    await cluster.query('update installs set grants = $1 where id = $2', [grantsWithoutStorage, first.installId]);
    assert.equal((await putOnce(r[1]!, 'tenant-lost-1', 'k', 'v')).outcome, 'ok', 'nothing told replica 1 yet: it still has the install cached');
    const killed = await cluster.query<{ killed: boolean }>("select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name like $1 and query like 'LISTEN %'", [
      `alga-runner feed ${r[1]!.process.child.pid} %`,
    ]);
    assert.deepEqual(
      killed.map((k) => k.killed),
      [true],
    );
    await until('replica 1 refusing once it listens again', async () => ((await putOnce(r[1]!, 'tenant-lost-1', 'k', 'v')).outcome === 'denied' ? true : undefined));
    assert.ok((await resyncs(r[1]!, 'reconnected')) >= 1);
    // replica 2 was not reconnected and its re-check is off: it still has the old grant — what the reconnect fixed
    assert.equal((await putOnce(r[2]!, 'tenant-lost-1', 'k', 'v')).outcome, 'ok');
    await until('replica 1 listening again', async () => (metricValue(await metricsText(r[1]!), 'alga_runner_change_feed_listening') === 1 ? true : undefined));

    // 2. A change that bumps the counter but sends no notification: replica 3's 200 ms re-check catches it.
    const second = await installHeardBy([r[2]!, r[3]!], 'tenant-lost-2');
    for (const replica of [r[2]!, r[3]!]) assert.equal((await putOnce(replica, 'tenant-lost-2', 'k', 'v')).outcome, 'ok');
    await cluster.query('update installs set grants = $1 where id = $2', [grantsWithoutStorage, second.installId]);
    await cluster.query('update change_feed set generation = generation + 1 where id = 1');
    await until('replica 3 refusing after its re-check', async () => ((await putOnce(r[3]!, 'tenant-lost-2', 'k', 'v')).outcome === 'denied' ? true : undefined));
    assert.ok((await resyncs(r[3]!, 'missed')) >= 1);
    assert.equal((await putOnce(r[2]!, 'tenant-lost-2', 'k', 'v')).outcome, 'ok', 'replica 2 (re-check off, no notification) still has the old grant');
  });

  it('an execution already running when storage is revoked, or its install deleted, has its next write refused', async () => {
    const gate = await openGate();
    try {
      const tenant = 'tenant-in-flight';
      const { installId } = await installKitchenSink(r, tenant, { egress: { allow: [gate.origin] } });
      // kitchen-sink /all: http.fetch (held at the gate: the guest is provably running on replica 1), then storage.put
      const heldAll = async () => {
        const answer = execute(r[1]!, '/all', { tenant, query: { fetch: `${gate.origin}/hold` } });
        return { answer, held: await gate.next() };
      };
      const storagePut = async (answer: ReturnType<typeof execute>) => {
        const res = await answer;
        assert.equal(res.status, 200);
        return guestJson<Record<string, unknown>>(res.json as Answer)['storage.put'];
      };
      const withoutStorage = KITCHEN_SINK_CAPS.filter((c) => c !== 'cap:storage.kv');

      // the control: nothing changes while it is held, and its write is acknowledged
      let run = await heldAll();
      run.held.release();
      const control = await storagePut(run.answer);
      assert.ok(typeof control === 'object' && control !== null && 'ok' in control, `the control's write: ${JSON.stringify(control)}`);

      run = await heldAll();
      await patchInstall(r[0]!, installId, { grants: withoutStorage });
      await until('replica 1 refusing new writes', async () => ((await putOnce(r[1]!, tenant, 'k', 'v')).outcome === 'denied' ? true : undefined));
      run.held.release();
      assert.deepEqual(await storagePut(run.answer), { err: 'denied' }, 'the running execution kept the revoked grant');

      await patchInstall(r[0]!, installId, { grants: KITCHEN_SINK_CAPS });
      await until('replica 1 writing again', async () => ((await putOnce(r[1]!, tenant, 'k', 'v')).outcome === 'ok' ? true : undefined));
      run = await heldAll();
      assert.equal((await admin(r[0]!, 'DELETE', `/admin/v1/installs/${installId}`)).status, 204);
      await until('replica 1 not finding the install', async () => ((await putOnce(r[1]!, tenant, 'k', 'v')).outcome === 'install_not_found' ? true : undefined));
      run.held.release();
      assert.deepEqual(await storagePut(run.answer), { err: 'denied' }, 'the running execution wrote after the delete');
      for (const table of ['kv_entries', 'kv_usage', 'log_records', 'log_usage']) {
        assert.deepEqual(await cluster.query(`select install_id from ${table} where install_id = $1`, [installId]), [], `rows left in ${table}`);
      }
    } finally {
      await gate.close();
    }
  });

  it('a live log tail on replica 0 receives the records of executions on replicas 1 and 2 (its poll is off)', async () => {
    const tenant = 'tenant-tail';
    const { installId } = await installKitchenSink(r, tenant);
    const tail = await tailLogs(r[0]!, installId);
    try {
      for (const replica of [r[1]!, r[2]!]) {
        const res = await execute(replica, '/log', { tenant, query: { msg: `hello from replica ${replica.index}` } });
        assert.equal(res.status, 200);
      }
      await tail.waitFor(/hello from replica 1/);
      await tail.waitFor(/hello from replica 2/);
    } finally {
      tail.close();
    }
  });
});
