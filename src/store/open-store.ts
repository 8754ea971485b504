/**
 * Opening the runner's store: SQLite under the data dir (the embedded default) or PostgreSQL
 * when a `postgres://` URL is given — one API over both. Opening runs pending migrations.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { createBlobStore, type BlobStore } from './blobs.js';
import type { StoreDialect } from './dialect.js';
import type { IdempotencyStore } from './idempotency.js';
import { createIdempotencyStore } from './idempotency.js';
import type { KvStore } from './kv.js';
import { createKvStore } from './kv.js';
import { KvReadCache } from './kv-read-cache.js';
import type { LogStore, LogStoreOptions } from './logs.js';
import { createLogStore } from './logs.js';
import { migrateToLatest } from './migrate.js';
import { Sqlite, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';
import type { RegistryStore } from './registry.js';
import { createRegistryStore } from './registry.js';
import type { SecretsStore } from './secrets.js';
import { assertSecretsKeyPresent, createSecretsStore } from './secrets.js';
import { SecretsKeyError, parseSecretsKey } from './secrets-key.js';
import type { ReadOnlyStoreFile } from './sqlite-reader.js';
import type { SqliteSynchronous } from './sqlite-synchronous.js';
import { createChangeFeed, type ChangeFeed, type ChangePublisher } from './change-feed.js';
import { createInstallFence } from './install-fence.js';
import { createFileSync } from './file-sync.js';
import { rememberSqliteConnection } from './sqlite-connection.js';
import { rememberPostgresStatements } from './postgres-statements.js';
import { SqliteReader } from './sqlite-reader.js';
import { startWalCheckpointer, type WalCheckpointerOptions } from './wal-checkpointer.js';

export interface OpenStoreOptions {
  /** `postgres://` or `postgresql://` → PostgreSQL; absent → SQLite file `<dataDir>/runner.db` */
  readonly databaseUrl?: string;
  readonly dataDir: string;
  /** RUNNER_SECRETS_KEY: 32 bytes, or their base64 / 64 hex characters */
  readonly secretsKey?: Buffer | string;
  /** PostgreSQL only: schema to use (created if missing) instead of the connection's default */
  readonly schema?: string;
  /** SQLite only: when a commit reaches the disk (default 'full'; see SqliteSynchronous) */
  readonly sqliteSynchronous?: SqliteSynchronous;
  /** PostgreSQL only: pool size (default 10) */
  readonly poolSize?: number;
  /**
   * PostgreSQL only: a pooled connection broke (the server restarted or went away), whether it was
   * idle or in use. Reported once per connection; the pool drops it and opens new ones as needed,
   * and the queries that were using it fail (isStoreUnavailableError tells them apart).
   */
  readonly onPoolError?: (error: Error) => void;
  /**
   * secrets.get and storage's get keep what they read (and storage what this process wrote) until
   * the change feed says it changed (secrets.ts, kv-read-cache.ts). Only for a store whose feed is
   * started (the service's), so it hears every process (PostgreSQL) — on SQLite, the one process
   * writing the file.
   */
  readonly cacheReads?: boolean;
  /** after each group commit of storage writes (kv.ts): how many writes it carried (tests and benchmarks see the batching) */
  readonly onGroupCommit?: (writes: number) => void;
  /** PostgreSQL only: told of every statement a pooled connection sends, i.e. every round trip (tests count them) */
  readonly onPostgresQuery?: (text: string) => void;
  /** clock for expiries and timestamps (tests pass a controllable one) */
  readonly now?: () => number;
  /** who this store's idempotency claims belong to (default: a new id for this process; tests pass two to act as two processes) */
  readonly idempotencyHolder?: string;
  readonly logs?: LogStoreOptions;
  /**
   * Writes keyed by an install (storage, log records, secrets) only for installs in the registry,
   * fenced against an uninstall (install-fence.ts). The service's store; off for stores that serve
   * installs the registry does not hold.
   */
  readonly fenceInstallWrites?: boolean;
  /** SQLite only: when the WAL is checkpointed, off the event loop (wal-checkpointer.ts) */
  readonly walCheckpoints?: WalCheckpointerOptions;
}

