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
import type { OpenStoreOptions, Store } from '../../src/store/index.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

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

async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const unreachable = await postgresReachable();
if (unreachable !== null && process.env.CI === 'true') {
  throw new Error(`PostgreSQL at ${TEST_DATABASE_URL} is unreachable and CI=true: ${unreachable}`);
}

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
      skip: unreachable === null ? false : `PostgreSQL at ${TEST_DATABASE_URL} unreachable (${unreachable}); set CI=true to make this fail`,
      options: pgOptions,
      open: (extra = {}) => openStore({ ...pgOptions, ...extra }),
      dispose: async () => {
        if (unreachable === null) await dropSchema(schema);
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
