import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Sqlite } from '../../src/store/sqlite-driver.js';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { backends } from './backends.js';
import { FolderMigrationProvider, MIGRATIONS_DIR, MigrationFailedError, StoreConfigError, migrateToLatest, openStore } from '../../src/store/index.js';
import { isCatalogRace } from '../../src/store/migrate.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./fixtures/open-store-child.js', import.meta.url));
const shipped = readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d{3}_[A-Za-z0-9_-]+\.js$/.test(f))
  .sort()
  .map((f) => f.slice(0, -3));

describe('migration discovery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds NNN_name.js files in name order and ignores maps, declarations and other files', async () => {
    const up = 'export async function up() {}\n';
    writeFileSync(join(dir, '010_later.js'), up);
    writeFileSync(join(dir, '002_first.js'), up);
    writeFileSync(join(dir, '002_first.js.map'), '{}');
    writeFileSync(join(dir, '003_x.d.ts'), '');
    writeFileSync(join(dir, 'README.md'), '');
    writeFileSync(join(dir, 'helper.js'), up);
    const found = await new FolderMigrationProvider(dir).getMigrations();
    assert.deepEqual(Object.keys(found), ['002_first', '010_later']);
  });

  it('the shipped folder holds the core migrations, in order', () => {
    for (const name of ['001_registry', '002_secrets', '003_kv', '004_logs', '005_idempotency']) assert.ok(shipped.includes(name), name);
    assert.deepEqual([...shipped].sort(), shipped);
  });

  it('a failing migration stops with an error naming it, and the batch leaves nothing half-applied', async () => {
    const failing = mkdtempSync(join(tmpdir(), 'migrations-fail-'));
    writeFileSync(join(failing, '001_ok.js'), "export async function up(db) { await db.schema.createTable('ok_table').addColumn('a', 'text').execute(); }\n");
    writeFileSync(join(failing, '002_broken.js'), "export async function up(db) { await db.schema.createTable('ok_table').addColumn('a', 'text').execute(); }\n");
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Sqlite(':memory:') }) });
    try {
      await assert.rejects(migrateToLatest(db, { folder: failing }), (e: unknown) => {
        assert.ok(e instanceof MigrationFailedError);
        assert.match(e.message, /002_broken/);
        return true;
      });
      const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
      assert.deepEqual(
        tables.map((t) => t.name),
        [],
      );
    } finally {
      await db.destroy();
      rmSync(failing, { recursive: true, force: true });
    }
  });

  it('refuses a database URL that is neither PostgreSQL nor empty, and a schema that is not an identifier', async () => {
    await assert.rejects(openStore({ dataDir: dir, databaseUrl: 'mysql://localhost/x' }), StoreConfigError);
    await assert.rejects(openStore({ dataDir: dir, databaseUrl: 'postgres://127.0.0.1/x', schema: 'a; drop table x' }), StoreConfigError);
  });
});

for (const backend of backends('migrate')) {
  describe(`migrations on open (${backend.name})`, { skip: backend.skip }, () => {
    after(() => backend.dispose());

    it('two runner processes opening the same fresh database at once apply each migration exactly once', async () => {
      const env = { ...process.env, STORE_OPTIONS: JSON.stringify(backend.options) };
      const [a, b] = await Promise.all([run(process.execPath, [CHILD], { env }), run(process.execPath, [CHILD], { env })]);
      const applied = [...(JSON.parse(a.stdout) as string[]), ...(JSON.parse(b.stdout) as string[])].sort();
      assert.deepEqual(applied, shipped);
    });

    it('reopening applies nothing and the store answers ping', async () => {
      const store = await backend.open();
      try {
        assert.deepEqual(store.appliedMigrations, []);
        assert.equal(await store.ping(), true);
        assert.equal(store.dialect, backend.name);
      } finally {
        await store.close();
      }
    });

    if (backend.name === 'sqlite') {
      it('keeps runner.db in the data dir in WAL mode with full synchronous commits', async () => {
        assert.ok(existsSync(join(backend.options.dataDir, 'runner.db')));
        const store = await backend.open();
        try {
          const synchronous = await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db);
          assert.equal(synchronous.rows[0]?.synchronous, 2, 'synchronous=FULL');
        } finally {
          await store.close();
        }
        const db = new Sqlite(join(backend.options.dataDir, 'runner.db'));
        try {
          assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        } finally {
          db.close();
        }
      });
    }

    it('ping answers false once the store is closed', async () => {
      const store = await backend.open();
      await store.close();
      assert.equal(await store.ping(), false);
    });
  });
}

it('a migration setup that failed because a schema or table elsewhere changed under its listing is tried again; our own schema gone, or any other error, is not', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(isCatalogRace(pgError('3F000', 'schema "t_other_1" does not exist'), 't_ours'), true);
  assert.equal(isCatalogRace(pgError('3F000', 'schema "t_ours" does not exist'), 't_ours'), false);
  assert.equal(isCatalogRace(pgError('42P01', 'relation "x" does not exist'), 't_ours'), true);
  assert.equal(isCatalogRace(pgError('42703', 'column "record_count" of relation "log_usage" does not exist'), 't_ours'), true);
  assert.equal(isCatalogRace(pgError('23505', 'duplicate key value violates unique constraint'), 't_ours'), false);
  assert.equal(isCatalogRace(new Error('schema "t_other_1" does not exist'), 't_ours'), false);
});
