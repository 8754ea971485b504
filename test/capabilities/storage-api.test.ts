/**
 * The storage backend over Alga's internal `ext-storage` API (capabilities/storage-api.ts), against
 * a loopback server that answers each call with what the test sets (a status and a raw body) —
 * not Alga itself: how Alga's runner maps statuses (401/403/429 denied, 404 missing, 409
 * conflict, anything else internal), transport failures, unreadable answers, and the value
 * encodings Alga's runner decodes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAlgaApiKv, decodeStoredValue, StorageApiError } from '../../src/capabilities/storage-api.js';
import type { KvAccess } from '../../src/store/kv.js';
import { startFakeInternalApi, type FakeInternalApi } from '../support/fake-internal-api.js';

let api: FakeInternalApi;
let kv: KvAccess;
const bytes = (text: string) => new Uint8Array(Buffer.from(text));

before(async () => {
  api = await startFakeInternalApi();
  kv = createAlgaApiKv({ baseUrl: `${api.baseUrl}/psa/`, runnerAuthToken: 'tok-1', timeoutMs: 2000 });
});
after(() => api.close());

test('calls go to {base}/api/internal/ext-storage/install/{install id} with x-runner-auth; ids are escaped', async () => {
  api.answer = { status: 200, body: JSON.stringify({ namespace: 'n', key: 'k', revision: 3, value: 'aGk=', metadata: { encoding: 'base64-bytes' } }) };
  const got = await kv.get('inst/1', 'n', 'k');
  assert.deepEqual(got, { kind: 'ok', entry: { namespace: 'n', key: 'k', value: bytes('hi'), revision: 3 } });
  const last = api.seen.at(-1);
  assert.equal(last?.url, '/psa/api/internal/ext-storage/install/inst%2F1');
  assert.equal(last?.auth, 'tok-1');
  assert.deepEqual(last?.body, { operation: 'get', namespace: 'n', key: 'k' });
});

test('statuses map as in Alga’s runner', async () => {
  for (const [status, expected] of [
    [401, 'denied'],
    [403, 'denied'],
    [429, 'denied'],
    [404, 'missing'],
  ] as const) {
    api.answer = { status, body: JSON.stringify({ error: `said ${status}` }) };
    const got = await kv.get('i', 'n', 'k');
    assert.equal(got.kind, expected, `get → ${status}`);
    if (got.kind === 'denied') assert.match(got.reason, new RegExp(`${status}: said ${status}`));
  }
  api.answer = { status: 409, body: '{"error":"revision mismatch","code":"REVISION_MISMATCH"}' };
  assert.deepEqual(await kv.put('i', { namespace: 'n', key: 'k', value: bytes('x'), revision: 4 }), { kind: 'conflict' });
  assert.equal((api.seen.at(-1)?.body as { ifRevision?: number }).ifRevision, 4);
  api.answer = { status: 500, body: '{"error":"Storage operation failed."}' };
  await assert.rejects(kv.get('i', 'n', 'k'), (e: unknown) => e instanceof StorageApiError && /answered 500: Storage operation failed/.test(e.message));
  api.answer = { status: 501, body: '{"error":"Extension storage is only available in the Enterprise Edition.","code":"EE_REQUIRED"}' };
  await assert.rejects(kv.list('i', 'n'), StorageApiError);
});

test('unreadable answers and an unreachable Alga are errors (the capability answers internal), never wrong entries', async () => {
  api.answer = { status: 200, body: 'not json' };
  await assert.rejects(kv.put('i', { namespace: 'n', key: 'k', value: bytes('x') }), StorageApiError);
  api.answer = { status: 200, body: JSON.stringify({ value: 'x', metadata: { encoding: 'base64-bytes' }, revision: 1 }) };
  await assert.rejects(kv.get('i', 'n', 'k'), /cannot be read/, 'base64-bytes that are not base64');
  const away = createAlgaApiKv({ baseUrl: 'http://127.0.0.1:9', runnerAuthToken: 't', timeoutMs: 2000 });
  await assert.rejects(away.get('i', 'n', 'k'), StorageApiError);
});

test('delete and list answers', async () => {
  api.answer = { status: 200, body: '{"success":true}' };
  assert.deepEqual(await kv.delete('i', 'n', 'k'), { kind: 'ok' });
  api.answer = { status: 200, body: '{"success":false}' };
  assert.deepEqual(await kv.delete('i', 'n', 'k'), { kind: 'missing' });
  api.answer = { status: 200, body: JSON.stringify({ items: [{ namespace: 'n', key: 'a', revision: 2, value: 'YQ==', metadata: { encoding: 'base64-bytes' } }], nextCursor: 'c2' }) };
  assert.deepEqual(await kv.list('i', 'n', 'c1'), { kind: 'ok', entries: [{ namespace: 'n', key: 'a', value: bytes('a'), revision: 2 }] });
  assert.deepEqual(api.seen.at(-1)?.body, { operation: 'list', namespace: 'n', includeValues: true, includeMetadata: true, cursor: 'c1' });
});

test('values are decoded as Alga’s runner decodes them', () => {
  assert.deepEqual(decodeStoredValue('aGk=', { encoding: 'base64-bytes' }), bytes('hi'));
  assert.deepEqual(decodeStoredValue({ _bytes_b64: 'aGk=' }, {}), bytes('hi'));
  assert.deepEqual(decodeStoredValue('aGk=', undefined), bytes('hi'), 'a base64 string');
  assert.deepEqual(decodeStoredValue('hello world', undefined), bytes('hello world'), 'another string as UTF-8');
  assert.deepEqual(decodeStoredValue({ a: 1 }, null), bytes('{"a":1}'), 'other JSON as its text');
});
