/**
 * The queue behind group commit (both stores): items that arrive in the same event-loop turn are
 * handed to `commit` together, and each item's promise settles with its own outcome only after
 * `commit` returned — i.e. after the batch is durable.
 *
 * - The queue is flushed at the end of the current turn (setImmediate): an item alone waits for
 *   nothing but the turn it arrived in; the items that piled up while earlier batches were
 *   committing (up to `concurrency` at a time) go together in the next.
 * - `commit` answers one outcome per item, in order: an item that failed alone fails alone. A
 *   `commit` that throws fails every item of its batch.
 */
export type Outcome<O> = { readonly ok: true; readonly value: O } | { readonly ok: false; readonly error: unknown };

export interface BatchQueue<I, O> {
  /** Queue `item` for the next batch; settles with its outcome after that batch committed. */
  run(item: I): Promise<O>;
}

export interface BatchQueueOptions {
  /** most items one batch takes; the rest go in the next (default 256) */
  readonly maxBatch?: number;
  /** batches committing at once (default 1: the next batch gathers while one commits) */
  readonly concurrency?: number;
  /** after each commit: how many items it carried (tests and benchmarks observe batching) */
  readonly onCommit?: (items: number) => void;
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export function createBatchQueue<I, O>(commit: (batch: readonly I[]) => Promise<readonly Outcome<O>[]>, options: BatchQueueOptions = {}): BatchQueue<I, O> {
  const maxBatch = options.maxBatch ?? 256;
  const concurrency = options.concurrency ?? 1;
  let queue: Pending<I, O>[] = [];
  let scheduled = false;
  let committing = 0;

  const schedule = () => {
    if (scheduled || committing >= concurrency || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };

  async function flush(): Promise<void> {
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    committing++;
    // another batch may start gathering now if there is room for it
    schedule();
    try {
      let outcomes: readonly Outcome<O>[];
      try {
        outcomes = await commit(batch.map((p) => p.item));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      options.onCommit?.(batch.length);
      batch.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) pending.reject(new Error(`the batch's commit answered ${outcomes.length} outcomes for ${batch.length} items`));
        else if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.error);
      });
    } finally {
      committing--;
      schedule();
    }
  }

  return {
    run(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
  };
}
