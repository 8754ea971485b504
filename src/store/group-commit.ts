/**
 * Group commit on SQLite: writes that arrive in the same event-loop turn share one transaction, so
 * one commit (one fsync under synchronous=FULL) makes all of them durable. (PostgreSQL batches the
 * same way, with one server-side call per batch: kv-postgres.ts; the queue is batch-queue.ts.)
 *
 * - A write is queued; the queue is flushed at the end of the current turn (setImmediate), so a
 *   write alone waits for nothing but the turn it arrived in, and the writes that piled up while
 *   the previous commit blocked the loop (guest workers' messages, HTTP requests) go together.
 * - The writes of a batch run one after another inside the transaction, each in its own
 *   savepoint: each sees the ones before it (compare-and-swap and quota checks behave exactly as
 *   if they had committed one by one), and one that throws is rolled back alone and fails alone.
 * - Every write's promise settles only after the batch's COMMIT returned: nothing is acknowledged
 *   before it is durable. A failed COMMIT fails every write of the batch.
 * - With `syncAfterCommit` (SQLite synchronous=FULL, see open-store.ts) the batch commits with
 *   synchronous=NORMAL — no fsync on the calling thread — and the writes are acknowledged only
 *   after `syncAfterCommit` (an fsync of the WAL on libuv's thread pool) returned: the same bytes
 *   on disk as a FULL commit, whose one difference from NORMAL in WAL mode is that fsync, while
 *   the event loop goes on serving (and committing the next batch, whose own fsync follows).
 */
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';
import { createBatchQueue, type Outcome } from './batch-queue.js';

export interface GroupCommit {
  /** Run `write` in a transaction shared with the writes queued in this turn; settles after that transaction committed. */
  run<T>(write: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
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

type Write = (trx: Transaction<Database>) => Promise<unknown>;

const SAVEPOINT = sql.raw('group_commit_write');

async function runInSavepoint(trx: Transaction<Database>, write: Write): Promise<Outcome<unknown>> {
  await sql`savepoint ${SAVEPOINT}`.execute(trx);
  try {
    const value = await write(trx);
    await sql`release ${SAVEPOINT}`.execute(trx);
    return { ok: true, value };
  } catch (error) {
    // undo this write only; the transaction and the writes before it go on
    await sql`rollback to ${SAVEPOINT}`.execute(trx);
    await sql`release ${SAVEPOINT}`.execute(trx);
    return { ok: false, error };
  }
}

export function createGroupCommit(db: Kysely<Database>, options: GroupCommitOptions = {}): GroupCommit {
  /** One transaction for the batch: the write alone as it is, several each in its own savepoint. */
  async function transact(runner: Kysely<Database>, batch: readonly Write[]): Promise<Outcome<unknown>[]> {
    if (batch.length === 1) {
      // alone: no savepoint needed, its failure is the transaction's
      const value = await runner.transaction().execute((trx) => batch[0]!(trx));
      return [{ ok: true, value }];
    }
    return runner.transaction().execute(async (trx) => {
      const done: Outcome<unknown>[] = [];
      for (const write of batch) done.push(await runInSavepoint(trx, write));
      return done;
    });
  }

  /** Commit the batch; with syncAfterCommit, without an fsync on this thread (see above). */
  async function commit(batch: readonly Write[]): Promise<Outcome<unknown>[]> {
    const sync = options.syncAfterCommit;
    if (!sync) return transact(db, batch);
    // one connection held for pragma + transaction + pragma, so no other transaction commits with NORMAL
    const outcomes = await db.connection().execute(async (connection) => {
      await sql`pragma synchronous = normal`.execute(connection);
      try {
        return await transact(connection, batch);
      } finally {
        await sql`pragma synchronous = full`.execute(connection);
      }
    });
    await sync();
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
    run: <T>(write: (trx: Transaction<Database>) => Promise<T>) => queue.run(write) as Promise<T>,
  };
}
