/**
 * The thread of wal-checkpointer.ts: a connection of its own to the store's file, a PASSIVE
 * checkpoint whenever the WAL has grown past the threshold.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Sqlite } from './sqlite-driver.js';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './wal-checkpointer.js';

const { file, thresholdBytes, intervalMs } = workerData as CheckpointWorkerData;
const connection = new Sqlite(file, { fileMustExist: true });
connection.pragma('busy_timeout = 5000');
// this connection never writes rows: it must not checkpoint on its own either
connection.pragma('wal_autocheckpoint = 0');

const say = (msg: CheckpointWorkerMessage) => parentPort!.postMessage(msg);

function walBytes(): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

const timer = setInterval(() => {
  if (walBytes() < thresholdBytes) return;
  try {
    const [row] = connection.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    say({ kind: 'checkpoint', walFrames: row?.log ?? 0, checkpointedFrames: row?.checkpointed ?? 0 });
  } catch (e) {
    say({ kind: 'failed', message: e instanceof Error ? e.message : String(e) });
  }
}, intervalMs);

// told to stop: close the connection and let the thread end by itself (being terminated while it
// is still loading SQLite's native module can bring the whole process down)
parentPort!.on('message', (msg: unknown) => {
  if (msg !== 'close') return;
  clearInterval(timer);
  connection.close();
  parentPort!.close();
});
