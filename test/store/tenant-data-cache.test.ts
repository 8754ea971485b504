/**
 * The tenant-data read cache (src/store/tenant-data-cache.ts): answers kept per tenant until a
 * replace of that tenant is heard — on SQLite from this process, on PostgreSQL from any process
 * (two stores on one schema act as two processes) — and a read that overlapped a replace not kept.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { TenantDataReadCache } from '../../src/store/tenant-data-cache.js';
import { createStoreTenantData, type StoreTenantData } from '../../src/store/tenant-data.js';
import type { Change, Store } from '../../src/store/index.js';
import { client } from './tenant-data-stores.js';

const scope = (tenantId: string) => ({ tenantId, installId: null, user: null, log: () => {} });

async function names(data: StoreTenantData, tenantId: string): Promise<string[]> {
  const listed = await data.listClients(scope(tenantId), { page: 1, pageSize: 10 });
  assert.ok(listed.ok, JSON.stringify(listed));
  return listed.value.items.map((c) => c.clientName);
}

describe('tenant-data read cache: a read overlapping a replace', () => {
  it('is answered, not kept; an answer that failed is not kept either', async () => {
    let tell: (change: Change) => void = () => {};
    const cache = new TenantDataReadCache({ subscribe: (l) => ((tell = l), () => {}) });
    let loads = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const read = cache.read('t1', 'q', async () => {
      loads++;
      await held;
      return { ok: true as const, value: 'old' };
    });
    tell({ kind: 'tenant-data', tenantId: 't1' });
    release();
    assert.deepEqual(await read, { ok: true, value: 'old' });
    assert.deepEqual(await cache.read('t1', 'q', async () => (loads++, { ok: true as const, value: 'new' })), { ok: true, value: 'new' });
    assert.deepEqual(await cache.read('t1', 'q', async () => assert.fail('kept')), { ok: true, value: 'new' });
    assert.equal(loads, 2);
    const failed = { ok: false as const, error: 'internal' as const, message: 'down' };
    await cache.read('t1', 'broken', async () => failed);
    assert.deepEqual(await cache.read('t1', 'broken', async () => (loads++, { ok: true as const, value: 'back' })), { ok: true, value: 'back' });
    assert.equal(loads, 3);
  });
});

for (const backend of backends('tdcache')) {
  describe(`tenant-data read cache (${backend.name})`, { skip: backend.skip, timeout: 30_000 }, () => {
    let mine: Store;
    let theirs: Store;
    let statements: string[];
    let cached: StoreTenantData;
    let cache: TenantDataReadCache;
    /** the other process: publishes its replaces, keeps no cache (SQLite: the same file, as the CLI would) */
    let writer: StoreTenantData;

    before(async () => {
      statements = [];
      mine = await backend.open({ onPostgresQuery: (t) => statements.push(t) });
      theirs = await backend.open();
      await mine.changes.start({ recheckMs: 60_000 });
      cache = new TenantDataReadCache(mine.changes);
      cached = createStoreTenantData(mine.db, null, mine.reader, { changes: mine.changes, cache });
      writer = backend.name === 'postgres' ? createStoreTenantData(theirs.db, null, null, { changes: theirs.changes }) : cached;
      await cached.replaceClients('t-a', [client('a1', 'Acme')]);
      await cached.replaceClients('t-b', [client('b1', 'Beta')]);
    });
    after(async () => {
      await theirs?.close();
      await mine?.close();
      await backend.dispose();
    });

    const heard = (tenantId: string) =>
      new Promise<void>((resolve) => {
        const stop = mine.changes.subscribe((c) => {
          if (c.kind === 'tenant-data' && c.tenantId === tenantId) {
            stop();
            resolve();
          }
        });
      });

    it('a list is read once, then answered from the cache (PostgreSQL: no round trip)', async () => {
      assert.deepEqual(await names(cached, 't-a'), ['Acme']);
      const { hits } = cache.stats;
      statements.length = 0;
      assert.deepEqual(await names(cached, 't-a'), ['Acme']);
      assert.equal(cache.stats.hits, hits + 1);
      assert.equal(statements.length, 0);
    });

    it("a replace (here, or on PostgreSQL by another process) is heard: the tenant's next list reads it; another tenant's stays kept", async () => {
      assert.deepEqual(await names(cached, 't-b'), ['Beta']);
      const told = heard('t-a');
      await writer.replaceClients('t-a', [client('a2', 'Apex')]);
      await told;
      assert.deepEqual(await names(cached, 't-a'), ['Apex']);
      const { hits } = cache.stats;
      assert.deepEqual(await names(cached, 't-b'), ['Beta']);
      assert.equal(cache.stats.hits, hits + 1, 't-b was kept');
    });

    it("this process's own replace is told once, though on PostgreSQL its notification comes back over LISTEN", async () => {
      const told: string[] = [];
      const stop = mine.changes.subscribe((c) => void (c.kind === 'tenant-data' && told.push(c.tenantId)));
      await cached.replaceClients('t-own', [client('o1', 'Own')]);
      // a later change: once it is heard, the first one's notification has been delivered too (one channel, commit order)
      const marker = heard('t-marker');
      await writer.replaceClients('t-marker', [client('m1', 'Marker')]);
      await marker;
      stop();
      assert.deepEqual(told, ['t-own', 't-marker']);
    });

    it('a read by id is kept and forgotten the same way', async () => {
      const get = async () => {
        const found = await cached.getClient(scope('t-a'), 'a2');
        assert.ok(found.ok);
        return found.value?.clientName;
      };
      assert.equal(await get(), 'Apex');
      const { hits } = cache.stats;
      assert.equal(await get(), 'Apex');
      assert.equal(cache.stats.hits, hits + 1);
      const told = heard('t-a');
      await writer.replaceClients('t-a', [client('a2', 'Apex Renamed')]);
      await told;
      assert.equal(await get(), 'Apex Renamed');
    });
  });
}
