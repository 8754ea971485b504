/**
 * Key/value storage per install (`cap:storage.kv`; quotas in kv-limits.ts, docs/limits.md).
 *
 * Every write runs in a transaction that first holds the install's write lock (SQLite: the one
 * connection; PostgreSQL: an advisory lock per install, migration 061), so writes of one install
 * are serialized: compare-and-swap, quota counters and the entry itself always agree, however
 * many connections race. The embedded SQLite store is
 * meant for one runner process (its connection serializes transactions; concurrent writes share
 * one transaction, group-commit.ts). A write is acknowledged only once it is durable: after the
 * WAL fsync that follows its commit (SQLite synchronous=FULL unless the operator chose NORMAL, see
 * open-store.ts) or the WAL flush that follows it (PostgreSQL) — by this module, or, for an
 * execution, by the execution before it answers (WriteDurability).
 */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { StoreDialect } from './dialect.js';
import type { KvLimits } from './kv-limits.js';
import type { SqliteReader } from './sqlite-reader.js';
import { DEFAULT_KV_LIMITS, invalidName } from './kv-limits.js';
import { INSTALL_REMOVED, type InstallFence } from './install-fence.js';
import { createGroupCommit, type Committed, type GroupCommitOptions } from './group-commit.js';
import { createSqliteKvWrites } from './kv-sqlite.js';
import { sqliteConnectionOf } from './sqlite-connection.js';
import { createPostgresKvWrites, type KvWriteAnswer, type StorageNotice } from './kv-postgres.js';
import type { KvReadCache } from './kv-read-cache.js';
import type { KvDeleteResult, KvDenied, KvEntry, KvGetResult, KvListResult, KvPut, KvPutResult, KvUsage } from './kv-model.js';

export type { KvDeleteResult, KvDenied, KvEntry, KvGetResult, KvListResult, KvPut, KvPutResult, KvUsage } from './kv-model.js';

export interface KvStore {
  get(installId: string, namespace: string, key: string, limits?: KvLimits): Promise<KvGetResult>;
  /** `durability`: see WriteDurability (without it, the write is on disk when this settles) */
  put(installId: string, entry: KvPut, limits?: KvLimits, durability?: WriteDurability): Promise<KvPutResult>;
  delete(installId: string, namespace: string, key: string, limits?: KvLimits, durability?: WriteDurability): Promise<KvDeleteResult>;
  /** Up to `limits.pageSize` entries with key > `cursor`, ordered by key (byte-wise); empty = end. */
  list(installId: string, namespace: string, cursor?: string, limits?: KvLimits): Promise<KvListResult>;
  usage(installId: string): Promise<KvUsage>;
  /** Remove all of an install's data (uninstall). */
  deleteInstall(installId: string): Promise<void>;
}

/**
 * How a caller that holds its own acknowledgement (an execution: its answer) takes a write: the
 * write settles at its commit — visible, and acknowledged to the caller — and `durable` settles
 * when it is on disk, which the caller waits for before anything leaves it (SQLite FULL: the WAL
 * fsync after the commit; PostgreSQL: the WAL flush after it, kv-postgres.ts). SQLite NORMAL hands
 * over a `durable` that is already settled: its commit is all it does.
 */
export type WriteDurability = (durable: Promise<void>) => void;

/** What the storage capability uses of a store: the runner's own (KvStore) or Alga's API (capabilities/storage-api.ts). */
export type KvAccess = Pick<KvStore, 'get' | 'put' | 'delete' | 'list'>;

const toEntry = (row: { namespace: string; key: string; value: Buffer; revision: number }): KvEntry => ({
  namespace: row.namespace,
  key: row.key,
  value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength),
  revision: Number(row.revision),
});

// The reads, as queries: the store runs them here, a guest worker compiles the same ones for its
// own read-only connection (createKvReader, sqlite-reader.ts).

function entryQuery(db: Kysely<Database>, installId: string, namespace: string, key: string) {
  return db.selectFrom('kv_entries').select(['namespace', 'key', 'value', 'revision']).where('install_id', '=', installId).where('namespace', '=', namespace).where('key', '=', key);
}

function pageQuery(db: Kysely<Database>, installId: string, namespace: string, cursor: string | undefined, limits: KvLimits) {
  let query = db.selectFrom('kv_entries').select(['namespace', 'key', 'value', 'revision']).where('install_id', '=', installId).where('namespace', '=', namespace);
  if (cursor !== undefined) query = query.where('key', '>', cursor);
  return query.orderBy('key').limit(limits.pageSize);
}

