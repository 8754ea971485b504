/**
 * The uninstall fence (src/store/install-fence.ts) and the change feed (src/store/change-feed.ts)
 * at the store: writes of a removed install write nothing; a write in progress when the uninstall
 * starts commits first and is deleted with it; changes are told to this process and (PostgreSQL)
 * to another store on the same schema.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { backends, TEST_DATABASE_URL } from './backends.js';
import { INSTALL_REMOVED, type Change, type Store } from '../../src/store/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const backend of backends('fence')) {
  describe(`install fence and change feed (${backend.name})`, { skip: backend.skip }, () => {
    let store: Store;
    let n = 0;
    const newInstall = async () => {
      const ext = await store.registry.ensureExtension({ name: `ext-${++n}`, publisher: 'p' });
      const version = await store.registry.addVersion({ extensionId: ext.id, version: '1.0.0', contentHash: `sha256:${n}`, manifest: {} });
      assert.equal(version.kind, 'created');
      const created = await store.registry.createInstall({ tenantId: `t-${n}`, extensionId: ext.id, versionId: version.version.id, grants: [] });
      return created.install;
    };
    const log = (install: string, message: string) => ({ level: 'info' as const, stream: 'log' as const, message, tenant: 't', extension: 'e', install, version: null, request_id: null });

    before(async () => {
      store = await backend.open({ fenceInstallWrites: true, secretsKey: Buffer.alloc(32, 1) });
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('writes of an install not in the registry store nothing', async () => {
      assert.deepEqual(await store.kv.put('no-such-install', { namespace: 'n', key: 'k', value: bytes('v') }), { kind: 'denied', reason: INSTALL_REMOVED });
      assert.deepEqual(await store.kv.delete('no-such-install', 'n', 'k'), { kind: 'denied', reason: INSTALL_REMOVED });
      await store.logs.append([log('no-such-install', 'dropped')]);
      assert.deepEqual(await store.logs.query({ installId: 'no-such-install' }), []);
      assert.deepEqual(await store.secrets.putSecrets('no-such-install', { a: 'b' }), { kind: 'missing' });
    });

    it('after an uninstall its writes are refused, and nothing of it is left', async () => {
      const install = await newInstall();
      assert.equal((await store.kv.put(install.id, { namespace: 'n', key: 'k', value: bytes('v') })).kind, 'ok');
      await store.logs.append([log(install.id, 'kept until the uninstall')]);
      assert.deepEqual(await store.secrets.putSecrets(install.id, { a: 'b' }), { kind: 'ok' });
      await store.idempotency.claim({ tenant: install.tenantId, extension: install.extensionId, key: 'k' });
      assert.equal(await store.registry.deleteInstall(install.id), true);

      assert.deepEqual(await store.kv.put(install.id, { namespace: 'n', key: 'k2', value: bytes('v') }), { kind: 'denied', reason: INSTALL_REMOVED });
      await store.logs.append([log(install.id, 'after the uninstall')]);
      assert.deepEqual(await store.secrets.putSecrets(install.id, { a: 'b' }), { kind: 'missing' });
      for (const table of ['install_secrets', 'kv_entries', 'kv_namespaces', 'kv_usage', 'log_records', 'log_usage'] as const) {
        const rows = await store.db.selectFrom(table).select('install_id').where('install_id', '=', install.id).execute();
        assert.deepEqual(rows, [], `rows left in ${table}`);
      }
      const claims = await store.db.selectFrom('idempotency').select('key').where('tenant_id', '=', install.tenantId).where('extension_id', '=', install.extensionId).execute();
      assert.deepEqual(claims, []);
    });

    it('writes racing an uninstall (SQLite: in shared batches) each commit before it and go with it, or are refused', async () => {
      const install = await newInstall();
      const put = (i: number) => store.kv.put(install.id, { namespace: 'n', key: `k${i}`, value: bytes(`v${i}`) });
      const before = Array.from({ length: 10 }, (_, i) => put(i));
      // let the first writes start their batch, then uninstall while more writes queue behind it
      await new Promise((resolve) => setImmediate(resolve));
      const removed = store.registry.deleteInstall(install.id);
      const behind = Array.from({ length: 10 }, (_, i) => put(10 + i));
      const results = await Promise.all([...before, ...behind]);
      assert.equal(await removed, true);
      for (const r of results) assert.ok(r.kind === 'ok' || (r.kind === 'denied' && r.reason === INSTALL_REMOVED), JSON.stringify(r));
      // SQLite: the uninstall queues behind the running batch, and the writes after it behind the uninstall
      if (backend.name === 'sqlite') {
        assert.ok(
          results.slice(0, 10).every((r) => r.kind === 'ok'),
          'the batch running when the uninstall came commits first',
        );
        assert.ok(
          results.slice(10).every((r) => r.kind === 'denied'),
          'writes queued after the uninstall find the install gone',
        );
      }
      for (const table of ['kv_entries', 'kv_namespaces', 'kv_usage'] as const) {
        const rows = await store.db.selectFrom(table).select('install_id').where('install_id', '=', install.id).execute();
        assert.deepEqual(rows, [], `rows left in ${table}`);
      }
    });

    it('changes are told to this process after their commit: install changes, secrets, log appends, the uninstall', async () => {
      const install = await newInstall();
      const told: Change[] = [];
      const unsubscribe = store.changes.subscribe((c) => told.push(c));
      try {
        await store.registry.updateInstall(install.id, { grants: ['cap:log.emit'] });
        await store.secrets.putSecrets(install.id, { a: 'b' });
        await store.logs.append([log(install.id, 'x')]);
        await store.registry.deleteInstall(install.id);
        assert.deepEqual(told, [
          { kind: 'install', installId: install.id },
          { kind: 'install', installId: install.id },
          { kind: 'logs', installId: install.id },
          { kind: 'install', installId: install.id },
        ]);
      } finally {
        unsubscribe();
      }
    });

    if (backend.name === 'postgres') {
      it('a write in progress when the uninstall starts commits first and is deleted with it', async () => {
        const install = await newInstall();
        // hold the install's storage write lock from outside, so a put stops after the fence, holding it
        const blocker = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await blocker.connect();
        try {
          await blocker.query('begin');
          await blocker.query('select pg_advisory_xact_lock($1, hashtext($2))', [0x6b76, install.id]);
          const put = store.kv.put(install.id, { namespace: 'n', key: 'k', value: bytes('in flight') });
          const waiting = async (lock: 'advisory' | 'transactionid', query = '%') =>
            until(`a session waiting for a lock (${lock})`, async () => {
              const { rows } = await blocker.query<{ n: string }>("select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and wait_event = $1 and query like $2", [lock, query]);
              return Number(rows[0]!.n) > 0 ? true : undefined;
            });
          await waiting('advisory');
          const removed = store.registry.deleteInstall(install.id);
          // the uninstall's DELETE of the install row waits for the put's FOR KEY SHARE lock
          await waiting('transactionid');
          await blocker.query('commit');
          assert.equal((await put).kind, 'ok', 'the write that held the fence first is acknowledged');
          assert.equal(await removed, true);
          const rows = await store.db.selectFrom('kv_entries').select('key').where('install_id', '=', install.id).execute();
          assert.deepEqual(rows, [], 'and deleted with the install');
        } finally {
          await blocker.end();
        }
      });

      it('another store on the schema hears changes by NOTIFY; a gap in the generations means everything changed', async () => {
        const other = await backend.open();
        const told: Change[] = [];
        other.changes.subscribe((c) => told.push(c));
        await other.changes.start({ recheckMs: 600_000 });
        try {
          const install = await newInstall();
          await until('the creation heard', () => (told.some((c) => c.kind === 'install' && c.installId === install.id) ? true : undefined));
          await store.logs.append([log(install.id, 'x')]);
          await until('the append heard', () => (told.some((c) => c.kind === 'logs' && c.installId === install.id) ? true : undefined));
          // a generation no notification announced (a change whose notification was lost)
          await store.db
            .updateTable('change_feed')
            .set((eb) => ({ generation: eb('generation', '+', 1) }))
            .execute();
          told.length = 0;
          await store.registry.updateInstall(install.id, { enabled: false });
          await until('the next notification seen as a gap', () => (told.some((c) => c.kind === 'everything' && c.reason === 'missed') ? true : undefined));
        } finally {
          await other.close();
        }
      });
    }
  });
}
