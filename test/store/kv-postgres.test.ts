/**
 * Group commit on PostgreSQL (src/store/kv-postgres.ts, migration 061): storage writes of one
 * event-loop turn go to the server as one call — one round trip, one transaction — each answered
 * on its own and only after that transaction committed. And the round trips each storage and
 * list-clients host call costs, counted at the pool.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { backends, TEST_DATABASE_URL } from './backends.js';
import { createKvStore, DEFAULT_KV_LIMITS, INSTALL_REMOVED, type KvStore, type Store } from '../../src/store/index.js';
import { createStoreTenantData } from '../../src/store/tenant-data.js';
import { client } from './tenant-data-stores.js';
import { KvWriteError } from '../../src/store/kv-postgres.js';
import { createInstallFence } from '../../src/store/install-fence.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const postgres = backends('kvpg').find((b) => b.name === 'postgres')!;

describe('group commit (PostgreSQL)', { skip: postgres.skip }, () => {
  let store: Store;
  /** statements sent by the store's pool since the last reset: its round trips */
  let statements: string[];
  /** a connection of its own: sees a write only once its transaction committed */
  let observer: pg.Client;
  let commits: number[];
  let kv: KvStore;
  let n = 0;
  const install = () => `install-${++n}`;

  before(async () => {
    statements = [];
    store = await postgres.open({ onPostgresQuery: (text) => statements.push(text) });
    observer = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${postgres.options.schema}` });
    await observer.connect();
    commits = [];
    kv = createKvStore(store.db, 'postgres', Date.now, { groupCommit: { onCommit: (writes) => commits.push(writes) } });
  });
  after(async () => {
    await observer?.end();
    await store?.close();
    await postgres.dispose();
  });

  const committedRevision = async (installId: string, key: string): Promise<number | undefined> => {
    const { rows } = await observer.query<{ revision: string }>('select revision from kv_entries where install_id = $1 and namespace = $2 and key = $3', [installId, 'ns', key]);
    return rows[0] === undefined ? undefined : Number(rows[0].revision);
  };

  it('a write alone is one round trip and one commit of one write, then one flush before it is acknowledged', async () => {
    commits.length = 0;
    const id = install();
    statements.length = 0;
    assert.equal((await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v') })).kind, 'ok');
    assert.equal(statements.length, 2, statements.join('\n'));
    assert.match(statements[0]!, /kv_write_batch/);
    assert.match(statements[1]!, /wal_flush_marks/);
    assert.deepEqual(commits, [1]);
    assert.equal(await committedRevision(id, 'k'), 1);
  });

  it('with a durability taker: answered at its commit while its flush is held, durable once the flush commits', async () => {
    const id = install();
    statements.length = 0;
    // hold every flush: the table its upsert writes is locked by another connection
    await observer.query('begin');
    await observer.query('lock table wal_flush_marks in exclusive mode');
    let durable: Promise<void> | undefined;
    let settled = false;
    try {
      const answer = await kv.put(id, { namespace: 'ns', key: 'early', value: bytes('v') }, undefined, (d) => (durable = d));
      assert.equal(answer.kind, 'ok', 'answered while its flush waits');
      assert.equal(await committedRevision(id, 'early'), 1, 'committed when answered');
      assert.ok(durable);
      void durable.then(() => (settled = true));
      // the flush has been sent and waits for the lock
      while (!statements.some((t) => /wal_flush_marks/.test(t))) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, 'durable before its flush committed');
    } finally {
      await observer.query('commit');
    }
    await durable;
    assert.equal(settled, true);
    assert.deepEqual(
      statements.map((t) => (/kv_write_batch/.test(t) ? 'batch' : /wal_flush_marks/.test(t) ? 'flush' : t)),
      ['batch', 'flush'],
    );
  });

  it('concurrent writes share commits, each visible to another connection when acknowledged', async () => {
    commits.length = 0;
    const id = install();
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const acked = await Promise.all(keys.map((key) => kv.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => r.kind)));
    assert.deepEqual(
      acked,
      keys.map(() => 'ok'),
    );
    assert.equal(
      commits.reduce((a, b) => a + b, 0),
      keys.length,
    );
    assert.ok(commits.length < keys.length / 4, `40 concurrent writes took ${commits.length} commits (${commits.join(', ')})`);
    assert.deepEqual(await kv.usage(id), { totalBytes: keys.reduce((a, k) => a + k.length, 0), namespaces: 1 });
    for (const key of keys) assert.equal(await committedRevision(id, key), 1);
  });

  it('compare-and-swap inside one batch: of 10 creates of one key exactly one wins; revisions chain within a batch', async () => {
    commits.length = 0;
    const id = install();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv.put(id, { namespace: 'ns', key: 'once', value: bytes(`w${i}`), revision: 0 })));
    assert.equal(results.filter((r) => r.kind === 'ok').length, 1);
    assert.equal(results.filter((r) => r.kind === 'conflict').length, 9);
    assert.deepEqual(commits, [10]);
    const upserts = await Promise.all([1, 2, 3].map((i) => kv.put(id, { namespace: 'ns', key: 'once', value: bytes(`u${i}`) })));
    assert.deepEqual(
      upserts.map((r) => (r.kind === 'ok' ? r.entry.revision : r.kind)),
      [2, 3, 4],
    );
  });

  it('quotas inside one batch: the writes past a limit are denied with the words SQLite uses, deletes free room', async () => {
    const id = install();
    const limits = { ...DEFAULT_KV_LIMITS, maxKeysPerNamespace: 3, maxNamespacesPerInstall: 2, maxBytesPerInstall: 20 };
    const keys = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((key) => kv.put(id, { namespace: 'ns', key, value: bytes('1') }, limits)));
    assert.deepEqual(
      keys.map((r) => (r.kind === 'denied' ? r.reason : r.kind)),
      ['ok', 'ok', 'ok', 'namespace "ns" already has 3 keys', 'namespace "ns" already has 3 keys'],
    );
    const more = await Promise.all([
      kv.put(id, { namespace: 'ns2', key: 'x', value: bytes('1') }, limits),
      kv.put(id, { namespace: 'ns3', key: 'x', value: bytes('1') }, limits),
      kv.put(id, { namespace: 'ns', key: 'a', value: bytes('x'.repeat(18)) }, limits),
      kv.delete(id, 'ns2', 'x', limits),
      kv.delete(id, 'ns2', 'x', limits),
      kv.put(id, { namespace: 'ns3', key: 'x', value: bytes('1') }, limits),
    ]);
    assert.deepEqual(
      more.map((r) => (r.kind === 'denied' ? r.reason : r.kind)),
      ['ok', 'install already has 2 namespaces', 'install storage would reach 21 bytes, over 20 bytes', 'ok', 'missing', 'ok'],
    );
    assert.deepEqual(await kv.usage(id), { totalBytes: 4, namespaces: 2 });
  });

  it('two stores (two replicas) racing increments over three installs in opposite orders: batches lock installs in order, every increment lands', async () => {
    const other = await postgres.open();
    try {
      const mine = kv;
      const theirs = createKvStore(other.db, 'postgres', Date.now);
      const installs = [install(), install(), install()];
      let rejected = 0;
      const increment = async (store: KvStore, id: string) => {
        for (;;) {
          const current = await store.get(id, 'race', 'counter');
          const revision = current.kind === 'ok' ? current.entry.revision : 0;
          const value = current.kind === 'ok' ? Number(new TextDecoder().decode(current.entry.value)) : 0;
          const written = await store.put(id, { namespace: 'race', key: 'counter', value: bytes(String(value + 1)), revision }).catch(() => {
            rejected++; // a deadlock would abort a batch here
            return { kind: 'rejected' as const };
          });
          if (written.kind === 'ok' || written.kind === 'rejected') return;
          assert.equal(written.kind, 'conflict');
        }
      };
      const perStore = 10;
      await Promise.all([
        ...Array.from({ length: perStore }, () => installs.map((id) => increment(mine, id))).flat(),
        ...Array.from({ length: perStore }, () => [...installs].reverse().map((id) => increment(theirs, id))).flat(),
      ]);
      assert.equal(rejected, 0, 'batches rejected (deadlocked)');
      for (const id of installs) {
        const final = await kv.get(id, 'race', 'counter');
        assert.ok(final.kind === 'ok');
        assert.equal(new TextDecoder().decode(final.entry.value), String(2 * perStore));
      }
    } finally {
      await other.close();
    }
  });

  it('two stores appending log records of three installs in opposite orders: no batch deadlocks, every record is kept in order', async () => {
    const other = await postgres.open();
    try {
      const installs = [install(), install(), install()];
      const record = (id: string, message: string) => ({ level: 'info' as const, stream: 'log' as const, message, tenant: 't', extension: 'e', install: id, version: null, request_id: null });
      const rounds = 100;
      const appends = Array.from({ length: rounds }, (_, i) => [
        store.logs.append(installs.map((id) => record(id, `mine ${i}`))),
        other.logs.append([...installs].reverse().map((id) => record(id, `theirs ${i}`))),
      ]).flat();
      const settled = await Promise.allSettled(appends);
      assert.deepEqual(
        settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
        [],
      );
      for (const id of installs) {
        const messages = (await store.logs.query({ installId: id, limit: 1000 })).map((r) => r.message);
        assert.equal(messages.length, 2 * rounds);
        for (const who of ['mine', 'theirs'])
          assert.deepEqual(
            messages.filter((m) => m.startsWith(who)),
            Array.from({ length: rounds }, (_, i) => `${who} ${i}`),
          );
      }
    } finally {
      await other.close();
    }
  });

  it('a log message with NUL (which PostgreSQL text cannot hold) is stored with U+FFFD, and does not fail the appends batched with it', async () => {
    const id = install();
    const record = (message: string) => ({ level: 'info' as const, stream: 'log' as const, message, tenant: 't', extension: 'e', install: id, version: null, request_id: null });
    await Promise.all([store.logs.append([record('before')]), store.logs.append([record('a\u0000b')]), store.logs.append([record('after')])]);
    assert.deepEqual(
      (await store.logs.query({ installId: id })).map((r) => r.message),
      ['before', 'a\uFFFDb', 'after'],
    );
  });

  it('a write the database refuses fails alone; the others of its batch commit', async () => {
    await sql`create function refuse_poison() returns trigger language plpgsql as $$ begin if new.key = 'poison' then raise exception 'poisoned key'; end if; return new; end $$`.execute(store.db);
    await sql`create trigger refuse_poison before insert on kv_entries for each row execute function refuse_poison()`.execute(store.db);
    try {
      commits.length = 0;
      const id = install();
      const results = await Promise.allSettled(['a', 'poison', 'c'].map((key) => kv.put(id, { namespace: 'ns', key, value: bytes(key) })));
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const reason = (results[1] as PromiseRejectedResult).reason as unknown;
      assert.ok(reason instanceof KvWriteError && /poisoned key/.test(reason.message), String(reason));
      assert.deepEqual(commits, [3]);
      assert.deepEqual([await committedRevision(id, 'a'), await committedRevision(id, 'poison'), await committedRevision(id, 'c')], [1, undefined, 1]);
      // the refused write left no bookkeeping behind
      assert.deepEqual(await kv.usage(id), { totalBytes: 2, namespaces: 1 });
    } finally {
      await sql`drop trigger refuse_poison on kv_entries`.execute(store.db);
      await sql`drop function refuse_poison()`.execute(store.db);
    }
  });

  it('no write is acknowledged before its batch committed: a commit held up holds every acknowledgement', async () => {
    // a deferred constraint trigger runs at COMMIT; it waits for an advisory lock this test holds
    const gate = randomInt(1, 2 ** 31 - 1);
    await sql
      .raw(`create function hold_commit() returns trigger language plpgsql as $$ begin perform pg_advisory_lock_shared(${gate}); perform pg_advisory_unlock_shared(${gate}); return null; end $$`)
      .execute(store.db);
    await sql`create constraint trigger hold_commit after insert on kv_entries deferrable initially deferred for each row execute function hold_commit()`.execute(store.db);
    const holder = new pg.Client(TEST_DATABASE_URL);
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1)', [gate]);
      const id = install();
      const acked: string[] = [];
      const writes = ['a', 'b', 'c'].map((key) => kv.put(id, { namespace: 'ns', key, value: bytes(key) }).then((r) => acked.push(`${key}:${r.kind}`)));
      // the batch is at its COMMIT once its connection waits for the gate
      for (;;) {
        const { rows } = await holder.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and objid = $1 and not granted", [gate]);
        if (Number(rows[0]!.n) > 0) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(acked, [], 'acknowledged while the commit waits');
      assert.equal(await committedRevision(id, 'a'), undefined, 'not committed yet');
      await holder.query('select pg_advisory_unlock($1)', [gate]);
      await Promise.all(writes);
      assert.deepEqual(acked.sort(), ['a:ok', 'b:ok', 'c:ok']);
      assert.equal(await committedRevision(id, 'a'), 1);
    } finally {
      await holder.end();
      await sql`drop trigger hold_commit on kv_entries`.execute(store.db);
      await sql`drop function hold_commit()`.execute(store.db);
    }
  });

  it('the fence inside the batch: writes of an install not in the registry are denied, the others of the batch land', async () => {
    const ext = await store.registry.ensureExtension({ name: 'ext-fenced', publisher: 'p' });
    const version = await store.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: 'sha256:fenced', manifest: {} });
    assert.equal(version.kind, 'created');
    const { install: present } = await store.registry.createInstall({ tenantId: 't-fenced', extensionId: ext.id, versionId: version.version.id, grants: [] });
    const fenced = createKvStore(store.db, 'postgres', Date.now, { fence: createInstallFence('postgres') });
    const results = await Promise.all([
      fenced.put(present.id, { namespace: 'ns', key: 'k', value: bytes('v') }),
      fenced.put('gone', { namespace: 'ns', key: 'k', value: bytes('v') }),
      fenced.delete('gone', 'ns', 'k'),
    ]);
    assert.deepEqual(
      results.map((r) => (r.kind === 'denied' ? r.reason : r.kind)),
      ['ok', INSTALL_REMOVED, INSTALL_REMOVED],
    );
  });

  it('log appends commit without waiting for the WAL flush (like SQLite NORMAL); storage writes wait for it', async () => {
    const settingAfter = async (call: string) => {
      await observer.query('begin');
      try {
        await observer.query(call);
        return (await observer.query<{ s: string }>("select current_setting('synchronous_commit') as s")).rows[0]!.s;
      } finally {
        await observer.query('rollback');
      }
    };
    const none = "'{}'";
    assert.equal(await settingAfter(`select * from log_append_batch(${Array(10).fill(none).join(', ')}, 10, false)`), 'off');
    assert.equal(await settingAfter(`select * from kv_write_batch(${Array(9).fill(none).join(', ')}, 0, false)`), 'on');
  });

  describe('round trips per host call', () => {
    /** an install in the registry, so the store's fence lets its writes through */
    const registeredInstall = async (on: Store, name: string) => {
      const ext = await on.registry.ensureExtension({ name: `ext-${name}`, publisher: 'p' });
      const version = await on.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: `sha256:${name}`, manifest: {} });
      assert.equal(version.kind, 'created');
      return (await on.registry.createInstall({ tenantId: `t-${name}`, extensionId: ext.id, versionId: version.version.id, grants: [] })).install;
    };
    const counted = async (call: () => Promise<unknown>): Promise<string[]> => {
      statements.length = 0;
      await call();
      return [...statements];
    };

    it("storage get, put, delete and list: one round trip each (the fence and the quota bookkeeping ride along), and a write's flush one more, shared by the writes committed meanwhile", async () => {
      const fencedStore = await postgres.open({ onPostgresQuery: (text) => statements.push(text), fenceInstallWrites: true });
      try {
        const it = await registeredInstall(fencedStore, 'trips');
        // as an execution calls them: it takes each write's flush over (sent as the batch's answer
        // arrives, not waited for by the call) and waits for it before answering
        const flushes: Promise<void>[] = [];
        const taker = (durable: Promise<void>) => void flushes.push(durable);
        const trips = {
          put: await counted(async () => (await fencedStore.kv.put(it.id, { namespace: 'ns', key: 'k', value: bytes('v') }, undefined, taker), await Promise.all(flushes))),
          get: await counted(() => fencedStore.kv.get(it.id, 'ns', 'k')),
          list: await counted(() => fencedStore.kv.list(it.id, 'ns')),
          delete: await counted(async () => (await fencedStore.kv.delete(it.id, 'ns', 'k', undefined, taker), await Promise.all(flushes))),
        };
        const kinds = (sent: string[]) => sent.map((t) => (/kv_write_batch/.test(t) ? 'batch' : /wal_flush_marks/.test(t) ? 'flush' : 'read'));
        assert.deepEqual(
          Object.fromEntries(Object.entries(trips).map(([call, sent]) => [call, kinds(sent)])),
          { put: ['batch', 'flush'], get: ['read'], list: ['read'], delete: ['batch', 'flush'] },
          JSON.stringify(trips, null, 1),
        );
      } finally {
        await fencedStore.close();
      }
    });

    it('log appends: concurrent ones share one round trip; records keep their order; a removed install is fenced out', async () => {
      const fencedStore = await postgres.open({ onPostgresQuery: (text) => statements.push(text), fenceInstallWrites: true });
      try {
        const it = await registeredInstall(fencedStore, 'logs');
        const record = (install: string, message: string) => ({
          level: 'info' as const,
          stream: 'log' as const,
          message,
          tenant: 't-logs',
          extension: it.extensionId,
          install,
          version: null,
          request_id: null,
        });
        const sent = await counted(() =>
          Promise.all([fencedStore.logs.append([record(it.id, 'a1'), record(it.id, 'a2')]), fencedStore.logs.append([record('gone', 'dropped')]), fencedStore.logs.append([record(it.id, 'b1')])]),
        );
        assert.equal(sent.length, 1, sent.join('\n'));
        assert.deepEqual(
          (await fencedStore.logs.query({ installId: it.id })).map((r) => r.message),
          ['a1', 'a2', 'b1'],
        );
        assert.deepEqual(await fencedStore.logs.query({ installId: 'gone' }), []);
      } finally {
        await fencedStore.close();
      }
    });

    it('secrets.get with the read cache: one round trip, then none until the change feed names the install (also a change made by another process)', async () => {
      const key = Buffer.alloc(32, 3);
      const cached = await postgres.open({ onPostgresQuery: (text) => statements.push(text), secretsKey: key, cacheReads: true });
      const other = await postgres.open({ secretsKey: key });
      try {
        // set up by the other process before this one listens: the only change it hears is the one below
        const ext = await other.registry.ensureExtension({ name: 'ext-secrets', publisher: 'p' });
        const version = await other.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: 'sha256:secrets', manifest: {} });
        assert.equal(version.kind, 'created');
        const { install: it } = await other.registry.createInstall({ tenantId: 't-secrets', extensionId: ext.id, versionId: version.version.id, grants: [] });
        assert.deepEqual(await other.secrets.putSecrets(it.id, { api: 'one' }), { kind: 'ok' });
        await cached.changes.start({ recheckMs: 60_000 });
        const heard = (installId: string) =>
          new Promise<void>((resolve) => {
            const stop = cached.changes.subscribe((c) => {
              if (c.kind === 'install' && c.installId === installId) {
                stop();
                resolve();
              }
            });
          });
        let answer: unknown;
        assert.equal((await counted(async () => (answer = await cached.secrets.getSecret(it.id, 'api')))).length, 1);
        assert.deepEqual(answer, { kind: 'ok', value: 'one' });
        assert.equal((await counted(async () => (answer = await cached.secrets.getSecret(it.id, 'api')))).length, 0);
        assert.deepEqual(answer, { kind: 'ok', value: 'one' });
        const told = heard(it.id);
        assert.deepEqual(await other.secrets.putSecrets(it.id, { api: 'two' }), { kind: 'ok' });
        await told;
        assert.deepEqual(await cached.secrets.getSecret(it.id, 'api'), { kind: 'ok', value: 'two' });
        // a name that is not there is remembered as such, until a change
        assert.deepEqual(await cached.secrets.getSecret(it.id, 'nope'), { kind: 'missing' });
        assert.equal((await counted(() => cached.secrets.getSecret(it.id, 'nope'))).length, 0);
      } finally {
        await other.close();
        await cached.close();
      }
    });

    it('list-clients: one round trip (count and page in one statement)', async () => {
      const tenantData = createStoreTenantData(store.db, null);
      await tenantData.replaceClients(
        't-clients',
        Array.from({ length: 7 }, (_, i) => client(`c${i}`, `Client ${i}`)),
      );
      const scope = { tenantId: 't-clients', installId: null, user: null, log: () => {} };
      const page = async (n: number) => {
        const listed = await tenantData.listClients(scope, { page: n, pageSize: 5 });
        assert.ok(listed.ok);
        return { ids: listed.value.items.map((c) => c.clientId), total: listed.value.totalCount };
      };
      let second: unknown;
      const sent = await counted(async () => (second = await page(2)));
      assert.equal(sent.length, 1, sent.join('\n'));
      assert.deepEqual(second, { ids: ['c5', 'c6'], total: 7 });
      // past the end: no row carries the count, so it is asked for on its own
      assert.deepEqual(await page(3), { ids: [], total: 7 });
      assert.deepEqual(await tenantData.listClients({ ...scope, tenantId: 't-none' }, { page: 1, pageSize: 5 }), { ok: true, value: { items: [], totalCount: 0, page: 1, pageSize: 5 } });
    });
  });
});
