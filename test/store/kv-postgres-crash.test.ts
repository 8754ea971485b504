/**
 * PostgreSQL storage writes commit with synchronous_commit = off and are made durable by a flush
 * after them (store/kv-postgres.ts): a write is answered at its commit and its `durable` settles
 * after the flush. This crashes a private cluster (immediate shutdown: the WAL buffers not yet
 * written are lost) with writers in flight and checks that every write whose `durable` had settled
 * — what an execution waits for before it answers — is there after recovery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import { privatePostgresSkipReason, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';

const WRITERS = 8;
const DURABLE_BEFORE_CRASH = 200;

describe('PostgreSQL storage writes survive a crash of the server once durable', { skip: privatePostgresSkipReason() }, () => {
  let cluster: PrivatePostgres;
  const dataDir = mkdtempSync(join(tmpdir(), 'kv-pg-crash-'));
  before(async () => {
    cluster = await startPrivatePostgres();
  });
  after(async () => {
    await cluster?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(`${WRITERS} writers, each write answered at its commit: every write whose flush returned is there after an immediate shutdown`, async () => {
    const store: Store = await openStore({ databaseUrl: cluster.url, dataDir });
    const durable: string[] = [];
    let crashing = false;
    let reached!: () => void;
    const enough = new Promise<void>((resolve) => (reached = resolve));
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; !crashing; i++) {
        const key = `w${w}-${i}`;
        let flushed: Promise<void> | undefined;
        try {
          const answer = await store.kv.put('crash-install', { namespace: 'ns', key, value: new TextEncoder().encode(key) }, undefined, (d) => (flushed = d));
          assert.equal(answer.kind, 'ok');
          assert.ok(flushed, 'a PostgreSQL write hands its durable over to a taker');
          await flushed;
        } catch {
          return; // the server went away under it: not durable, not counted
        }
        durable.push(key);
        if (durable.length === DURABLE_BEFORE_CRASH) reached();
      }
    });
    await enough;
    crashing = true;
    await cluster.crash();
    await Promise.all(writers);
    await store.close().catch(() => {});
    await cluster.start();
    const after = await openStore({ databaseUrl: cluster.url, dataDir });
    try {
      const missing: string[] = [];
      for (const key of durable) if ((await after.kv.get('crash-install', 'ns', key)).kind !== 'ok') missing.push(key);
      assert.deepEqual(missing, [], `${missing.length} of ${durable.length} durable writes lost`);
    } finally {
      await after.close();
    }
  });
});
