/**
 * Extension log records (`cap:log.emit`), kept per install.
 *
 * Each install keeps at most `maxRecordsPerInstall` records; appending past that drops the
 * oldest. The install's `log_usage` row counts its records and is locked by every append (as in
 * kv.ts), so appends of one install are serialized and ids grow in commit order — a tailer that
 * asks for "records after id X" never misses one that committed late. On PostgreSQL the appends
 * of one event-loop turn share one call of a server-side function (migration 062): one round
 * trip, one commit, which (like SQLite's NORMAL appends) does not wait for the WAL flush.
 */
import { executeNamed } from './postgres-statements.js';
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import { createBatchQueue, type Outcome } from './batch-queue.js';
import { dialectOf } from './dialect.js';
import type { Database } from './database.js';
import type { SqliteSynchronous } from './sqlite-synchronous.js';
import { truncateUtf8 } from './truncate-utf8.js';
import type { SqliteConnection } from './sqlite-driver.js';
import { onSqliteConnection, sqliteConnectionOf } from './sqlite-connection.js';
import { prepareQuery, sqliteCompiler } from './sqlite-prepared.js';
import { sqliteInstallPresence, type InstallFence } from './install-fence.js';
import type { ChangePublisher } from './change-feed.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogStream = 'log' | 'stdout' | 'stderr';

/** What every log record says, wherever it is (engine, store, admin API). */
export interface LogFields {
  readonly level: LogLevel;
  readonly stream: LogStream;
  readonly message: string;
  readonly tenant: string;
  readonly extension: string;
  readonly install: string;
  readonly version: string | null;
  readonly request_id: string | null;
}

export interface LogAppend extends LogFields {
  /** epoch ms; defaults to now */
  readonly ts?: number;
  /** already truncated upstream (the store sets it too when it has to cut) */
  readonly truncated?: boolean;
}

export interface LogRecord extends LogFields {
  /** increasing per store; pass the last one seen to `after` to tail */
  readonly id: number;
  /** ISO 8601 */
  readonly ts: string;
  readonly truncated: boolean;
}

export interface LogQuery {
  readonly installId: string;
  readonly requestId?: string;
  /** only records with id > afterId, oldest first (live tailing) */
  readonly afterId?: number;
  /** default 100, at most 10 000 */
  readonly limit?: number;
}

export interface LogStoreOptions {
  readonly maxRecordsPerInstall?: number;
  /** longest message kept, in UTF-8 bytes (default 8 KiB; docs/limits.md) */
  readonly maxMessageBytes?: number;
}

export interface LogStore {
  /** Stores the records (with a fence: only those of installs still there; the others are dropped). */
  append(records: readonly LogAppend[]): Promise<void>;
  /**
   * Without `afterId`: the newest `limit` matching records, returned oldest first.
   * With `afterId`: the first `limit` matching records after it, oldest first.
   */
  query(query: LogQuery): Promise<LogRecord[]>;
  deleteInstall(installId: string): Promise<void>;
}

export const DEFAULT_MAX_LOG_RECORDS_PER_INSTALL = 10_000;
export const DEFAULT_MAX_LOG_MESSAGE_BYTES = 8 * 1024;
const MAX_QUERY_LIMIT = 10_000;

type LogRow = Selectable<Database['log_records']>;
type NewLogRow = Omit<Insertable<Database['log_records']>, 'id'> & { install_id: string; ts: number; version_id: string | null; request_id: string | null; truncated: number };

const withoutNul = (value: string | null): string | null => (value !== null && value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value);

const toRecord = (r: LogRow): LogRecord => ({
  id: Number(r.id),
  ts: new Date(Number(r.ts)).toISOString(),
  level: r.level as LogLevel,
  stream: r.stream as LogStream,
  message: r.message,
  tenant: r.tenant_id,
  extension: r.extension_id,
  install: r.install_id,
  version: r.version_id,
  request_id: r.request_id,
  truncated: r.truncated === 1,
});

/**
 * SQLite: one install's appends as synchronous prepared statements, inside the batch's transaction
 * (the caller holds the connection): the fence, the install's `log_usage` row bumped, the records
 * inserted, the oldest trimmed past the bound. false: the install is gone, nothing stored.
 */
