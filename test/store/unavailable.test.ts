/**
 * isStoreUnavailableError tells "the database cannot be reached now" (retry later: 503) from a
 * failing query (a bug or bad data: 500). The restart test (test/service/postgres-restart.test.ts)
 * meets the real errors under load; these are the shapes, one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { isStoreUnavailableError, openStore } from '../../src/store/index.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('connection failures are unavailable', () => {
  for (const e of [
    withCode('57P01', 'terminating connection due to administrator command'),
    withCode('57P02'),
    withCode('57P03', 'the database system is starting up'),
    withCode('08006'),
    withCode('08P01'),
    withCode('53300', 'sorry, too many clients already'),
    withCode('ECONNREFUSED'),
    withCode('ECONNRESET'),
    new Error('Connection terminated unexpectedly'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('timeout exceeded when trying to connect'),
    new Error('Postgres connection has been discarded'),
    new Error('wrapped', { cause: withCode('ECONNREFUSED') }),
    new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed'),
  ]) {
    assert.equal(isStoreUnavailableError(e), true, `${(e as { code?: string }).code ?? ''} ${e.message}`);
  }
});

test('query faults and everything else are not', () => {
  for (const e of [
    withCode('23505', 'duplicate key value violates unique constraint'),
    withCode('42P01', 'relation "x" does not exist'),
    withCode('40001', 'could not serialize access'),
    withCode('57014', 'canceling statement due to statement timeout'),
    withCode('SQLITE_CONSTRAINT'),
    new Error('Connection terminated'),
    new Error('Client was closed and is not queryable'),
    new TypeError('x is undefined'),
    'a string',
    null,
    undefined,
  ]) {
    assert.equal(isStoreUnavailableError(e), false, String(e instanceof Error ? e.message : e));
  }
});

test('a PostgreSQL URL where nothing listens fails to open with an unavailable error', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const error = await openStore({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/none`, dataDir: tmpdir() }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(error !== null, 'opening succeeded');
  assert.equal(isStoreUnavailableError(error), true, String(error));
});
