/**
 * The backend matrix every store test file runs over: SQLite in a temporary data dir, and
 * PostgreSQL (TEST_DATABASE_URL) in a fresh schema per test file, dropped afterwards. PostgreSQL
 * being unreachable fails the run when CI=true; locally the PostgreSQL leg is skipped with a
 * message saying why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';
import type { OpenStoreOptions, Store } from '../../src/store/index.js';

export { TEST_DATABASE_URL };

export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  /** why this leg does not run here (node:test `skip` option), or false */
  readonly skip: string | false;
  /** the options that open this backend's database (for child processes and reopening) */
  readonly options: OpenStoreOptions;
  open(extra?: Partial<OpenStoreOptions>): Promise<Store>;
  /** remove the data dir / drop the schema */
  dispose(): Promise<void>;
}

const skipReason = await postgresSkipReason();

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client(TEST_DATABASE_URL);
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** A fresh set of backends for one test file; `tag` makes the schema name readable. */
export function backends(tag: string): Backend[] {
  const dataDir = mkdtempSync(join(tmpdir(), `store-${tag}-`));
  const schema = `t_${tag.replace(/[^a-z0-9]/gi, '_')}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const sqliteOptions: OpenStoreOptions = { dataDir };
  const pgOptions: OpenStoreOptions = { dataDir, databaseUrl: TEST_DATABASE_URL, schema };
  return [
    {
      name: 'sqlite',
      skip: false,
      options: sqliteOptions,
      open: (extra = {}) => openStore({ ...sqliteOptions, ...extra }),
      dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
    },
    {
      name: 'postgres',
      skip: skipReason,
      options: pgOptions,
      open: (extra = {}) => openStore({ ...pgOptions, ...extra }),
      dispose: async () => {
        if (skipReason === false) await dropSchema(schema);
        rmSync(dataDir, { recursive: true, force: true });
      },
    },
  ];
}

/** A clock tests move by hand (expiry without sleeping). */
export function manualClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/**
 * Every row of every table in the store's database, as text: strings as they are, bytes both
 * as raw latin1 (so an unencrypted UTF-8 string shows up verbatim) and as hex.
 */
export async function dumpAllRows(store: Store): Promise<string> {
  const tables =
    store.dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(store.db);
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db);
    for (const row of rows.rows) {
      for (const v of Object.values(row)) {
        parts.push(Buffer.isBuffer(v) ? `${v.toString('latin1')} ${v.toString('hex')}` : String(v));
      }
    }
  }
  return parts.join('\n');
}
