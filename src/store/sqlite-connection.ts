/**
 * The better-sqlite3 connection behind a SQLite store's kysely: the hot write path runs prepared
 * statements on it synchronously (group-commit.ts) while holding kysely's one connection.
 */
import type { Kysely } from 'kysely';
import type { SqliteConnection } from './sqlite-driver.js';

const connections = new WeakMap<Kysely<never>, SqliteConnection>();

/** Called by openStore for the kysely it made over `connection`. */
export function rememberSqliteConnection<DB>(db: Kysely<DB>, connection: SqliteConnection): void {
  connections.set(db as unknown as Kysely<never>, connection);
}

export function sqliteConnectionOf<DB>(db: Kysely<DB>): SqliteConnection {
  const connection = connections.get(db as unknown as Kysely<never>);
  if (!connection) throw new Error('bug: a SQLite kysely not opened by openStore (no connection remembered for it)');
  return connection;
}
