/**
 * The storage read cache (src/store/kv-read-cache.ts): its rules one by one against a feed the
 * test speaks for, then on PostgreSQL with two stores acting as two processes — the second hears
 * the first's writes through NOTIFY, trusts nothing while its LISTEN connection is down, and
 * compare-and-swap loses no increment with both caching.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { backends, TEST_DATABASE_URL } from './backends.js';
import { KvReadCache } from '../../src/store/kv-read-cache.js';
import type { Change, KvEntry, KvGetResult, KvPutResult, KvStore, Store } from '../../src/store/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (r: KvGetResult) => (r.kind === 'ok' ? `${new TextDecoder().decode(r.entry.value)}@${r.entry.revision}` : r.kind);
const entry = (value: string, revision: number): KvEntry => ({ namespace: 'ns', key: 'k', value: bytes(value), revision });
const put = (value: string, revision: number): KvPutResult => ({ kind: 'ok', entry: entry(value, revision) });

/** A feed the test speaks for, and a database of one key that counts its reads. */
function setup(options: { trusted?: () => boolean; maxBytes?: number } = {}) {
  let listener: (change: Change) => void = () => {};
  const cache = new KvReadCache({ subscribe: (l) => ((listener = l), () => {}) }, options.trusted, options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes });
  const db = { value: 'missing' as KvGetResult['kind'] | string, revision: 0, reads: 0 };
  const load = (): KvGetResult => {
    db.reads++;
    return db.value === 'missing' ? { kind: 'missing' } : { kind: 'ok', entry: entry(db.value, db.revision) };
  };
  const get = (key = 'k') => cache.get('i1', 'ns', key, load);
  return { cache, db, get, tell: (change: Change) => listener(change), load };
}

