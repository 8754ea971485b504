/**
 * Group commit on SQLite: writes that arrive in the same event-loop turn share one transaction, so
 * one commit (one fsync under synchronous=FULL) makes all of them durable. (PostgreSQL batches the
 * same way, with one server-side call per batch: kv-postgres.ts; the queue is batch-queue.ts.)
 *
 * - A write is queued; the queue is flushed at the end of the current turn (setImmediate), so a
 *   write alone waits for nothing but the turn it arrived in, and the writes that piled up while
 *   the previous commit ran go together.
 * - The writes of a batch are synchronous functions over prepared statements (kv-sqlite.ts), run
 *   one after another inside the transaction on the store's connection, each in its own
 *   savepoint: each sees the ones before it (compare-and-swap and quota checks behave exactly as
 *   if they had committed one by one), and one that throws is rolled back alone and fails alone.
 * - Every write's promise settles only after the batch's COMMIT returned; a failed COMMIT fails
 *   every write of the batch.
 * - With `syncAfterCommit` (SQLite synchronous=FULL, see open-store.ts) the batch commits with
 *   synchronous=NORMAL — no fsync on the calling thread — and each write's `durable` settles after
 *   `syncAfterCommit` (an fsync of the WAL on libuv's thread pool) returned: the same bytes on disk
 *   as a FULL commit, whose one difference from NORMAL in WAL mode is that fsync, while the event
 *   loop goes on serving. One sync runs at a time; the commits made meanwhile share the next.
 *   Whoever acknowledges a write waits for its `durable` first (kv.ts; the execution: engine.ts).
 */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { SqliteConnection } from './sqlite-driver.js';
import { createBatchQueue, type Outcome } from './batch-queue.js';
import { onSqliteConnection } from './sqlite-connection.js';

export interface GroupCommit {
  /**
   * Run `write` in a transaction shared with the writes queued in this turn; settles after that
   * transaction committed, with `durable`: settles when the commit is on disk (with
   * syncAfterCommit; at once otherwise).
   */
  run<T>(write: () => T): Promise<Committed<T>>;
}

export interface Committed<T> {
  readonly value: T;
  readonly durable: Promise<void>;
}

export interface GroupCommitOptions {
  /** most writes one transaction takes; the rest go in the next (default 256) */
  readonly maxBatch?: number;
  /** after each commit: how many writes it carried (tests and benchmarks observe batching) */
  readonly onCommit?: (writes: number) => void;
  /**
   * SQLite only: commit each batch with `PRAGMA synchronous = NORMAL` (restored to FULL for every
   * other transaction of the connection) and make it durable with this, off the event loop (one
   * at a time: commits made while one runs share the next).
   */
  readonly syncAfterCommit?: () => Promise<void>;
}

const DURABLE_AT_COMMIT: Promise<void> = Promise.resolve();

/**
 * `sync` one at a time: a caller gets a sync that started after its call — the running one may
 * have started before its commit, so callers during a run share the next.
 */
export function oneSyncAtATime(sync: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const afterCommit = (): Promise<void> => {
    if (!running) {
      running = sync().finally(() => (running = null));
      return running;
    }
    next ??= running
      .catch(() => {})
      .then(() => {
        next = null;
        return afterCommit();
      });
    return next;
  };
  return afterCommit;
}

type Write = () => unknown;

/**
 * `db`: the store's kysely over `connection` — a batch holds kysely's one connection while it runs
 * (so no kysely transaction is open on it meanwhile), then runs its writes on `connection`
 * synchronously: synchronous functions over prepared statements (kv-sqlite.ts).
 */
export function createGroupCommit(db: Kysely<Database>, connection: SqliteConnection, options: GroupCommitOptions = {}): GroupCommit {
  /** One write of a batch in its own savepoint (better-sqlite3 nests a transaction as one): a throw undoes it alone. */
  const inSavepoint = (write: Write): Outcome<unknown> => {
    try {
      return { ok: true, value: connection.transaction(write)() };
    } catch (error) {
      // an error SQLite answers by rolling back the whole transaction (I/O, disk full) fails the batch
      if (!connection.inTransaction) throw error;
      return { ok: false, error };
    }
  };

  /** One transaction for the batch: the write alone as it is, several each in its own savepoint. */
  const transact = (batch: readonly Write[]): Outcome<unknown>[] => {
    // alone: no savepoint needed, its failure is the transaction's
    if (batch.length === 1) return [{ ok: true, value: connection.transaction(batch[0]!)() }];
    return connection.transaction(() => batch.map(inSavepoint))();
  };

  const sync = options.syncAfterCommit ? oneSyncAtATime(options.syncAfterCommit) : null;

  /** Commit the batch; with syncAfterCommit, without an fsync on this thread (see above), which each write's `durable` waits for. */
  async function commit(batch: readonly Write[]): Promise<Outcome<Committed<unknown>>[]> {
    const outcomes = await onSqliteConnection(db, sync !== null, () => transact(batch));
    const durable = sync ? sync() : DURABLE_AT_COMMIT;
    // a failed sync is each write's to report (kv.ts, or the execution that holds it)
    durable.catch(() => {});
    return outcomes.map((o) => (o.ok ? { ok: true, value: { value: o.value, durable } } : o));
  }

  // The store's one connection runs one transaction at a time; the next batch gathers while one
  // commits, and commits while the previous one's sync runs.
  const queue = createBatchQueue<Write, Committed<unknown>>(commit, {
    ...(options.maxBatch !== undefined && { maxBatch: options.maxBatch }),
    ...(options.onCommit && { onCommit: options.onCommit }),
  });
  return {
    run: <T>(write: () => T) => queue.run(write) as Promise<Committed<T>>,
  };
}
