/**
 * The SQLite store checkpoints its WAL on a thread of its own (store/wal-checkpointer.ts): the
 * store's connection never checkpoints inside a commit, and the thread copies the WAL into the
 * database file once it has grown past the threshold, while writes go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, SQLITE_FILE_NAME } from '../../src/store/index.js';
import { sqliteConnectionOf } from '../../src/store/sqlite-connection.js';
import { startWalCheckpointer, type CheckpointResult } from '../../src/store/wal-checkpointer.js';

test('the store connection does not checkpoint; the checkpoint thread does once the WAL passes its threshold, and writes go on meanwhile', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wal-checkpoint-'));
  const checkpoints: CheckpointResult[] = [];
  let first!: () => void;
  const checkpointed = new Promise<void>((resolve) => (first = resolve));
  const store = await openStore({
    dataDir,
    walCheckpoints: {
      thresholdBytes: 256 * 1024,
      intervalMs: 5,
      onCheckpoint: (r) => {
        checkpoints.push(r);
        first();
      },
    },
  });
  try {
    assert.equal(sqliteConnectionOf(store.db).pragma('wal_autocheckpoint', { simple: true }), 0);
    const value = new Uint8Array(2048);
    let written = 0;
    // write until the thread has checkpointed (each write adds WAL frames); every write must succeed
    const writing = (async () => {
      for (; checkpoints.length === 0; written++) {
        const answer = await store.kv.put('wal-install', { namespace: 'ns', key: `k${written % 500}`, value });
        assert.equal(answer.kind, 'ok');
      }
    })();
    await checkpointed;
    await writing;
    assert.ok(checkpoints[0]!.checkpointedFrames > 0, JSON.stringify(checkpoints[0]));
    assert.ok(checkpoints[0]!.checkpointedFrames <= checkpoints[0]!.walFrames);
    // what was written is all there
    const got = await store.kv.get('wal-install', 'ns', 'k0');
    assert.equal(got.kind, 'ok');
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a checkpointer closed at once, while its thread may still be loading SQLite, ends cleanly (terminating it then brought Node 22 down)', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wal-checkpoint-close-'));
  try {
    const store = await openStore({ dataDir });
    await store.close();
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const checkpointer = startWalCheckpointer(join(dataDir, SQLITE_FILE_NAME), {}, (message) => failures.push(message));
      await checkpointer.close();
      // a second close is a no-op
      await checkpointer.close();
    }
    assert.deepEqual(failures, []);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