/** A promise with its resolver, to hold a load or a write open. */
function gate<T>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('storage read cache: the rules', () => {
  it('a read fills it; the next get asks nothing', async () => {
    const { db, get } = setup();
    db.value = 'a';
    db.revision = 1;
    assert.equal(text(await get()), 'a@1');
    assert.equal(text(await get()), 'a@1');
    assert.equal(db.reads, 1);
  });

  it("a put's answer is what the next get answers (a copy: the writer's buffer stays the writer's)", async () => {
    const { cache, db, get } = setup();
    const ticket = cache.begin('i1', 'ns', 'k', 'put');
    const written = put('b', 4);
    cache.settle(ticket, written);
    (written as { entry: KvEntry }).entry.value[0] = 'z'.charCodeAt(0);
    assert.equal(text(await get()), 'b@4');
    assert.equal(db.reads, 0);
  });

  it('a delete is remembered as absence; a denial changes nothing; a conflict forgets the key (its revision may be what misled the writer)', async () => {
    const { cache, db, get } = setup();
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), put('a', 1));
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), { kind: 'denied', reason: 'quota' });
    assert.equal(text(await get()), 'a@1');
    cache.settle(cache.begin('i1', 'ns', 'k', 'delete'), { kind: 'ok' });
    assert.equal(text(await get()), 'missing');
    assert.equal(db.reads, 0);
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), put('b', 1));
    db.value = 'theirs';
    db.revision = 5;
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), { kind: 'conflict' });
    assert.equal(text(await get()), 'theirs@5');
    assert.equal(db.reads, 1);
  });

  it('overlapping puts answered out of order: the higher revision stays', async () => {
    const { cache, get } = setup();
    const first = cache.begin('i1', 'ns', 'k', 'put');
    const second = cache.begin('i1', 'ns', 'k', 'put');
    cache.settle(second, put('second', 3));
    cache.settle(first, put('first', 2));
    assert.equal(text(await get()), 'second@3');
  });

  it('a delete overlapping a put, or a write whose answer is unknown: forgotten, the next get asks', async () => {
    for (const order of ['delete first', 'put first'] as const) {
      const { cache, db, get } = setup();
      db.value = 'db';
      db.revision = 1;
      const p = cache.begin('i1', 'ns', 'k', 'put');
      const d = cache.begin('i1', 'ns', 'k', 'delete');
      if (order === 'delete first') {
        cache.settle(d, { kind: 'ok' });
        cache.settle(p, put('p', 1));
      } else {
        cache.settle(p, put('p', 2));
        cache.settle(d, { kind: 'ok' });
      }
      assert.equal(text(await get()), 'db@1', order);
      assert.equal(db.reads, 1, order);
    }
    const { cache, db, get } = setup();
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), put('a', 1));
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), undefined);
    await get();
    assert.equal(db.reads, 1);
  });

  it('a read that overlapped a write of the key does not fill', async () => {
    const { cache, db } = setup();
    db.value = 'old';
    db.revision = 1;
    const held = gate<void>();
    const read = cache.get('i1', 'ns', 'k', async () => {
      await held.promise;
      return { kind: 'ok', entry: entry('old', 1) };
    });
    const ticket = cache.begin('i1', 'ns', 'k', 'put');
    held.open();
    assert.equal(text(await read), 'old@1');
    // the write's answer is still out: the old value must not be what the cache holds
    const next = await cache.get('i1', 'ns', 'k', async () => ({ kind: 'ok', entry: entry('new', 2) }));
    assert.equal(text(next), 'new@2');
    cache.settle(ticket, put('new', 2));
    assert.equal(text(await cache.get('i1', 'ns', 'k', async () => assert.fail('answered from the put'))), 'new@2');
  });

  it('a read that a whole write of the key overlapped does not fill (the write answered first)', async () => {
    const { cache } = setup();
    const held = gate<void>();
    const read = cache.get('i1', 'ns', 'k', async () => {
      await held.promise;
      return { kind: 'ok', entry: entry('old', 1) };
    });
    cache.settle(cache.begin('i1', 'ns', 'k', 'put'), put('new', 2));
    held.open();
    assert.equal(text(await read), 'old@1');
    assert.equal(text(await cache.get('i1', 'ns', 'k', async () => assert.fail('answered from the put'))), 'new@2');
  });

  it("another process's change: forgets the install; a read or write overlapping it is not kept", async () => {
    const { cache, db, get, tell } = setup();
    db.value = 'a';
    db.revision = 1;
    await get();
    await get('other');
    tell({ kind: 'storage', installId: 'i2' });
    await get();
    assert.equal(db.reads, 2, 'a change of another install forgets nothing here');
    tell({ kind: 'storage', installId: 'i1' });
    await get();
    assert.equal(db.reads, 3);

    const ticket = cache.begin('i1', 'ns', 'k', 'put');
    tell({ kind: 'storage', installId: 'i1' });
    cache.settle(ticket, put('mine', 2));
    db.value = 'theirs';
    db.revision = 3;
    assert.equal(text(await get()), 'theirs@3', 'which write came last is not known: asked again');

    const held = gate<void>();
    const read = cache.get('i1', 'ns', 'fresh', async () => {
      await held.promise;
      return { kind: 'missing' };
    });
    tell({ kind: 'install', installId: 'i1' });
    held.open();
    await read;
    const reads = db.reads;
    await get('fresh');
    assert.equal(db.reads, reads + 1, 'a read overlapping a change did not fill');

    await get();
    tell({ kind: 'everything', reason: 'reconnected' });
    await get();
    assert.equal(db.reads, reads + 3);
  });

  it('not trusted (the feed cannot hear the others): every get asks, nothing is filled', async () => {
    let trusted = false;
    const { db, get } = setup({ trusted: () => trusted });
    await get();
    await get();
    assert.equal(db.reads, 2);
    trusted = true;
    await get();
    await get();
    assert.equal(db.reads, 3);
  });

  it('bounded by the bytes of its values: the least recently used go first', async () => {
    const { cache } = setup({ maxBytes: 10 });
    let reads = 0;
    const load = (key: string) => async (): Promise<KvGetResult> => {
      reads++;
      return { kind: 'ok', entry: { namespace: 'ns', key, value: bytes('12345'), revision: 1 } };
    };
    await cache.get('i1', 'ns', 'a', load('a'));
    await cache.get('i1', 'ns', 'b', load('b'));
    await cache.get('i1', 'ns', 'a', load('a'));
    await cache.get('i1', 'ns', 'c', load('c'));
    assert.equal(reads, 3);
    await cache.get('i1', 'ns', 'a', load('a'));
    assert.equal(reads, 3, 'a was used last: kept');
    await cache.get('i1', 'ns', 'b', load('b'));
    assert.equal(reads, 4, 'b was least recently used: gone');
  });
});

const postgres = backends('kvcache').find((b) => b.name === 'postgres')!;

