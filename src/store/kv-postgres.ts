/**
 * Storage writes on PostgreSQL, group-committed: the puts and deletes queued in one event-loop turn
 * (batch-queue.ts) go to the server as one call of `kv_write_batch` (migration 061) — one round
 * trip and one transaction (one WAL flush) for the batch, with the install fence, the installs'
 * write locks, compare-and-swap and the quota bookkeeping inside it. The call runs as a statement
 * of its own, so its implicit transaction has committed when the server answers it (the client
 * reads the answer only after ReadyForQuery): no write is acknowledged before its batch committed.
 * A write that fails inside the batch fails alone (a subtransaction each); a call that fails fails
 * the whole batch. The same statement NOTIFYs the change feed's channel once per install it wrote,
 * so other processes' read caches (kv-read-cache.ts) forget those installs at its commit.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';
import type { KvLimits } from './kv-limits.js';
import { createBatchQueue, type BatchQueueOptions, type Outcome } from './batch-queue.js';
import { oneSyncAtATime, type Committed } from './group-commit.js';
import { executeNamed } from './postgres-statements.js';

export type KvWrite =
  | { readonly op: 'put'; readonly installId: string; readonly namespace: string; readonly key: string; readonly value: Buffer; readonly revision: number | undefined; readonly limits: KvLimits }
  | { readonly op: 'delete'; readonly installId: string; readonly namespace: string; readonly key: string; readonly limits: KvLimits };

/** What kv_write_batch answered for one write (see migration 061). */
export type KvWriteAnswer =
  | { readonly outcome: 'ok'; readonly revision: number | null }
  | { readonly outcome: 'conflict' | 'missing' | 'removed' | 'namespaces' | 'keys' }
  | { readonly outcome: 'bytes'; readonly total: number };

interface AnswerRow {
  w_outcome: string;
  w_revision: number | null;
  w_total: number | null;
  w_error: string | null;
}

/** A write the database refused with an error (the batch's other writes went on). */
export class KvWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvWriteError';
  }
}

function toOutcome(row: AnswerRow): Outcome<KvWriteAnswer> {
  switch (row.w_outcome) {
    case 'ok':
      return { ok: true, value: { outcome: 'ok', revision: row.w_revision === null ? null : Number(row.w_revision) } };
    case 'bytes':
      return { ok: true, value: { outcome: 'bytes', total: Number(row.w_total) } };
    case 'conflict':
    case 'missing':
    case 'removed':
    case 'namespaces':
    case 'keys':
      return { ok: true, value: { outcome: row.w_outcome } };
    default:
      return { ok: false, error: new KvWriteError(row.w_error ?? `kv_write_batch answered ${row.w_outcome}`) };
  }
}

export interface PostgresKvWrites {
  /** settles at the batch's commit, with `durable`: settles once that commit's WAL is flushed */
  write(write: KvWrite): Promise<Committed<KvWriteAnswer>>;
}

/** Where a batch tells other processes which installs it wrote (change-feed.ts `notice`). */
export interface StorageNotice {
  readonly channel: string;
  readonly origin: string;
}

/**
 * `fenced`: writes of installs not in the registry are answered 'removed' (install-fence.ts).
 *
 * A batch commits with `synchronous_commit = off`: the server answers without waiting for the WAL
 * flush. Each write's `durable` is a flush after it: a transaction of ours that writes a row
 * (this process's in `wal_flush_marks`, migration 064) and commits with the session's synchronous
 * setting — its commit flushes the WAL up to its own commit record, so every commit before it,
 * this batch's among them (and, with synchronous standbys, waits for them as any commit does). A
 * transaction that only takes an id, writing nothing, commits without a flush: it must write.
 * One flush runs at a time; the batches committed meanwhile share the next
 * (store/group-commit.ts oneSyncAtATime).
 */
export function createPostgresKvWrites(db: Kysely<Database>, now: () => number, fenced: boolean, options: BatchQueueOptions = {}, notice: StorageNotice | null = null): PostgresKvWrites {
  const holder = randomUUID();
  const flush = oneSyncAtATime(async () => {
    await executeNamed(db, sql`insert into wal_flush_marks (holder, flushed_at) values (${holder}, ${now()}) on conflict (holder) do update set flushed_at = excluded.flushed_at`);
  });
  async function commit(batch: readonly KvWrite[]): Promise<Outcome<Committed<KvWriteAnswer>>[]> {
    const column = <T>(pick: (w: KvWrite) => T): T[] => batch.map(pick);
    // the other processes' read caches hear of the batch at its commit (never of a rollback)
    const told = notice
      ? sql`, (select count(pg_notify(${notice.channel}, ${`s:${notice.origin}:`}::text || id)) from unnest(${[...new Set(column((w) => w.installId))]}::text[]) as id) as told`
      : sql``;
    const result = await executeNamed(
      db,
      sql<AnswerRow>`select written.* from (select set_config('synchronous_commit', 'off', true)) as relaxed${told}, kv_write_batch(
      ${column((w) => w.op)}::text[], ${column((w) => w.installId)}::text[], ${column((w) => w.namespace)}::text[], ${column((w) => w.key)}::text[],
      ${column((w) => (w.op === 'put' ? w.value : null))}::bytea[], ${column((w) => (w.op === 'put' ? (w.revision ?? null) : null))}::bigint[],
      ${column((w) => w.limits.maxKeysPerNamespace)}::integer[], ${column((w) => w.limits.maxNamespacesPerInstall)}::integer[], ${column((w) => w.limits.maxBytesPerInstall)}::bigint[],
      ${now()}::bigint, ${fenced}::boolean) as written`,
    );
    const durable = flush();
    // a failed flush is each write's to report (kv.ts, or the execution that holds it)
    durable.catch(() => {});
    return result.rows.map((row) => {
      const outcome = toOutcome(row);
      return outcome.ok ? { ok: true, value: { value: outcome.value, durable } } : outcome;
    });
  }
  const queue = createBatchQueue(commit, options);
  return { write: (write) => queue.run(write) };
}
