import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SQLITE_DRIVER, Sqlite } from '../../src/store/sqlite-driver.js';

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

test('the SQLite driver is the better-sqlite3 major this Node runs: 12 on Node 20, 13 (Node-API) from Node 22', () => {
  const manifest = JSON.parse(readFileSync(require.resolve(`${SQLITE_DRIVER}/package.json`), 'utf8')) as { name: string; version: string };
  assert.equal(manifest.name, 'better-sqlite3');
  assert.equal(manifest.version.split('.')[0], major >= 22 ? '13' : '12');
  const db = new Sqlite(':memory:');
  try {
    assert.deepEqual(db.prepare('select 6 * 7 as answer').get(), { answer: 42 });
  } finally {
    db.close();
  }
});
