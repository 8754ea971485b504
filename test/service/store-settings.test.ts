/** The service opens its embedded SQLite store with the operator's durability setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestService } from './harness.js';

test('the service commits with synchronous=FULL by default and NORMAL under RUNNER_SQLITE_SYNCHRONOUS=normal', async () => {
  for (const [env, expected] of [
    [{}, 2],
    [{ RUNNER_SQLITE_SYNCHRONOUS: 'normal' }, 1],
  ] as const) {
    const svc = await startTestService({ env, workers: 1, examples: [] });
    try {
      const mode = await sql<{ synchronous: number }>`pragma synchronous`.execute(svc.running.runtime.store.db);
      assert.equal(mode.rows[0]?.synchronous, expected, JSON.stringify(env));
    } finally {
      await svc.close();
    }
  }
});
