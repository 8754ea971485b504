import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends, manualClock } from './backends.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS } from '../../src/store/index.js';
import type { IdempotencyScope, Store } from '../../src/store/index.js';

for (const backend of backends('idem')) {
  describe(`idempotency store (${backend.name})`, { skip: backend.skip }, () => {
    const clock = manualClock();
    let store: Store;
    let n = 0;
    const scope = (over: Partial<IdempotencyScope> = {}): IdempotencyScope => ({ tenant: 't1', extension: 'e1', key: `key-${++n}`, ...over });

    before(async () => {
      store = await backend.open({ now: clock.now, poolSize: 12 });
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('first claim wins, a duplicate sees in-flight, then done with the stored JSON response', async () => {
      const s = scope();
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'claimed' });
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'in-flight' });
      const response = { status: 201, headers: { 'content-type': 'application/json' }, body_b64: 'e30=' };
      assert.equal(await store.idempotency.complete(s, response), true);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'done', response });
    });

    it('is scoped by tenant and extension: the same key elsewhere is a fresh claim', async () => {
      const s = scope();
      await store.idempotency.claim(s);
      assert.deepEqual(await store.idempotency.claim({ ...s, tenant: 't2' }), { kind: 'claimed' });
      assert.deepEqual(await store.idempotency.claim({ ...s, extension: 'e2' }), { kind: 'claimed' });
    });

    it('release frees the key for the next claim', async () => {
      const s = scope();
      await store.idempotency.claim(s);
      await store.idempotency.release(s);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'claimed' });
    });

    it('a done record is replayed until its TTL (24 h by default), then the key is claimable again', async () => {
      const s = scope();
      await store.idempotency.claim(s);
      await store.idempotency.complete(s, { status: 200 });
      clock.advance(DEFAULT_IDEMPOTENCY_TTL_MS - 1);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'done', response: { status: 200 } });
      clock.advance(1);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'claimed' });
    });

    it('an abandoned in-flight claim expires after its lease, and the late completion is refused', async () => {
      const s = scope();
      await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
      clock.advance(999);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'in-flight' });
      clock.advance(1);
      assert.equal(await store.idempotency.complete(s, { status: 200 }), false);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'claimed' });
      assert.equal(await store.idempotency.complete(s, { status: 204 }), true);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'done', response: { status: 204 } });
    });

    it('release does not remove a completed record; purgeExpired removes only expired ones', async () => {
      const done = scope();
      await store.idempotency.claim(done, 10_000);
      await store.idempotency.complete(done, 'ok');
      await store.idempotency.release(done);
      assert.deepEqual(await store.idempotency.claim(done), { kind: 'done', response: 'ok' });
      const shortLived = scope();
      await store.idempotency.claim(shortLived, 5_000);
      await store.idempotency.complete(shortLived, null);
      clock.advance(5_000);
      assert.ok((await store.idempotency.purgeExpired()) >= 1);
      const left = await store.db.selectFrom('idempotency').select('key').where('key', 'in', [done.key, shortLived.key]).execute();
      assert.deepEqual(
        left.map((r) => r.key),
        [done.key],
      );
    });

    it('a claim keeps its fingerprint: another fingerprint is a mismatch while in flight and once done', async () => {
      const s = scope();
      assert.deepEqual(await store.idempotency.claim(s, undefined, { fingerprint: 'request-a' }), { kind: 'claimed' });
      assert.deepEqual(await store.idempotency.claim(s, undefined, { fingerprint: 'request-b' }), { kind: 'mismatch', state: 'in-flight' });
      assert.deepEqual(await store.idempotency.claim(s, undefined, { fingerprint: 'request-a' }), { kind: 'in-flight' });
      assert.equal(await store.idempotency.complete(s, { status: 201 }), true);
      assert.deepEqual(await store.idempotency.claim(s, undefined, { fingerprint: 'request-b' }), { kind: 'mismatch', state: 'done' });
      assert.deepEqual(await store.idempotency.claim(s, undefined, { fingerprint: 'request-a' }), { kind: 'done', response: { status: 201 } });
      const stored = await store.db.selectFrom('idempotency').select('fingerprint').where('key', '=', s.key).executeTakeFirstOrThrow();
      assert.equal(stored.fingerprint, 'request-a');
    });

    it('a mismatch claims nothing: after the record expires the other request claims the key', async () => {
      const s = scope();
      await store.idempotency.claim(s, 10_000, { fingerprint: 'first' });
      await store.idempotency.complete(s, 'first answer');
      assert.deepEqual(await store.idempotency.claim(s, 10_000, { fingerprint: 'second' }), { kind: 'mismatch', state: 'done' });
      clock.advance(10_000);
      assert.deepEqual(await store.idempotency.claim(s, 10_000, { fingerprint: 'second' }), { kind: 'claimed' });
      await store.idempotency.complete(s, 'second answer');
      assert.deepEqual(await store.idempotency.claim(s, 10_000, { fingerprint: 'second' }), { kind: 'done', response: 'second answer' });
      assert.deepEqual(await store.idempotency.claim(s, 10_000, { fingerprint: 'first' }), { kind: 'mismatch', state: 'done' });
    });

    it('a record without a fingerprint (older runner) matches any request; a claim without one matches any record', async () => {
      const old = scope();
      await store.idempotency.claim(old);
      await store.idempotency.complete(old, 'old');
      assert.deepEqual(await store.idempotency.claim(old, undefined, { fingerprint: 'anything' }), { kind: 'done', response: 'old' });
      const fresh = scope();
      await store.idempotency.claim(fresh, undefined, { fingerprint: 'x' });
      assert.deepEqual(await store.idempotency.claim(fresh), { kind: 'in-flight' });
    });

    it('30 concurrent claims of one key from two independent connection pools: exactly one wins', async () => {
      const other = await backend.open({ now: clock.now, poolSize: 12 });
      try {
        const s = scope();
        const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? store : other).idempotency.claim(s)));
        assert.equal(results.filter((r) => r.kind === 'claimed').length, 1);
        assert.equal(results.filter((r) => r.kind === 'in-flight').length, 29);
      } finally {
        await other.close();
      }
    });
  });
}
