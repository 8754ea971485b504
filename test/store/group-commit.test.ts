import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, createKvStore, SQLITE_FILE_NAME, type KvStore, type Store } from '../../src/store/index.js';
import { createGroupCommit } from '../../src/store/group-commit.js';
import { sqliteConnectionOf } from '../../src/store/sqlite-connection.js';
import { Sqlite, type SqliteConnection } from '../../src/store/sqlite-driver.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('group commit (SQLite)', () => {
  let dataDir: string;
  let store: Store;
  /** a second connection: sees a write only once its transaction committed */
  let observer: SqliteConnection;
  let commits: number[];
  let kv: KvStore;
  let n = 0;
  const install = () => `install-${++n}`;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'group-commit-'));
    store = await openStore({ dataDir });
    observer = new Sqlite(join(dataDir, SQLITE_FILE_NAME), { readonly: true });
    commits = [];
    kv = createKvStore(store.db, 'sqlite', Date.now, { groupCommit: { onCommit: (writes) => commits.push(writes) } });
  });
  after(async () => {
    observer?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const committedRevision = (installId: string, key: string): number | undefined =>
    (observer.prepare('select revision from kv_entries where install_id = ? and namespace = ? and key = ?').get(installId, 'ns', key) as { revision: number } | undefined)?.revision;

  it('a write alone commits alone, and is visible to another connection when acknowledged', async () => {
    commits.length = 0;
    const id = install();
    const written = await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v') });
    assert.equal(written.kind, 'ok');
    assert.equal(committedRevision(id, 'k'), 1);
    assert.deepEqual(commits, [1]);
  });

  it('concurrent writes share one commit, and none is acknowledged before that commit', async () => {
    commits.length = 0;
    const id = install();
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    // checked synchronously at each acknowledgement: a write resolved inside its transaction
    // (before COMMIT) would not be visible to the other connection yet
    const seenAtAck = await Promise.all(keys.map((key) => kv.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => (r.kind === 'ok' ? committedRevision(id, key) : r.kind))));
    assert.deepEqual(
      seenAtAck,
      keys.map(() => 1),
    );
    assert.equal(
      commits.reduce((a, b) => a + b, 0),
      keys.length,
    );
    assert.ok(commits.length < keys.length / 4, `40 concurrent writes took ${commits.length} commits (${commits.join(', ')})`);
    assert.deepEqual(await kv.usage(id), { totalBytes: keys.reduce((a, k) => a + k.length, 0), namespaces: 1 });
  });

  it('compare-and-swap inside one batch: of 10 creates of one key exactly one wins', async () => {
    commits.length = 0;
    const id = install();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv.put(id, { namespace: 'ns', key: 'once', value: bytes(`w${i}`), revision: 0 })));
    assert.equal(results.filter((r) => r.kind === 'ok').length, 1);
    assert.equal(results.filter((r) => r.kind === 'conflict').length, 9);
    assert.ok(commits.length < 10, `took ${commits.length} commits`);
    assert.equal(committedRevision(id, 'once'), 1);
  });

  it('a write that throws is rolled back alone; the others of its batch commit', async () => {
    const batches: number[] = [];
    const connection = sqliteConnectionOf(store.db);
    const group = createGroupCommit(store.db, connection, { onCommit: (w) => batches.push(w) });
    const id = install();
    const insert = (key: string) => connection.prepare('insert into kv_usage (install_id, total_bytes, namespace_count) values (?, 1, 1)').run(`${id}-${key}`);
    const results = await Promise.allSettled([
      group.run(() => (insert('a'), 'a')),
      group.run(() => {
        insert('b'); // written, then undone with the failure
        insert('a'); // primary key taken: throws
        return 'never';
      }),
      group.run(() => (insert('c'), 'c')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /UNIQUE|constraint/i);
    assert.deepEqual(batches, [3]);
    const rows = observer.prepare('select install_id from kv_usage where install_id like ? order by install_id').all(`${id}-%`) as { install_id: string }[];
    assert.deepEqual(
      rows.map((r) => r.install_id),
      [`${id}-a`, `${id}-c`],
    );
  });

  it('a batch whose transaction fails acknowledges none of its writes', async () => {
    const connection = sqliteConnectionOf(store.db);
    const group = createGroupCommit(store.db, connection);
    const id = install();
    const results = await Promise.allSettled([
      group.run(() => (connection.prepare('insert into kv_usage (install_id, total_bytes, namespace_count) values (?, 1, 1)').run(id), 'x')),
      // ends the transaction under the batch: what follows it in the batch fails
      group.run(() => (connection.exec('commit'), 'y')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  it('with syncAfterCommit: the batch is committed, but no write acknowledged, until the sync returned', async () => {
    let syncCalled!: () => void;
    const syncing = new Promise<void>((resolve) => (syncCalled = resolve));
    let finishSync!: () => void;
    const synced = new Promise<void>((resolve) => (finishSync = resolve));
    const gated = createKvStore(store.db, 'sqlite', Date.now, {
      groupCommit: {
        syncAfterCommit: async () => {
          syncCalled();
          await synced;
        },
      },
    });
    const id = install();
    const acked: string[] = [];
    const writes = ['a', 'b', 'c'].map((key) => gated.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => acked.push(`${key}:${r.kind}`)));
    await syncing;
    assert.deepEqual(
      ['a', 'b', 'c'].map((key) => committedRevision(id, key)),
      [1, 1, 1],
      'committed before the sync',
    );
    // let every queued callback run: still nothing may be acknowledged
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(acked, []);
    finishSync();
    await Promise.all(writes);
    assert.deepEqual(acked.sort(), ['a:ok', 'b:ok', 'c:ok']);
  });

  it('with syncAfterCommit: batches commit while a sync runs; one sync at a time, and the commits made during one wait for the next, which covers them all', async () => {
    const syncs: (() => void)[] = [];
    // started[i] settles when sync i starts
    const starters: (() => void)[] = [];
    const started = [0, 1, 2].map(() => new Promise<void>((resolve) => starters.push(resolve)));
    const pipelined = createKvStore(store.db, 'sqlite', Date.now, {
      groupCommit: {
        syncAfterCommit: () =>
          new Promise<void>((release) => {
            syncs.push(release);
            starters[syncs.length - 1]!();
          }),
      },
    });
    const id = install();
    const acked: string[] = [];
    const put = (key: string) => pipelined.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => acked.push(`${key}:${r.kind}`));
    const first = put('a');
    await started[0]; // batch 1 committed, its sync running
    const b = put('b');
    await new Promise((resolve) => setImmediate(resolve));
    const c = put('c');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([committedRevision(id, 'a'), committedRevision(id, 'b'), committedRevision(id, 'c')], [1, 1, 1], 'all committed');
    assert.equal(syncs.length, 1, 'no second sync while the first runs');
    assert.deepEqual(acked, [], 'nothing acknowledged before a sync that started after its commit returned');
    syncs[0]!();
    await first;
    await started[1]; // the next sync started once the first returned
    assert.equal(syncs.length, 2);
    assert.deepEqual(acked, ['a:ok'], 'b and c committed during the first sync: it may not cover them');
    syncs[1]!();
    await Promise.all([b, c]);
    assert.deepEqual(acked, ['a:ok', 'b:ok', 'c:ok']);
  });

  it('with a durability taker: a write is answered at its commit and hands over `durable`, which settles after the sync', async () => {
    let finishSync!: () => void;
    let syncs = 0;
    const gated = createKvStore(store.db, 'sqlite', Date.now, {
      groupCommit: {
        syncAfterCommit: () => {
          syncs++;
          return new Promise<void>((resolve) => (finishSync = resolve));
        },
      },
    });
    const id = install();
    const handed: Promise<void>[] = [];
    const answer = await gated.put(id, { namespace: 'ns', key: 'early', value: bytes('x') }, undefined, (durable) => handed.push(durable));
    assert.equal(answer.kind, 'ok');
    assert.equal(committedRevision(id, 'early'), 1);
    assert.equal(handed.length, 1);
    assert.equal(syncs, 1);
    let durable = false;
    void handed[0]!.then(() => (durable = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(durable, false, 'not durable before the sync returned');
    finishSync();
    await handed[0];
    assert.equal(durable, true);
  });

  it('with syncAfterCommit: batches commit with synchronous=NORMAL, every other transaction of the connection with FULL', async () => {
    const modes: number[] = [];
    const raw = (await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows[0]?.synchronous;
    assert.equal(raw, 2, 'the store opens with FULL');
    const connection = sqliteConnectionOf(store.db);
    const probing = createGroupCommit(store.db, connection, { syncAfterCommit: async () => {} });
    await Promise.all(
      [1, 2].map(() =>
        probing.run(() => {
          modes.push(Number(connection.pragma('synchronous', { simple: true })));
        }),
      ),
    );
    assert.deepEqual(modes, [1, 1]);
    assert.equal((await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows[0]?.synchronous, 2);
  });

  it('with syncAfterCommit: a failed sync fails every write of its batch', async () => {
    const failing = createKvStore(store.db, 'sqlite', Date.now, {
      groupCommit: {
        syncAfterCommit: async () => {
          throw new Error('fsync: EIO');
        },
      },
    });
    const id = install();
    const results = await Promise.allSettled(['a', 'b'].map((key) => failing.put(id, { namespace: 'ns', key, value: bytes(key) })));
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status)),
      ['Error: fsync: EIO', 'Error: fsync: EIO'],
    );
  });

  it('the store opened with synchronous=FULL (commit, then WAL fsync on the thread pool): concurrent writes land and are visible at their ack', async () => {
    const id = install();
    const seenAtAck = await Promise.all(['x', 'y'].map((key) => store.kv.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => (r.kind === 'ok' ? committedRevision(id, key) : r.kind))));
    assert.deepEqual(seenAtAck, [1, 1]);
  });
});
