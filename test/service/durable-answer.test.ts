/**
 * What the service answers when a guest's committed write cannot be made durable (external
 * synchrony, docs/architecture.md): the store went away before its flush → 503 store_unavailable
 * with Retry-After, like any store outage (the caller retries; the write may or may not be there,
 * as with any lost acknowledgement); another failure (an fsync error) → the guest fault
 * host_error. The real store's writes are kept; only the `durable` each one hands over is made to
 * fail, through startService's adaptStore seam.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstall, execute, startTestService, uploadExample, type TestService } from './harness.js';
import type { KvStore } from '../../src/store/kv.js';

let svc: TestService;
/** what the next write's `durable` settles with (null: as the store says) */
let nextDurable: Error | null = null;

before(async () => {
  svc = await startTestService({
    seams: {
      adaptStore: (store) => {
        const put: KvStore['put'] = (installId, entry, limits, durability) =>
          store.kv.put(
            installId,
            entry,
            limits,
            durability &&
              ((durable) => {
                const failure = nextDurable;
                nextDurable = null;
                durability(failure ? durable.then(() => Promise.reject(failure)) : durable);
              }),
          );
        return { ...store, kv: { ...store.kv, put } };
      },
    },
  });
  await uploadExample(svc, 'kitchen-sink', { name: 'kitchen-sink', capabilities: ['cap:storage.kv'] });
  await createInstall(svc, { tenant_id: 'tenant-a', extension_id: 'kitchen-sink' });
});
after(async () => svc?.close());

const put = (key: string) => execute(svc, '/kv/put', { method: 'POST', body: { ns: 'durable', key, value: 'v' } });

test('a write made durable: the guest answers', async () => {
  const answer = await put('ok');
  assert.equal(answer.status, 200);
  assert.equal((answer.json as { status: number }).status, 200);
});

test('the store went away before the write was durable: 503 store_unavailable with Retry-After', async () => {
  nextDurable = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  const answer = await put('gone');
  assert.equal(answer.status, 503, JSON.stringify(answer.json));
  assert.equal((answer.json as unknown as { error: { code: string } }).error.code, 'store_unavailable');
  assert.ok(Number(answer.headers.get('retry-after')) > 0);
});

test('any other failure to make it durable: the guest fault host_error, not the guest answer', async () => {
  nextDurable = Object.assign(new Error('fsync: EIO'), { code: 'EIO' });
  const answer = await put('eio');
  assert.equal(answer.status, 200);
  const body = answer.json as { status: number; error: string; message: string };
  assert.equal(body.status, 500);
  assert.equal(body.error, 'host_error');
  assert.match(body.message, /could not be made durable: fsync: EIO/);
});