function sqliteLogAppends(connection: SqliteConnection, fenced: boolean, maxRecords: number) {
  const db = sqliteCompiler();
  const present = sqliteInstallPresence(connection);
  const bump = prepareQuery(connection, db, (d, installId: string, count: number) =>
    d
      .insertInto('log_usage')
      .values({ install_id: installId, record_count: count })
      .onConflict((oc) => oc.column('install_id').doUpdateSet((eb) => ({ record_count: eb('log_usage.record_count', '+', eb.ref('excluded.record_count')) })))
      .returning('record_count'),
  );
  const insert = prepareQuery(
    connection,
    db,
    (d, installId: string, ts: number, level: string, stream: string, message: string, tenant: string, extension: string, version: string | null, requestId: string | null, truncated: number) =>
      d.insertInto('log_records').values({ install_id: installId, ts, level, stream, message, tenant_id: tenant, extension_id: extension, version_id: version, request_id: requestId, truncated }),
  );
  const trim = prepareQuery(connection, db, (d, installId: string, excess: number) =>
    d.deleteFrom('log_records').where('id', 'in', d.selectFrom('log_records').select('id').where('install_id', '=', installId).orderBy('id').limit(excess)),
  );
  const setCount = prepareQuery(connection, db, (d, installId: string, count: number) => d.updateTable('log_usage').set({ record_count: count }).where('install_id', '=', installId));
  return {
    append(installId: string, rows: readonly NewLogRow[]): boolean {
      if (fenced && !present(installId)) return false;
      const usage = bump.first(installId, rows.length) as { record_count: number | bigint };
      for (const r of rows) insert.run(installId, r.ts, r.level, r.stream, r.message, r.tenant_id, r.extension_id, r.version_id, r.request_id, r.truncated);
      const excess = Number(usage.record_count) - maxRecords;
      if (excess > 0) {
        trim.run(installId, excess);
        setCount.run(installId, maxRecords);
      }
      return true;
    },
  };
}

/**
 * `sqliteSynchronous`: how the store's SQLite connection commits (open-store.ts). Under `full` log
 * appends relax it for themselves; under `normal` every write already commits that way.
 * `fence`: records of an install no longer in the registry are dropped, so an uninstall leaves no
 * rows behind (install-fence.ts). `changes`: every append is told to the change feed (live tails;
 * on PostgreSQL the append's statement notifies the other processes itself).
 */
