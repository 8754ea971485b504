/**
 * The fence between an uninstall and the install's writes (storage, log records, secrets).
 *
 * A write checks, inside its transaction, that the install is still there — and keeps it there
 * until the write commits: on PostgreSQL with a FOR KEY SHARE lock on the install's row, which
 * the uninstall's DELETE of that row waits for (the lock a foreign key would take); on SQLite the
 * store's one connection runs one transaction at a time. So a write either commits before the
 * uninstall (whose transaction then deletes its rows too) or finds the install gone and writes
 * nothing: after the uninstall has answered, no replica adds a row for it.
 */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { StoreDialect } from './dialect.js';
import type { SqliteConnection } from './sqlite-driver.js';
import { prepareQuery, sqliteCompiler } from './sqlite-prepared.js';

export interface InstallFence {
  /** Inside a write's transaction: is the install there (and held there until the transaction ends)? */
  present(trx: Kysely<Database>, installId: string): Promise<boolean>;
}

export function createInstallFence(dialect: StoreDialect): InstallFence {
  return {
    async present(trx, installId) {
      const query = trx.selectFrom('installs').select('id').where('id', '=', installId);
      const row = await (dialect === 'postgres' ? query.forKeyShare() : query).executeTakeFirst();
      return row !== undefined;
    },
  };
}

/**
 * The same check on SQLite for the writes that run as synchronous prepared statements inside a
 * transaction on the store's connection (kv-sqlite.ts, logs.ts): the connection runs one
 * transaction at a time, which keeps the install there until the commit.
 */
export function sqliteInstallPresence(connection: SqliteConnection): (installId: string) => boolean {
  const install = prepareQuery(connection, sqliteCompiler(), (d, id: string) => d.selectFrom('installs').select('id').where('id', '=', id));
  return (installId) => install.first(installId) !== undefined;
}

/** The denial a guest's write gets once its install is gone. */
export const INSTALL_REMOVED = 'the install was removed';
