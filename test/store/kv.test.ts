import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { DEFAULT_KV_LIMITS } from '../../src/store/index.js';
import type { KvLimits, KvStore, Store } from '../../src/store/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

for (const backend of backends('kv')) {
  describe(`kv store (${backend.name})`, { skip: backend.skip }, () => {
    let store: Store;
    let kv: KvStore;
    let n = 0;
    // each test gets installs of its own, so tests do not see each other's data
    const install = () => `install-${++n}`;

    before(async () => {
      store = await backend.open({ poolSize: 12 });
      kv = store.kv;
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('starts revisions at 1 and adds 1 per write; get returns the latest value', async () => {
      const id = install();
      const first = await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('a') });
      assert.equal(first.kind === 'ok' && first.entry.revision, 1);
      const second = await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('b') });
      assert.equal(second.kind === 'ok' && second.entry.revision, 2);
      const got = await kv.get(id, 'ns', 'k');
      assert.equal(got.kind, 'ok');
      assert.ok(got.kind === 'ok');
      assert.equal(text(got.entry.value), 'b');
      assert.equal(got.entry.revision, 2);
      assert.deepEqual({ namespace: got.entry.namespace, key: got.entry.key }, { namespace: 'ns', key: 'k' });
    });

    it('compare-and-swap: matching revision writes, a stale one conflicts and changes nothing', async () => {
      const id = install();
      await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v1') });
      const swapped = await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v2'), revision: 1 });
      assert.equal(swapped.kind === 'ok' && swapped.entry.revision, 2);
      assert.deepEqual(await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v3'), revision: 1 }), { kind: 'conflict' });
      assert.deepEqual(await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('v3'), revision: 7 }), { kind: 'conflict' });
      const got = await kv.get(id, 'ns', 'k');
      assert.ok(got.kind === 'ok');
      assert.equal(text(got.entry.value), 'v2');
      assert.equal(got.entry.revision, 2);
    });

    it('revision 0 creates only when the key is absent; a revision on a missing key conflicts', async () => {
      const id = install();
      const created = await kv.put(id, { namespace: 'ns', key: 'new', value: bytes('x'), revision: 0 });
      assert.equal(created.kind === 'ok' && created.entry.revision, 1);
      assert.deepEqual(await kv.put(id, { namespace: 'ns', key: 'new', value: bytes('y'), revision: 0 }), { kind: 'conflict' });
      assert.deepEqual(await kv.put(id, { namespace: 'ns', key: 'absent', value: bytes('y'), revision: 3 }), { kind: 'conflict' });
      assert.deepEqual(await kv.get(id, 'ns', 'absent'), { kind: 'missing' });
    });

    it('get and delete of a missing key answer missing; delete removes; a re-created key starts at revision 1', async () => {
      const id = install();
      assert.deepEqual(await kv.get(id, 'ns', 'nope'), { kind: 'missing' });
      assert.deepEqual(await kv.delete(id, 'ns', 'nope'), { kind: 'missing' });
      await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('1') });
      await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('2') });
      assert.deepEqual(await kv.delete(id, 'ns', 'k'), { kind: 'ok' });
      assert.deepEqual(await kv.get(id, 'ns', 'k'), { kind: 'missing' });
      assert.deepEqual(await kv.delete(id, 'ns', 'k'), { kind: 'missing' });
      const again = await kv.put(id, { namespace: 'ns', key: 'k', value: bytes('3') });
      assert.equal(again.kind === 'ok' && again.entry.revision, 1);
    });

    it('stores arbitrary bytes exactly, including empty values and NUL bytes', async () => {
      const id = install();
      const value = new Uint8Array(256).map((_, i) => i);
      await kv.put(id, { namespace: 'bin', key: 'all', value });
      await kv.put(id, { namespace: 'bin', key: 'empty', value: new Uint8Array(0) });
      const all = await kv.get(id, 'bin', 'all');
      const empty = await kv.get(id, 'bin', 'empty');
      assert.ok(all.kind === 'ok' && empty.kind === 'ok');
      assert.deepEqual([...all.entry.value], [...value]);
      assert.equal(empty.entry.value.byteLength, 0);
    });

    it('a 250-key namespace reads back complete and ordered in pages of 100, 100, 50, then an empty page', async () => {
      const id = install();
      const keys = Array.from({ length: 250 }, (_, i) => `key-${String(i).padStart(3, '0')}`);
      // written in a shuffled order so ordering comes from the store, not from insertion
      for (const k of [...keys].sort(() => Math.random() - 0.5)) await kv.put(id, { namespace: 'page', key: k, value: bytes(k) });
      await kv.put(id, { namespace: 'other', key: 'key-000-x', value: bytes('elsewhere') });

      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await kv.list(id, 'page', cursor);
        assert.ok(page.kind === 'ok');
        sizes.push(page.entries.length);
        if (page.entries.length === 0) break;
        for (const e of page.entries) {
          assert.equal(e.namespace, 'page');
          assert.equal(text(e.value), e.key);
          assert.equal(e.revision, 1);
        }
        seen.push(...page.entries.map((e) => e.key));
        cursor = page.entries.at(-1)?.key;
      }
      assert.deepEqual(sizes, [100, 100, 50, 0]);
      assert.deepEqual(seen, keys);
    });

    it('orders keys byte-wise (UTF-8), the same on every backend, and pages by cursor past any key', async () => {
      const id = install();
      const keys = ['b', 'B', 'a', 'A', 'é', 'z', '😀', '0', 'a b', 'ab', '_'];
      for (const k of keys) await kv.put(id, { namespace: 'ord', key: k, value: bytes(k) });
      const page = await kv.list(id, 'ord');
      assert.ok(page.kind === 'ok');
      const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual(
        page.entries.map((e) => e.key),
        byteOrder,
      );
      const after = await kv.list(id, 'ord', 'ab');
      assert.ok(after.kind === 'ok');
      assert.deepEqual(
        after.entries.map((e) => e.key),
        byteOrder.slice(byteOrder.indexOf('ab') + 1),
      );
      // a cursor that is not itself a key still pages from the right place
      const fromGap = await kv.list(id, 'ord', 'c');
      assert.ok(fromGap.kind === 'ok');
      assert.deepEqual(
        fromGap.entries.map((e) => e.key),
        ['z', 'é', '😀'],
      );
    });

    it('keeps installs apart: same namespace and key, different data, lists and deletes', async () => {
      const a = install();
      const b = install();
      await kv.put(a, { namespace: 'shared', key: 'k', value: bytes('from a') });
      assert.deepEqual(await kv.get(b, 'shared', 'k'), { kind: 'missing' });
      const listB = await kv.list(b, 'shared');
      assert.ok(listB.kind === 'ok');
      assert.equal(listB.entries.length, 0);
      assert.deepEqual(await kv.delete(b, 'shared', 'k'), { kind: 'missing' });
      await kv.put(b, { namespace: 'shared', key: 'k', value: bytes('from b') });
      const fromA = await kv.get(a, 'shared', 'k');
      assert.ok(fromA.kind === 'ok');
      assert.equal(text(fromA.entry.value), 'from a');
      assert.equal(fromA.entry.revision, 1);
    });

    describe('quotas', () => {
      const small: KvLimits = {
        ...DEFAULT_KV_LIMITS,
        maxValueBytes: 8,
        maxKeyChars: 4,
        maxNamespaceChars: 3,
        maxKeysPerNamespace: 3,
        maxNamespacesPerInstall: 2,
        maxBytesPerInstall: 20,
      };

      it('the defaults are the documented quotas (docs/limits.md)', () => {
        assert.deepEqual(DEFAULT_KV_LIMITS, {
          maxValueBytes: 65536,
          maxKeyChars: 256,
          maxNamespaceChars: 128,
          maxKeysPerNamespace: 5120,
          maxNamespacesPerInstall: 32,
          maxBytesPerInstall: 268435456,
          pageSize: 100,
        });
      });

      it('value, key and namespace size: at the limit passes, one over is denied with a reason', async () => {
        const id = install();
        assert.equal((await kv.put(id, { namespace: 'abc', key: 'wxyz', value: new Uint8Array(8) }, small)).kind, 'ok');
        assert.deepEqual(await kv.put(id, { namespace: 'abc', key: 'k', value: new Uint8Array(9) }, small), {
          kind: 'denied',
          reason: 'value of 9 bytes exceeds 8 bytes',
        });
        assert.deepEqual(await kv.put(id, { namespace: 'abc', key: 'vwxyz', value: bytes('1') }, small), {
          kind: 'denied',
          reason: 'key longer than 4 characters',
        });
        assert.deepEqual(await kv.put(id, { namespace: 'abcd', key: 'k', value: bytes('1') }, small), {
          kind: 'denied',
          reason: 'namespace longer than 3 characters',
        });
        // characters, not UTF-16 units or bytes: four emoji are a 4-character key
        assert.equal((await kv.put(id, { namespace: 'abc', key: '😀😀😀😀', value: bytes('1') }, small)).kind, 'ok');
        assert.equal((await kv.get(id, 'abcd', 'k', small)).kind, 'denied');
        assert.equal((await kv.list(id, 'abcd', undefined, small)).kind, 'denied');
        assert.equal((await kv.delete(id, 'abc', 'vwxyz', small)).kind, 'denied');
      });

      it('empty or NUL-containing names are denied', async () => {
        const id = install();
        assert.deepEqual(await kv.put(id, { namespace: '', key: 'k', value: bytes('1') }), { kind: 'denied', reason: 'namespace must not be empty' });
        assert.deepEqual(await kv.put(id, { namespace: 'n', key: '', value: bytes('1') }), { kind: 'denied', reason: 'key must not be empty' });
        assert.deepEqual(await kv.put(id, { namespace: 'n', key: 'a\u0000b', value: bytes('1') }), { kind: 'denied', reason: 'key must not contain NUL' });
      });

      it('keys per namespace: the next new key is denied, overwriting an existing key is not, deleting frees a slot', async () => {
        const id = install();
        for (const k of ['a', 'b', 'c']) assert.equal((await kv.put(id, { namespace: 'ns', key: k, value: bytes('1') }, small)).kind, 'ok');
        assert.deepEqual(await kv.put(id, { namespace: 'ns', key: 'd', value: bytes('1') }, small), {
          kind: 'denied',
          reason: 'namespace "ns" already has 3 keys',
        });
        assert.equal((await kv.put(id, { namespace: 'ns', key: 'a', value: bytes('2') }, small)).kind, 'ok');
        await kv.delete(id, 'ns', 'b', small);
        assert.equal((await kv.put(id, { namespace: 'ns', key: 'd', value: bytes('1') }, small)).kind, 'ok');
      });

      it('namespaces per install: a third namespace is denied until one is emptied', async () => {
        const id = install();
        await kv.put(id, { namespace: 'n1', key: 'k', value: bytes('1') }, small);
        await kv.put(id, { namespace: 'n2', key: 'k', value: bytes('1') }, small);
        assert.deepEqual(await kv.put(id, { namespace: 'n3', key: 'k', value: bytes('1') }, small), {
          kind: 'denied',
          reason: 'install already has 2 namespaces',
        });
        assert.deepEqual(await kv.usage(id), { totalBytes: 2, namespaces: 2 });
        await kv.delete(id, 'n1', 'k', small);
        assert.deepEqual(await kv.usage(id), { totalBytes: 1, namespaces: 1 });
        assert.equal((await kv.put(id, { namespace: 'n3', key: 'k', value: bytes('1') }, small)).kind, 'ok');
      });

      it('bytes per install: counts replaced values once, denies the write that would go over', async () => {
        const id = install();
        await kv.put(id, { namespace: 'a', key: 'k1', value: new Uint8Array(8) }, small);
        await kv.put(id, { namespace: 'a', key: 'k2', value: new Uint8Array(8) }, small);
        // replacing 8 bytes by 8 bytes keeps the total at 16
        assert.equal((await kv.put(id, { namespace: 'a', key: 'k1', value: new Uint8Array(8) }, small)).kind, 'ok');
        assert.deepEqual(await kv.put(id, { namespace: 'b', key: 'k3', value: new Uint8Array(5) }, small), {
          kind: 'denied',
          reason: 'install storage would reach 21 bytes, over 20 bytes',
        });
        assert.equal((await kv.put(id, { namespace: 'b', key: 'k3', value: new Uint8Array(4) }, small)).kind, 'ok');
        assert.deepEqual(await kv.usage(id), { totalBytes: 20, namespaces: 2 });
        // the denied write left nothing behind
        assert.deepEqual(await kv.get(id, 'b', 'k3', small).then((r) => r.kind === 'ok' && r.entry.value.byteLength), 4);
      });
    });

    it('50 racing compare-and-swap increments end with the counter equal to the successful writes', async () => {
      const id = install();
      await kv.put(id, { namespace: 'race', key: 'counter', value: bytes('0') });
      const attempt = async () => {
        const current = await kv.get(id, 'race', 'counter');
        assert.ok(current.kind === 'ok');
        const next = String(Number(text(current.entry.value)) + 1);
        const written = await kv.put(id, { namespace: 'race', key: 'counter', value: bytes(next), revision: current.entry.revision });
        return written.kind;
      };
      const outcomes = await Promise.all(Array.from({ length: 50 }, attempt));
      assert.ok(
        outcomes.every((o) => o === 'ok' || o === 'conflict'),
        `unexpected outcome in ${outcomes.join(',')}`,
      );
      const successes = outcomes.filter((o) => o === 'ok').length;
      const final = await kv.get(id, 'race', 'counter');
      assert.ok(final.kind === 'ok');
      assert.equal(Number(text(final.entry.value)), successes);
      assert.equal(final.entry.revision, successes + 1);
    });

    it('20 racing increments that retry on conflict all land', async () => {
      const id = install();
      let conflicts = 0;
      const increment = async () => {
        for (;;) {
          const current = await kv.get(id, 'race', 'counter');
          const revision = current.kind === 'ok' ? current.entry.revision : 0;
          const value = current.kind === 'ok' ? Number(text(current.entry.value)) : 0;
          const written = await kv.put(id, { namespace: 'race', key: 'counter', value: bytes(String(value + 1)), revision });
          if (written.kind === 'ok') return;
          assert.equal(written.kind, 'conflict');
          conflicts++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, increment));
      const final = await kv.get(id, 'race', 'counter');
      assert.ok(final.kind === 'ok');
      assert.equal(Number(text(final.entry.value)), 20);
      assert.equal(final.entry.revision, 20);
      assert.ok(conflicts > 0, 'the increments were expected to race');
    });

    it('deleteInstall removes every entry and the usage of that install only', async () => {
      const a = install();
      const b = install();
      await kv.put(a, { namespace: 'n', key: 'k', value: bytes('1') });
      await kv.put(b, { namespace: 'n', key: 'k', value: bytes('1') });
      await kv.deleteInstall(a);
      assert.deepEqual(await kv.get(a, 'n', 'k'), { kind: 'missing' });
      assert.deepEqual(await kv.usage(a), { totalBytes: 0, namespaces: 0 });
      assert.equal((await kv.get(b, 'n', 'k')).kind, 'ok');
    });
  });
}