export interface Store {
  readonly dialect: StoreDialect;
  /** For store modules added beside these (e.g. tenant data); application code uses the APIs below. */
  readonly db: Kysely<Database>;
  readonly registry: RegistryStore;
  readonly secrets: SecretsStore;
  readonly kv: KvStore;
  readonly logs: LogStore;
  readonly idempotency: IdempotencyStore;
  /** uploaded components and bundles by content hash (the `postgres` component store) */
  readonly blobs: BlobStore;
  /** Which installs changed, in this process and (PostgreSQL, once started) in the others (change-feed.ts); store modules beside these publish through it. */
  readonly changes: ChangeFeed & ChangePublisher;
  /**
   * What a guest worker needs to answer reads itself (the capabilities' worker sides,
   * sqlite-reader.ts). null for PostgreSQL, whose client is asynchronous, and when the store was
   * opened with its own clock (`now`): secrets expire by the clock, and a function cannot cross
   * to a worker.
   */
  readonly readOnlyFile: ReadOnlyStoreFile | null;
  /**
   * SQLite: the main thread's read-only connection, whose reads are synchronous (prepared
   * statements: sqlite-prepared.ts) — for store modules beside these (tenant data); closed with
   * the store. null for PostgreSQL.
   */
  readonly reader: SqliteReader | null;
  /** migrations this open applied (empty when the schema was current) */
  readonly appliedMigrations: readonly string[];
  /** readiness: can the database answer a query now (within PING_TIMEOUT_MS)? */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'runner.db';
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const PG_INT8_OID = 20;
/**
 * PostgreSQL only: how long taking a connection from the pool may wait (for a free one, or for a
 * new one to open) before the query fails as unavailable — so a server that stops answering
 * turns requests into 503s instead of holding them until the OS gives up on the socket.
 */
export const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;
/** longest a readiness ping waits for the database's answer */
export const PING_TIMEOUT_MS = 2_000;

export class StoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConfigError';
  }
}

function openSqlite(file: string, synchronous: SqliteSynchronous): Kysely<Database> {
  const database = new Sqlite(file);
  // first: switching to WAL needs the file to itself for a moment, and another process may be opening it too
  database.pragma('busy_timeout = 5000');
  database.pragma('journal_mode = WAL');
  database.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  database.pragma('foreign_keys = ON');
  // checkpoints run on a thread of their own (wal-checkpointer.ts), not inside a commit on this one
  database.pragma('wal_autocheckpoint = 0');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  rememberSqliteConnection(db, database);
  return db;
}

const STATEMENT_CACHE_SIZE = 256;

/**
 * kysely's SQLite driver prepares every query anew; a capability call then spends as long
 * compiling SQL as running it. Statements are reusable (kysely runs one query at a time on its
 * single connection), so the most recently used are kept.
 */