export function createLogStore(
  db: Kysely<Database>,
  now: () => number,
  options: LogStoreOptions = {},
  sqliteSynchronous: SqliteSynchronous = 'full',
  writes: { fence?: InstallFence | null; changes?: ChangePublisher | null } = {},
): LogStore {
  const fence = writes.fence ?? null;
  const maxRecords = options.maxRecordsPerInstall ?? DEFAULT_MAX_LOG_RECORDS_PER_INSTALL;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_LOG_MESSAGE_BYTES;

  const toRow = (r: LogAppend): NewLogRow => {
    const cut = truncateUtf8(r.message, maxMessageBytes);
    return {
      install_id: r.install,
      ts: r.ts ?? now(),
      level: r.level,
      stream: r.stream,
      message: cut.text,
      tenant_id: r.tenant,
      extension_id: r.extension,
      version_id: r.version,
      request_id: r.request_id,
      truncated: cut.truncated || r.truncated === true ? 1 : 0,
    };
  };

  /**
   * PostgreSQL: the appends of one event-loop turn are one call of log_append_batch (migration
   * 062) — one round trip and one commit for all of them; each append's promise settles after
   * that commit with the installs whose records were stored.
   */
  async function commitOnPostgres(batch: readonly NewLogRow[][]): Promise<Outcome<ReadonlySet<string>>[]> {
    const rows = batch.flat();
    const column = <T>(pick: (r: NewLogRow) => T): T[] => rows.map(pick);
    // PostgreSQL text cannot hold NUL, and one such value would fail the whole call (every append
    // of the batch): it is stored as U+FFFD instead
    const text = (pick: (r: NewLogRow) => string | null): (string | null)[] => rows.map((r) => withoutNul(pick(r)));
    // other processes' live tails hear of it at its commit (change-feed.ts)
    const notice = writes.changes?.notice;
    const told = notice ? sql`, (select count(pg_notify(${notice.channel}, 'l:' || id)) from unnest(${[...new Set(column((r) => r.install_id))]}::text[]) as id) as told` : sql``;
    const answer = await executeNamed(
      db,
      sql<{ w_install: string; w_stored: boolean; w_error: string | null }>`select appended.* from log_append_batch(
      ${column((r) => r.install_id)}::text[], ${column((r) => r.ts)}::bigint[], ${text((r) => r.level)}::text[], ${text((r) => r.stream)}::text[],
      ${text((r) => r.message)}::text[], ${text((r) => r.tenant_id)}::text[], ${text((r) => r.extension_id)}::text[], ${text((r) => r.version_id)}::text[],
      ${text((r) => r.request_id)}::text[], ${column((r) => r.truncated)}::integer[], ${maxRecords}::integer, ${fence !== null}::boolean) as appended${told}`,
    );
    const stored = new Set(answer.rows.filter((r) => r.w_stored).map((r) => r.w_install));
    const failed = new Map(answer.rows.filter((r) => r.w_error !== null).map((r) => [r.w_install, r.w_error!]));
    return batch.map((appended): Outcome<ReadonlySet<string>> => {
      const failure = appended.find((r) => failed.has(r.install_id));
      if (failure) return { ok: false, error: new Error(`storing log records of install ${failure.install_id} failed: ${failed.get(failure.install_id)}`) };
      return { ok: true, value: new Set(appended.map((r) => r.install_id).filter((id) => stored.has(id))) };
    });
  }
  const postgresAppends = dialectOf(db as Kysely<unknown>) === 'postgres' ? createBatchQueue(commitOnPostgres, { concurrency: 2 }) : null;

  /**
   * SQLite: the appends of one event-loop turn share one transaction (per install, as below), which
   * commits without waiting for an fsync (WAL + synchronous=NORMAL: the records survive a process
   * crash, and a power loss may drop the last few) while every other write keeps synchronous=FULL.
   * The switch happens on the one connection held for the batch, so no other write runs under the
   * relaxed setting.
   */
  async function commitOnSqlite(batch: readonly (readonly LogAppend[])[]): Promise<Outcome<ReadonlySet<string>>[]> {
    const byInstall = new Map<string, NewLogRow[]>();
    for (const r of batch.flat()) {
      const row = toRow(r);
      const list = byInstall.get(row.install_id);
      if (list) list.push(row);
      else byInstall.set(row.install_id, [row]);
    }
    const appends = sqliteStatements!;
    // kysely's one connection is held while the batch runs on it synchronously: no kysely transaction is open meanwhile
    // log records are not storage: their commits never wait for an fsync
    const stored = await onSqliteConnection(db, sqliteSynchronous === 'full', (connection) =>
      connection.transaction(() => {
        const done = new Set<string>();
        for (const [installId, rows] of byInstall) if (appends.append(installId, rows)) done.add(installId);
        return done;
      })(),
    );
    return batch.map((appended) => ({ ok: true, value: new Set(appended.map((r) => r.install).filter((id) => stored.has(id))) }));
  }
  const sqliteStatements = dialectOf(db as Kysely<unknown>) === 'sqlite' ? sqliteLogAppends(sqliteConnectionOf(db), fence !== null, maxRecords) : null;
  const sqliteAppends = dialectOf(db as Kysely<unknown>) === 'sqlite' ? createBatchQueue(commitOnSqlite) : null;

  /** Appends not yet committed: a query waits for them, so this process reads what it appended (the service answers before its records are stored). */
  const pending = new Set<Promise<unknown>>();
  const tracked = <T>(append: Promise<T>): Promise<T> => {
    pending.add(append);
    const done = () => pending.delete(append);
    append.then(done, done);
    return append;
  };

  return {
    async append(records) {
      if (records.length === 0) return;
      const stored = postgresAppends ? postgresAppends.run(records.map(toRow)) : sqliteAppends!.run(records);
      for (const installId of await tracked(stored)) writes.changes?.committed({ kind: 'logs', installId });
    },

    async query(q) {
      if (pending.size > 0) await Promise.allSettled([...pending]);
      const limit = Math.max(1, Math.min(q.limit ?? 100, MAX_QUERY_LIMIT));
      let query = db.selectFrom('log_records').selectAll().where('install_id', '=', q.installId);
      if (q.requestId !== undefined) query = query.where('request_id', '=', q.requestId);
      if (q.afterId !== undefined) {
        const rows = await query.where('id', '>', q.afterId).orderBy('id', 'asc').limit(limit).execute();
        return rows.map(toRecord);
      }
      const rows = await query.orderBy('id', 'desc').limit(limit).execute();
      return rows.reverse().map(toRecord);
    },

    async deleteInstall(installId) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('log_records').where('install_id', '=', installId).execute();
        await trx.deleteFrom('log_usage').where('install_id', '=', installId).execute();
      });
    },
  };
}
