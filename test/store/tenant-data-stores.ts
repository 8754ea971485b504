/**
 * Real stores for the tenant-data tests: a SQLite file in a fresh temp dir, and PostgreSQL in a
 * fresh schema at TEST_DATABASE_URL (dropped afterwards), both opened through `openStore` so the
 * migration is found and applied the way the service applies it.
 *
 * PostgreSQL unreachable: with CI=true that is a failure; locally the PostgreSQL leg is skipped
 * with a message saying why.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import type { ClientSummary } from '../../src/store/tenant-data-model.js';
import { TEST_DATABASE_URL, postgresSkipReason } from '../support/postgres.js';

export { TEST_DATABASE_URL };

/** A client record for the tests: a company, active, in USD, unless `extra` says otherwise. */
export function client(clientId: string, clientName: string, extra: Partial<ClientSummary> = {}): ClientSummary {
  return {
    clientId,
    clientName,
    clientType: 'company',
    isInactive: false,
    defaultCurrencyCode: 'USD',
    accountManagerId: undefined,
    accountManagerName: undefined,
    billingEmail: undefined,
    ...extra,
  };
}

export interface TestStore {
  readonly store: Store;
  dispose(): Promise<void>;
}

export interface StoreLeg {
  readonly name: 'sqlite' | 'postgres';
  /** A reason to skip this leg (PostgreSQL unreachable outside CI), or null. */
  readonly skip: string | null;
  open(): Promise<TestStore>;
}

async function openSqliteStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tenant-data-'));
  const store = await openStore({ dataDir: dir });
  return {
    store,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openPostgresStore(): Promise<TestStore> {
  const schema = `tenant_data_${process.pid}_${randomBytes(4).toString('hex')}`;
  const store = await openStore({ dataDir: tmpdir(), databaseUrl: TEST_DATABASE_URL, schema, poolSize: 4 });
  return {
    store,
    async dispose() {
      await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db);
      await store.close();
    },
  };
}

export async function storeLegs(): Promise<StoreLeg[]> {
  const pgSkip = (await postgresSkipReason()) || null;
  return [
    { name: 'sqlite', skip: null, open: openSqliteStore },
    { name: 'postgres', skip: pgSkip, open: openPostgresStore },
  ];
}