const foundEntry = (row: Parameters<typeof toEntry>[0] | undefined): KvGetResult => (row ? { kind: 'ok', entry: toEntry(row) } : { kind: 'missing' });

/** `get` and `list` of KvStore, synchronous, over a worker's read-only SQLite connection. */
export interface KvReader {
  get(installId: string, namespace: string, key: string, limits: KvLimits): KvGetResult;
  list(installId: string, namespace: string, cursor: string | undefined, limits: KvLimits): KvListResult;
}

export function createKvReader(reader: SqliteReader): KvReader {
  const entry = reader.prepare(entryQuery);
  return {
    get(installId, namespace, key, limits) {
      const invalid = invalidName(namespace, key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return foundEntry(entry.first(installId, namespace, key));
    },
    list(installId, namespace, cursor, limits) {
      const invalid = invalidName(namespace, undefined, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return { kind: 'ok', entries: reader.all(pageQuery(reader.db, installId, namespace, cursor, limits)).map(toEntry) };
    },
  };
}

/**
 * PostgreSQL: batches committing at once. More than one lets a batch's round trip and WAL flush
 * overlap the next one's (the server groups the flushes); the writes of one install still
 * serialize on its lock.
 */
const POSTGRES_BATCHES_IN_FLIGHT = 2;

/** A write's answer once it may be acknowledged: at its commit for a caller that takes `durable` over, else once on disk. */
async function committed<T>(write: Promise<Committed<T>>, durability: WriteDurability | undefined): Promise<T> {
  const { value, durable } = await write;
  if (durability) durability(durable);
  else await durable;
  return value;
}

const removed: KvDenied = { kind: 'denied', reason: INSTALL_REMOVED };

/** The quota denials, worded once for both stores. */
const tooManyNamespaces = (limits: KvLimits): KvDenied => ({ kind: 'denied', reason: `install already has ${limits.maxNamespacesPerInstall} namespaces` });
const tooManyKeys = (namespace: string, limits: KvLimits): KvDenied => ({ kind: 'denied', reason: `namespace "${namespace}" already has ${limits.maxKeysPerNamespace} keys` });
const tooManyBytes = (totalBytes: number, limits: KvLimits): KvDenied => ({
  kind: 'denied',
  reason: `install storage would reach ${totalBytes} bytes, over ${limits.maxBytesPerInstall} bytes`,
});

/** A put's answer from PostgreSQL's batched writes (kv-postgres.ts). */
function putResult(answer: KvWriteAnswer, input: KvPut, limits: KvLimits): KvPutResult {
  switch (answer.outcome) {
    case 'ok':
      return { kind: 'ok', entry: { namespace: input.namespace, key: input.key, value: input.value, revision: answer.revision ?? 0 } };
    case 'conflict':
      return { kind: 'conflict' };
    case 'removed':
      return removed;
    case 'namespaces':
      return tooManyNamespaces(limits);
    case 'keys':
      return tooManyKeys(input.namespace, limits);
    case 'bytes':
      return tooManyBytes(answer.total, limits);
    case 'missing':
      throw new Error('kv_write_batch answered missing for a put');
  }
}

function deleteResult(answer: KvWriteAnswer): KvDeleteResult {
  switch (answer.outcome) {
    case 'ok':
      return { kind: 'ok' };
    case 'missing':
      return { kind: 'missing' };
    case 'removed':
      return removed;
    default:
      throw new Error(`kv_write_batch answered ${answer.outcome} for a delete`);
  }
}

export interface KvStoreOptions {
  /** writes of an install that is not (or no longer) in the registry are denied (the service's store) */
  readonly fence?: InstallFence | null;
  readonly groupCommit?: GroupCommitOptions;
  /** SQLite: the store's read-only connection, for synchronous reads */
  readonly reader?: SqliteReader | null;
  /** `get` answers from what it read or this process wrote, kept right by the change feed (kv-read-cache.ts) */
  readonly readCache?: KvReadCache | null;
  /** PostgreSQL: where write batches tell other processes' caches (every store that writes must) */
  readonly notice?: StorageNotice | null;
}

/**
 * Writes are group-committed: the writes of one event-loop turn share one transaction and one
 * fsync, each acknowledged after that commit. SQLite (group-commit.ts): each write in its own
 * savepoint of the batch's transaction. PostgreSQL (kv-postgres.ts): the batch is one call of a
 * server-side function — one round trip — doing the same per write in a subtransaction.
 */
export function createKvStore(db: Kysely<Database>, dialect: StoreDialect, now: () => number, options: KvStoreOptions = {}): KvStore {
  const { fence = null, groupCommit = {}, reader = null, readCache = null } = options;
  const batchOptions = { ...(groupCommit.maxBatch !== undefined && { maxBatch: groupCommit.maxBatch }), ...(groupCommit.onCommit && { onCommit: groupCommit.onCommit }) };
  // PostgreSQL fences inside kv_write_batch (the same FOR KEY SHARE as install-fence.ts): only whether to is passed
  const postgres = dialect === 'postgres' ? createPostgresKvWrites(db, now, fence !== null, { ...batchOptions, concurrency: POSTGRES_BATCHES_IN_FLIGHT }, options.notice ?? null) : null;
  const connection = postgres ? null : sqliteConnectionOf(db);
  const sqlite = connection ? { writes: createSqliteKvWrites(connection, now, fence !== null), commit: createGroupCommit(db, connection, groupCommit) } : null;
  // SQLite: reads on the store's own read-only connection, synchronously (prepared statements)
  const reads = reader ? createKvReader(reader) : null;
  const load = async (installId: string, namespace: string, key: string, limits: KvLimits): Promise<KvGetResult> =>
    reads ? reads.get(installId, namespace, key, limits) : foundEntry(await entryQuery(db, installId, namespace, key).executeTakeFirst());
  /** A write through the read cache: it learns the answer, or that the answer is unknown. */
  async function through<R extends KvPutResult | KvDeleteResult>(installId: string, namespace: string, key: string, op: 'put' | 'delete', write: () => Promise<R>): Promise<R> {
    if (!readCache) return write();
    const ticket = readCache.begin(installId, namespace, key, op);
    let answer: R | undefined;
    try {
      answer = await write();
      return answer;
    } finally {
      readCache.settle(ticket, answer);
    }
  }
  return {
    async get(installId, namespace, key, limits = DEFAULT_KV_LIMITS) {
      const invalid = invalidName(namespace, key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return readCache ? readCache.get(installId, namespace, key, () => load(installId, namespace, key, limits)) : load(installId, namespace, key, limits);
    },

    async put(installId, input, limits = DEFAULT_KV_LIMITS, durability) {
      const invalid = invalidName(input.namespace, input.key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      const size = input.value.byteLength;
      if (size > limits.maxValueBytes) return { kind: 'denied', reason: `value of ${size} bytes exceeds ${limits.maxValueBytes} bytes` };
      if (input.revision !== undefined && (!Number.isSafeInteger(input.revision) || input.revision < 0)) {
        return { kind: 'denied', reason: 'revision must be a non-negative integer' };
      }
      const { namespace, key } = input;
      const value = Buffer.from(input.value.buffer, input.value.byteOffset, input.value.byteLength);
      return through(installId, namespace, key, 'put', async () => {
        const answer = postgres
          ? await committed(postgres.write({ op: 'put', installId, namespace, key, value, revision: input.revision, limits }), durability)
          : await committed(
              sqlite!.commit.run(() => sqlite!.writes.put(installId, namespace, key, value, input.revision, limits)),
              durability,
            );
        return putResult(answer, input, limits);
      });
    },

    async delete(installId, namespace, key, limits = DEFAULT_KV_LIMITS, durability) {
      const invalid = invalidName(namespace, key, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return through(installId, namespace, key, 'delete', async () =>
        deleteResult(
          postgres
            ? await committed(postgres.write({ op: 'delete', installId, namespace, key, limits }), durability)
            : await committed(
                sqlite!.commit.run(() => sqlite!.writes.delete(installId, namespace, key)),
                durability,
              ),
        ),
      );
    },

    async list(installId, namespace, cursor, limits = DEFAULT_KV_LIMITS) {
      if (reads) return reads.list(installId, namespace, cursor, limits);
      const invalid = invalidName(namespace, undefined, limits);
      if (invalid) return { kind: 'denied', reason: invalid };
      return { kind: 'ok', entries: (await pageQuery(db, installId, namespace, cursor, limits).execute()).map(toEntry) };
    },

    async usage(installId) {
      const row = await db.selectFrom('kv_usage').select(['total_bytes', 'namespace_count']).where('install_id', '=', installId).executeTakeFirst();
      return { totalBytes: Number(row?.total_bytes ?? 0), namespaces: Number(row?.namespace_count ?? 0) };
    },

    async deleteInstall(installId) {
      readCache?.forgetInstall(installId);
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('kv_entries').where('install_id', '=', installId).execute();
        await trx.deleteFrom('kv_namespaces').where('install_id', '=', installId).execute();
        await trx.deleteFrom('kv_usage').where('install_id', '=', installId).execute();
      });
    },
  };
}