function withStatementCache(database: SqliteConnection): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) cache.delete(sql);
      else {
        statement = database.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

function openPostgres(url: string, options: OpenStoreOptions): Kysely<Database> {
  const statementNames = new Map<string, string>();
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    // a server gone without closing the socket (host down, network cut) is noticed on idle connections too
    keepAlive: true,
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
    types: {
      // Our bigint columns hold epoch milliseconds, counters and ids, all far below 2^53.
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === PG_INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
    },
  });
  // pg's Pool listens for errors only on its idle clients; a client kysely holds (mid-query or
  // mid-transaction) that loses its server emits 'error' with nobody listening, which would end the
  // process. Every client gets its own listener for its whole life instead; the pool's own event is
  // then a duplicate of it.
  pool.on('connect', (client) => {
    const observe = options.onPostgresQuery;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : String((first as { text?: unknown } | null)?.text ?? '');
      observe?.(text);
      // a hot statement of the store (postgres-statements.ts): prepared once on this connection
      const name = typeof first === 'string' ? statementNames.get(first) : undefined;
      if (name !== undefined && (args.length === 2 || args.length === 1)) return query({ name, text: first, values: args[1] });
      return query(...args);
    };
    // a client may report twice (the server's FATAL message, then the socket closing): once is news
    let reported = false;
    client.on('error', (error) => {
      if (reported) return;
      reported = true;
      options.onPoolError?.(error);
    });
  });
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  rememberPostgresStatements(db, statementNames);
  return db;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  let key: Buffer | null = null;
  if (options.secretsKey !== undefined && options.secretsKey !== '') {
    const parsed = parseSecretsKey(options.secretsKey);
    if (parsed.kind === 'invalid') throw new SecretsKeyError(parsed.reason);
    key = parsed.key;
  }

  let dialect: StoreDialect;
  let db: Kysely<Database>;
  let sqliteFile: string | null = null;
  if (options.databaseUrl === undefined || options.databaseUrl === '') {
    dialect = 'sqlite';
    mkdirSync(options.dataDir, { recursive: true });
    sqliteFile = join(options.dataDir, SQLITE_FILE_NAME);
    db = openSqlite(sqliteFile, options.sqliteSynchronous ?? 'full');
  } else if (/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
      throw new StoreConfigError(`schema name ${JSON.stringify(options.schema)} is not a plain SQL identifier`);
    }
    dialect = 'postgres';
    db = openPostgres(options.databaseUrl, options);
  } else {
    throw new StoreConfigError('database URL must start with postgres:// or postgresql:// (leave it unset for the embedded SQLite store)');
  }

  try {
    let schema = options.schema;
    if (dialect === 'postgres' && schema === undefined) {
      const row = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
      schema = row.rows[0]?.schema ?? undefined;
      if (schema === undefined) throw new StoreConfigError('the PostgreSQL connection has no current schema (check search_path)');
    }
    const appliedMigrations = await migrateToLatest(db as Kysely<unknown>, dialect === 'postgres' ? { schema } : {});
    const changes = createChangeFeed({ dialect, db, ...(dialect === 'postgres' ? { postgres: { url: options.databaseUrl!, schema: schema! } } : {}) });
    const fence = options.fenceInstallWrites ? createInstallFence(dialect) : null;
    // SQLite: the main thread's hot reads run on a read-only connection of their own, synchronously (sqlite-prepared.ts)
    const reader = sqliteFile !== null ? SqliteReader.openOwn(sqliteFile) : null;
    const walSync = sqliteFile !== null && (options.sqliteSynchronous ?? 'full') === 'full' ? createFileSync(`${sqliteFile}-wal`) : null;
    const secrets = createSecretsStore(db, key, now, { fence, changes, cacheReads: options.cacheReads ? changes : null });
    await assertSecretsKeyPresent(secrets);
    const checkpointer = sqliteFile !== null ? startWalCheckpointer(sqliteFile, options.walCheckpoints) : null;
    return {
      dialect,
      db,
      registry: createRegistryStore(db, now, changes),
      secrets,
      // FULL: storage writes commit without fsync on the main thread and are acknowledged after an fsync of the WAL on the thread pool (group-commit.ts)
      kv: createKvStore(db, dialect, now, {
        fence,
        groupCommit: {
          ...(walSync && { syncAfterCommit: () => walSync.sync() }),
          ...(options.onGroupCommit && { onCommit: options.onGroupCommit }),
        },
        reader,
        // PostgreSQL: trusted only while the feed's LISTEN connection hears the other processes
        readCache: options.cacheReads ? new KvReadCache(changes, dialect === 'postgres' ? () => changes.stats.listening : undefined) : null,
        notice: changes.notice,
      }),
      logs: createLogStore(db, now, options.logs, options.sqliteSynchronous, { fence, changes }),
      changes,
      idempotency: createIdempotencyStore(db, now, options.idempotencyHolder),
      blobs: createBlobStore(db, now),
      readOnlyFile: sqliteFile !== null && options.now === undefined ? { sqliteFile, secretsKey: key } : null,
      reader,
      appliedMigrations,
      async ping() {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
        try {
          return await Promise.race([sql`select 1`.execute(db).then(() => true), timeout]);
        } catch {
          return false;
        } finally {
          clearTimeout(timer);
        }
      },
      async close() {
        await changes.close();
        reader?.close();
        await checkpointer?.close();
        await db.destroy();
        await walSync?.close();
      },
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}
