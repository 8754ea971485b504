/**
 * Checkpoints of the embedded SQLite store's WAL, off the event loop. SQLite checkpoints
 * automatically inside the commit that grows the WAL past 1 000 pages — on the committing thread,
 * which here is the main thread: the copy into the database file and its two fsyncs stalled every
 * request for their length. The store's connection turns that off (`wal_autocheckpoint = 0`) and
 * this worker thread, on a connection of its own, runs a PASSIVE checkpoint whenever the WAL has
 * grown past a threshold: it never blocks the writer or a reader, copies what no reader still
 * needs, and the writer starts the WAL over once all of it is in the database file.
 */
import { Worker } from 'node:worker_threads';

export interface WalCheckpointerOptions {
  /** checkpoint once the WAL file is at least this big (default 4 MiB, SQLite's own 1 000 pages of 4 KiB) */
  readonly thresholdBytes?: number;
  /** how often the WAL's size is looked at (default 200 ms) */
  readonly intervalMs?: number;
  /** after each checkpoint: frames in the WAL and frames now in the database file (tests) */
  readonly onCheckpoint?: (result: CheckpointResult) => void;
}

export interface CheckpointResult {
  readonly walFrames: number;
  readonly checkpointedFrames: number;
}

export interface WalCheckpointer {
  close(): Promise<void>;
}

/** What the checkpoint thread is told (workerData). */
export interface CheckpointWorkerData {
  readonly file: string;
  readonly thresholdBytes: number;
  readonly intervalMs: number;
}

/** What it says back: each checkpoint, or why it could not run. */
export type CheckpointWorkerMessage = ({ readonly kind: 'checkpoint' } & CheckpointResult) | { readonly kind: 'failed'; readonly message: string };

const WORKER_URL = new URL('./wal-checkpoint-worker.js', import.meta.url);

const warn = (message: string) => process.emitWarning(`SQLite WAL checkpoint failed: ${message}`, { code: 'ALGA_RUNNER_WAL_CHECKPOINT' });

/** `onFailure`: a checkpoint that could not run (default: a process warning, on stderr) — the WAL then grows until one can. */
export function startWalCheckpointer(file: string, options: WalCheckpointerOptions = {}, onFailure: (message: string) => void = warn): WalCheckpointer {
  const workerData: CheckpointWorkerData = { file, thresholdBytes: options.thresholdBytes ?? 4 * 2 ** 20, intervalMs: options.intervalMs ?? 200 };
  const worker = new Worker(WORKER_URL, { workerData });
  worker.on('message', (msg: CheckpointWorkerMessage) => {
    if (msg.kind === 'checkpoint') options.onCheckpoint?.(msg);
    else onFailure(msg.message);
  });
  // a thread that dies takes only its checkpoints with it: the WAL grows until the next start (and SQLite checkpoints at close)
  worker.on('error', (e) => onFailure(e.message));
  // it must not keep the process alive
  worker.unref();
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  return {
    /** Asks the thread to end (the message waits for it if it is still starting); terminated only if it does not within CLOSE_TIMEOUT_MS. */
    async close() {
      if (exited) return;
      worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    },
  };
}

const CLOSE_TIMEOUT_MS = 5_000;
