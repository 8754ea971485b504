/**
 * A read-only connection to the embedded SQLite store, for a guest worker (capabilities' worker
 * sides, through read-only-store.ts). Workers answer reads synchronously while the guest waits, so they cannot
 * use kysely's asynchronous executor; they build the same kysely queries as the store modules,
 * compile them here, and run the SQL on their own better-sqlite3 connection.
 *
 * Why this is sound: the store runs in WAL mode, where readers on other connections see every
 * committed transaction and never block the writer. The main thread acknowledges a write only
 * after its commit, so a guest's read after its own `put` returned sees it.
 */
import type { Compilable, Kysely } from 'kysely';
import type { Database } from './database.js';
import { Sqlite, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';
import { prepareQuery, sqliteCompiler, type PreparedQuery } from './sqlite-prepared.js';

/** What another thread needs to open the store read-only (Store.readOnlyFile; contract/worker-side.ts WorkerStoreSpec). */
export interface ReadOnlyStoreFile {
  /** the SQLite file */
  readonly sqliteFile: string;
  /** RUNNER_SECRETS_KEY, to open secrets (null: none configured) */
  readonly secretsKey: Uint8Array | null;
}

/** Statements kept per connection (a worker runs a handful of distinct queries). */
const STATEMENT_CACHE_SIZE = 64;

const openReaders = new Map<string, SqliteReader>();

/** See SqliteReader.prepare. */
export type PreparedRead<Args extends readonly unknown[], Row> = Pick<PreparedQuery<Args, Row>, 'first' | 'all'>;

export class SqliteReader {
  /** Builds and compiles queries; it has no connection of its own (DummyDriver). */
  readonly db = sqliteCompiler();
  private readonly statements = new Map<string, SqliteStatement>();

  private constructor(
    private readonly file: string,
    private readonly connection: SqliteConnection,
  ) {}

  /**
   * This thread's reader of `file`, opened read-only on first use; it must exist (the main thread
   * created and migrated it). A guest worker opens it once, for all its worker sides (read-only-store.ts).
   */
  static open(file: string): SqliteReader {
    let reader = openReaders.get(file);
    if (!reader) {
      reader = SqliteReader.openOwn(file);
      openReaders.set(file, reader);
    }
    return reader;
  }

  /** A reader of `file` of the caller's own, not shared with the thread (the store's main-thread reads; it closes it with the store). */
  static openOwn(file: string): SqliteReader {
    const connection = new Sqlite(file, { readonly: true, fileMustExist: true });
    // a checkpoint can hold the WAL index briefly; wait for it rather than fail the read
    connection.pragma('busy_timeout = 5000');
    return new SqliteReader(file, connection);
  }

  /** A read compiled once and run with each call's arguments (sqlite-prepared.ts prepareQuery). */
  prepare<Args extends readonly unknown[], Row>(build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>, arity?: number): PreparedRead<Args, Row> {
    return prepareQuery(this.connection, this.db, build, arity);
  }

  all<Row>(query: Compilable<Row>): Row[] {
    const compiled = query.compile();
    return this.statement(compiled.sql).all(...compiled.parameters) as Row[];
  }

  first<Row>(query: Compilable<Row>): Row | undefined {
    const compiled = query.compile();
    return this.statement(compiled.sql).get(...compiled.parameters) as Row | undefined;
  }

  /** Runs `read` in one read transaction: every query in it sees the same committed state. */
  snapshot<T>(read: () => T): T {
    return this.connection.transaction(read)();
  }

  close(): void {
    if (openReaders.get(this.file) === this) openReaders.delete(this.file);
    this.connection.close();
  }

  private statement(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value!);
      statement = this.connection.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
