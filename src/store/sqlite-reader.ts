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
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Compilable } from 'kysely';
import type { Database } from './database.js';
import { Sqlite, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';

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
export interface PreparedRead<Args extends readonly unknown[], Row> {
  first(...args: Args): Row | undefined;
  all(...args: Args): Row[];
}

export class SqliteReader {
  /** Builds and compiles queries; it has no connection of its own (DummyDriver). */
  readonly db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
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
      const connection = new Sqlite(file, { readonly: true, fileMustExist: true });
      // a checkpoint can hold the WAL index briefly; wait for it rather than fail the guest's call
      connection.pragma('busy_timeout = 5000');
      reader = new SqliteReader(file, connection);
      openReaders.set(file, reader);
    }
    return reader;
  }

  /**
   * A read whose arguments each become one query parameter, unchanged, whatever their values (no
   * argument changes the query's shape): built and compiled once, then run with each call's
   * arguments. Building and compiling a kysely query costs a worker more than running it (20-25 µs
   * against ~10 µs in the engine, BENCHMARKS.md). `build` is called once, with placeholder strings.
   */
  prepare<Args extends readonly unknown[], Row>(build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>): PreparedRead<Args, Row> {
    const placeholders = Array.from({ length: build.length - 1 }, (_, i) => `\u0000prepared-read-argument-${i}\u0000`);
    const compiled = build(this.db, ...(placeholders as unknown as Args)).compile();
    // each parameter: the index of the argument it takes, or a constant of the query
    const sources: ({ arg: number } | { value: unknown })[] = compiled.parameters.map((p) => {
      const arg = typeof p === 'string' ? placeholders.indexOf(p) : -1;
      return arg >= 0 ? { arg } : { value: p };
    });
    placeholders.forEach((_, i) => {
      if (sources.filter((s) => 'arg' in s && s.arg === i).length !== 1) throw new Error(`bug: argument ${i} of a prepared read is not exactly one parameter of ${compiled.sql}`);
    });
    const statement = this.connection.prepare(compiled.sql);
    const parameters = (args: Args) => sources.map((s) => ('arg' in s ? args[s.arg] : s.value));
    return {
      first: (...args) => statement.get(...parameters(args)) as Row | undefined,
      all: (...args) => statement.all(...parameters(args)) as Row[],
    };
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
    openReaders.delete(this.file);
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