describe('storage read cache on PostgreSQL: two processes', { skip: postgres.skip, timeout: 30_000 }, () => {
  let mine: Store;
  let theirs: Store;
  let statements: string[];
  const listenConnections = `select pid from pg_stat_activity where application_name like 'alga-runner feed ${process.pid} %'`;

  before(async () => {
    statements = [];
    mine = await postgres.open({ onPostgresQuery: (t) => statements.push(t), cacheReads: true });
    theirs = await postgres.open({ cacheReads: true });
    await mine.changes.start({ recheckMs: 60_000 });
    await theirs.changes.start({ recheckMs: 60_000 });
  });
  after(async () => {
    await theirs?.close();
    await mine?.close();
    await postgres.dispose();
  });

  const counted = async <T>(call: () => Promise<T>): Promise<{ value: T; sent: number }> => {
    statements.length = 0;
    const value = await call();
    return { value, sent: statements.length };
  };
  const heard = (store: Store, kind: Change['kind'], installId: string) =>
    new Promise<void>((resolve) => {
      const stop = store.changes.subscribe((c) => {
        if (c.kind === kind && 'installId' in c && c.installId === installId) {
          stop();
          resolve();
        }
      });
    });

  it('get: one round trip, then none; a put of this process is what the next get answers, without asking', async () => {
    const first = await counted(() => mine.kv.get('pg-a', 'ns', 'k'));
    assert.deepEqual([first.value.kind, first.sent], ['missing', 1]);
    assert.equal((await counted(() => mine.kv.get('pg-a', 'ns', 'k'))).sent, 0);
    assert.equal((await mine.kv.put('pg-a', { namespace: 'ns', key: 'k', value: bytes('one') })).kind, 'ok');
    const after = await counted(() => mine.kv.get('pg-a', 'ns', 'k'));
    assert.deepEqual([text(after.value), after.sent], ['one@1', 0]);
  });

  it("another process's write is heard at its commit and the next get answers it; the writer does not hear itself", async () => {
    const first = heard(theirs, 'storage', 'pg-b');
    await mine.kv.put('pg-b', { namespace: 'ns', key: 'k', value: bytes('mine') });
    await first;
    assert.equal(text(await mine.kv.get('pg-b', 'ns', 'k')), 'mine@1');
    const selfHeard: string[] = [];
    const stop = theirs.changes.subscribe((c) => void (c.kind === 'storage' && selfHeard.push(c.installId)));
    const told = heard(mine, 'storage', 'pg-b');
    assert.equal((await theirs.kv.put('pg-b', { namespace: 'ns', key: 'k', value: bytes('theirs') })).kind, 'ok');
    await told;
    assert.equal(text(await mine.kv.get('pg-b', 'ns', 'k')), 'theirs@2');
    // its own notification has reached theirs by now: a write of mine, heard there, comes after it on the channel
    const back = heard(theirs, 'storage', 'pg-b');
    await mine.kv.put('pg-b', { namespace: 'ns', key: 'k', value: bytes('mine again') });
    await back;
    stop();
    assert.deepEqual(selfHeard, ['pg-b'], 'theirs heard only mine');
  });

  it('the LISTEN connection down: every get asks the database until it is back (then everything counts as changed)', async () => {
    await mine.kv.put('pg-c', { namespace: 'ns', key: 'k', value: bytes('v') });
    assert.equal((await counted(() => mine.kv.get('pg-c', 'ns', 'k'))).sent, 0);
    const lost = new Promise<void>((resolve) => {
      const poll = () => (mine.changes.stats.listening ? setImmediate(poll) : resolve());
      poll();
    });
    const resynced = new Promise<void>((resolve) => {
      const stop = mine.changes.subscribe((c) => {
        if (c.kind === 'everything') {
          stop();
          resolve();
        }
      });
    });
    const admin = new pg.Client(TEST_DATABASE_URL);
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>(listenConnections);
      assert.ok(rows.length >= 1);
      await admin.query('select pg_terminate_backend(pid) from (' + listenConnections + ') as feeds');
    } finally {
      await admin.end();
    }
    await lost;
    const untrusted = await counted(() => mine.kv.get('pg-c', 'ns', 'k'));
    if (!mine.changes.stats.listening) assert.equal(untrusted.sent, 1, 'asked while not listening');
    await resynced;
    assert.equal(mine.changes.stats.listening, true);
    const refilled = await counted(() => mine.kv.get('pg-c', 'ns', 'k'));
    assert.equal(refilled.sent, 1, 'forgotten at the resync');
    assert.equal((await counted(() => mine.kv.get('pg-c', 'ns', 'k'))).sent, 0);
  });

  it('compare-and-swap increments racing from both processes, both caching: every increment lands', async () => {
    const increment = async (kv: KvStore) => {
      // a stale cache would conflict for ever: bounded
      for (let attempt = 0; attempt < 500; attempt++) {
        const current = await kv.get('pg-race', 'race', 'counter');
        const revision = current.kind === 'ok' ? current.entry.revision : 0;
        const value = current.kind === 'ok' ? Number(new TextDecoder().decode(current.entry.value)) : 0;
        const written = await kv.put('pg-race', { namespace: 'race', key: 'counter', value: bytes(String(value + 1)), revision });
        if (written.kind === 'ok') return;
        assert.equal(written.kind, 'conflict');
      }
      assert.fail('500 conflicts in a row: a get answered a stale revision');
    };
    const each = 15;
    await Promise.all([...Array.from({ length: each }, () => increment(mine.kv)), ...Array.from({ length: each }, () => increment(theirs.kv))]);
    // each has heard the other's increments once it hears a write the other made after them
    const told = [heard(mine, 'storage', 'pg-race'), heard(theirs, 'storage', 'pg-race')];
    await theirs.kv.put('pg-race', { namespace: 'race', key: 'final-theirs', value: bytes('x') });
    await mine.kv.put('pg-race', { namespace: 'race', key: 'final-mine', value: bytes('x') });
    await Promise.all(told);
    for (const store of [mine, theirs]) {
      const final = await store.kv.get('pg-race', 'race', 'counter');
      assert.equal(text(final), `${2 * each}@${2 * each}`);
    }
  });
});
