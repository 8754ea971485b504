/**
 * SQLite: log appends commit without an fsync, every other write keeps synchronous=FULL — the
 * relaxed setting must never leak to the connection's other writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.js';

test('after log appends (also concurrent with kv writes) the connection is back to synchronous=FULL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-sync-'));
  const store = await openStore({ dataDir: dir });
  try {
    const record = { level: 'info' as const, stream: 'log' as const, message: 'm', tenant: 't', extension: 'e', install: 'i', version: null, request_id: 'r' };
    await Promise.all([
      store.logs.append([record]),
      store.kv.put('i', { namespace: 'n', key: 'k', value: new Uint8Array([1]) }),
      store.logs.append([record, record]),
      store.kv.put('i', { namespace: 'n', key: 'k2', value: new Uint8Array([2]) }),
    ]);
    const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db);
    assert.equal(mode.rows[0]?.synchronous, 2, 'synchronous=FULL');
    assert.equal((await store.logs.query({ installId: 'i' })).length, 3);
    assert.equal((await store.kv.get('i', 'n', 'k2')).kind, 'ok');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RUNNER_SQLITE_SYNCHRONOUS=normal: every write commits with synchronous=NORMAL, log appends do not switch it back to FULL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-sync-'));
  const store = await openStore({ dataDir: dir, sqliteSynchronous: 'normal' });
  try {
    const mode = async () => (await sql<{ synchronous: number }>`pragma synchronous`.execute(store.db)).rows[0]?.synchronous;
    assert.equal(await mode(), 1, 'synchronous=NORMAL');
    const record = { level: 'info' as const, stream: 'log' as const, message: 'm', tenant: 't', extension: 'e', install: 'i', version: null, request_id: 'r' };
    await Promise.all([store.logs.append([record]), store.kv.put('i', { namespace: 'n', key: 'k', value: new Uint8Array([1]) }), store.logs.append([record])]);
    assert.equal(await mode(), 1, 'still NORMAL after log appends');
    assert.equal((await store.logs.query({ installId: 'i' })).length, 2);
    assert.equal((await store.kv.get('i', 'n', 'k')).kind, 'ok');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
