/**
 * Group commit on SQLite: writes that arrive in the same event-loop turn share one transaction, so
 * one commit (one fsync under synchronous=FULL) makes all of them durable. (PostgreSQL batches the
 * same way, with one server-side call per batch: kv-postgres.ts; the queue is batch-queue.ts.)
 *
 * - A write is queued; the queue is flushed at the end of the current turn (setImmediate), so a
 *   write alone waits for nothing but the turn it arrived in, and the writes that piled up while
 *   the previous commit blocked the loop (guest workers' messages, HTTP requests) go together.
 * - The writes of a batch are synchronous functions over prepared statements (kv-sqlite.ts), run
 *   one after another inside the transaction on the store's connection, each in its own savepoint: each sees the ones before it (compare-and-swap and quota checks behave exactly as
 *   if they had committed one by one), and one that throws is rolled back alone and fails alone.
 * - Every write's promise settles only after the batch's COMMIT returned: nothing is acknowledged
 *   before it is durable. A failed COMMIT fails every write of the batch.
 * - With `syncAfterCommit` (SQLite synchronous=FULL, see open-store.ts) the batch commits with
 *   synchronous=NORMAL — no fsync on the calling thread — and the writes are acknowledged only
 *   after `syncAfterCommit` (an fsync of the WAL on libuv's thread pool) returned: the same bytes
 *   on disk as a FULL commit, whose one difference from NORMAL in WAL mode is that fsync, while
 *   the event loop goes on serving (and committing the next batch, whose own fsync follows).
 */
import type { Kysely } from 'kysely';
import type { Database } from './database.js';
import type { SqliteConnection } from './sqlite-driver.js';
import { createBatchQueue, type Outcome } from './batch-queue.js';

export interface GroupCommit {
  /** Run `write` in a transaction shared with the writes queued in this turn; settles after that transaction committed. */
  run<T>(write: () => T): Promise<T>;
}

export interface GroupCommitOptions {
  /** most writes one transaction takes; the rest go in the next (default 256) */
  readonly maxBatch?: number;
  /** after each commit: how many writes it carried (tests and benchmarks observe batching) */
  readonly onCommit?: (writes: number) => void;
  /**
   * SQLite only: commit each batch with `PRAGMA synchronous = NORMAL` (restored to FULL for every
   * other transaction of the connection) and make it durable with this, off the event loop,
   * before any write of the batch is acknowledged.
   */
  readonly syncAfterCommit?: () => Promise<void>;
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

  /** Commit the batch; with syncAfterCommit, without an fsync on this thread (see above). */
  async function commit(batch: readonly Write[]): Promise<Outcome<unknown>[]> {
    const sync = options.syncAfterCommit;
    const outcomes = await db.connection().execute(async () => {
      if (!sync) return transact(batch);
      // no other transaction runs on the connection until the pragma is back to FULL: all of this is synchronous
      connection.pragma('synchronous = NORMAL');
      try {
        return transact(batch);
      } finally {
        connection.pragma('synchronous = FULL');
      }
    });
    if (sync) await sync();
    return outcomes;
  }

  // The store's one connection runs one transaction at a time. With syncAfterCommit a second batch
  // may commit while the first one's fsync runs on the thread pool, and starts its own fsync
  // (which covers both): a write that arrives during an fsync waits for one more, not one and a half.
  const queue = createBatchQueue<Write, unknown>(commit, {
    concurrency: options.syncAfterCommit ? 2 : 1,
    ...(options.maxBatch !== undefined && { maxBatch: options.maxBatch }),
    ...(options.onCommit && { onCommit: options.onCommit }),
  });
  return {
    run: <T>(write: () => T) => queue.run(write) as Promise<T>,
  };
}
