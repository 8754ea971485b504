/**
 * Group commit: writes that arrive in the same event-loop turn share one transaction, so one
 * commit (one fsync under SQLite synchronous=FULL) makes all of them durable.
 *
 * - A write is queued; the queue is flushed at the end of the current turn (setImmediate), so a
 *   write alone waits for nothing but the turn it arrived in, and the writes that piled up while
 *   the previous commit blocked the loop (guest workers' messages, HTTP requests) go together.
 * - The writes of a batch run one after another inside the transaction, each in its own
 *   savepoint: each sees the ones before it (compare-and-swap and quota checks behave exactly as
 *   if they had committed one by one), and one that throws is rolled back alone and fails alone.
 * - Every write's promise settles only after the batch's COMMIT returned: nothing is acknowledged
 *   before it is durable. A failed COMMIT fails every write of the batch.
 */
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';

export interface GroupCommit {
  /** Run `write` in a transaction shared with the writes queued in this turn; settles after that transaction committed. */
  run<T>(write: (trx: Transaction<Database>) => Promise<T>): Promise<T>;
}

export interface GroupCommitOptions {
  /** most writes one transaction takes; the rest go in the next (default 256) */
  readonly maxBatch?: number;
  /** after each commit: how many writes it carried (tests and benchmarks observe batching) */
  readonly onCommit?: (writes: number) => void;
}

interface Pending {
  readonly write: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

const SAVEPOINT = sql.raw('group_commit_write');

async function runInSavepoint(trx: Transaction<Database>, write: Pending['write']): Promise<Outcome> {
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
  const maxBatch = options.maxBatch ?? 256;
  let queue: Pending[] = [];
  let scheduled = false;
  let committing = false;

  const schedule = () => {
    if (scheduled || committing || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };

  async function flush(): Promise<void> {
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    committing = true;
    try {
      if (batch.length === 1) {
        // alone: no savepoint needed, its failure is the transaction's
        const [only] = batch as [Pending];
        let value: unknown;
        try {
          value = await db.transaction().execute((trx) => only.write(trx));
        } catch (error) {
          only.reject(error);
          return;
        }
        options.onCommit?.(1);
        only.resolve(value);
        return;
      }
      let outcomes: Outcome[];
      try {
        outcomes = await db.transaction().execute(async (trx) => {
          const done: Outcome[] = [];
          for (const pending of batch) done.push(await runInSavepoint(trx, pending.write));
          return done;
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      options.onCommit?.(batch.length);
      batch.forEach((pending, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.error);
      });
    } finally {
      committing = false;
      schedule();
    }
  }

  return {
    run<T>(write: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
        schedule();
      });
    },
  };
}
