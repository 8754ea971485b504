/**
 * The better-sqlite3 connection behind a SQLite store's kysely: the hot write path runs prepared
 * statements on it synchronously (group-commit.ts) while holding kysely's one connection.
 */
import type { Kysely } from 'kysely';
import type { SqliteConnection } from './sqlite-driver.js';
import type { Database } from './database.js';

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

/**
 * Runs `work` synchronously on the store's connection while holding kysely's one connection, so no
 * kysely transaction is open on it meanwhile. `withoutSync`: its commits run with
 * `synchronous = NORMAL`, set back to FULL before anything else can run on the connection (all of
 * it is synchronous) — the store's FULL mode syncs those commits itself, or does not need to.
 */
export async function onSqliteConnection<T>(db: Kysely<Database>, withoutSync: boolean, work: (connection: SqliteConnection) => T): Promise<T> {
  const connection = sqliteConnectionOf(db);
  return db.connection().execute(async () => {
    if (!withoutSync) return work(connection);
    connection.pragma('synchronous = NORMAL');
    try {
      return work(connection);
    } finally {
      connection.pragma('synchronous = FULL');
    }
  });
}
