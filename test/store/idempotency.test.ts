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

    it('an abandoned in-flight claim expires after its lease; its late completion still lands while nobody took the key over', async () => {
      const s = scope();
      await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
      clock.advance(999);
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'in-flight' });
      clock.advance(1);
      assert.equal(await store.idempotency.complete(s, { status: 200 }), true, 'nobody else ran it: the answer is kept');
      assert.deepEqual(await store.idempotency.claim(s), { kind: 'done', response: { status: 200 } });
    });

    describe('leases held by one process and renewed by it', () => {
      let other: Store;
      before(async () => {
        other = await backend.open({ now: clock.now, idempotencyHolder: 'other-process' });
      });
      after(async () => other?.close());

      it('each store claims as its own holder, recorded with the claim', async () => {
        assert.notEqual(store.idempotency.holder, other.idempotency.holder);
        const s = scope();
        await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
        const row = await store.db.selectFrom('idempotency').select('holder').where('key', '=', s.key).executeTakeFirstOrThrow();
        assert.equal(row.holder, store.idempotency.holder);
      });

      it('renewal keeps the claim past its first lease: another holder still sees it in flight', async () => {
        const s = scope();
        await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
        for (let i = 0; i < 5; i++) {
          clock.advance(600);
          assert.equal(await store.idempotency.renew(s, 1000), true);
          assert.deepEqual(await other.idempotency.claim(s, 60_000, { leaseMs: 1000 }), { kind: 'in-flight' }, `after ${(i + 1) * 600} ms`);
        }
        assert.equal(await store.idempotency.complete(s, 'renewed'), true);
        assert.deepEqual(await other.idempotency.claim(s), { kind: 'done', response: 'renewed' });
      });

      it('an expired lease lets another holder take the key over; the stale holder can then neither renew, complete nor release it', async () => {
        const s = scope();
        await store.idempotency.claim(s, 60_000, { leaseMs: 1000, fingerprint: 'f' });
        clock.advance(1000);
        assert.deepEqual(await other.idempotency.claim(s, 60_000, { leaseMs: 1000, fingerprint: 'f' }), { kind: 'claimed' });
        assert.equal(await store.idempotency.renew(s, 1000), false);
        assert.equal(await store.idempotency.complete(s, 'stale answer'), false);
        assert.equal(await store.idempotency.release(s), false);
        assert.deepEqual(await store.idempotency.claim(s, 60_000, { fingerprint: 'f' }), { kind: 'in-flight' }, 'the new holder still holds it');
        assert.equal(await other.idempotency.complete(s, 'new holder answer'), true);
        assert.deepEqual(await store.idempotency.claim(s, 60_000, { fingerprint: 'f' }), { kind: 'done', response: 'new holder answer' });
        const row = await store.db.selectFrom('idempotency').select(['holder', 'response']).where('key', '=', s.key).executeTakeFirstOrThrow();
        assert.equal(row.holder, 'other-process');
      });

      it('only the holder releases or completes a live claim', async () => {
        const s = scope();
        await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
        assert.equal(await other.idempotency.release(s), false);
        assert.equal(await other.idempotency.complete(s, 'not mine'), false);
        assert.equal(await other.idempotency.renew(s, 1000), false);
        assert.equal(await store.idempotency.release(s), true);
        assert.deepEqual(await other.idempotency.claim(s), { kind: 'claimed' });
      });

      it('a renewal after the claim was purged or completed reports the claim lost', async () => {
        const s = scope();
        await store.idempotency.claim(s, 60_000, { leaseMs: 1000 });
        clock.advance(1000);
        assert.ok((await other.idempotency.purgeExpired()) >= 1);
        assert.equal(await store.idempotency.renew(s, 1000), false);
        const t = scope();
        await store.idempotency.claim(t, 60_000, { leaseMs: 1000 });
        await store.idempotency.complete(t, 'done');
        assert.equal(await store.idempotency.renew(t, 1000), false, 'a done record is not in flight');
      });
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
