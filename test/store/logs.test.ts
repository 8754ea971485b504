import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends, manualClock } from './backends.js';
import { truncateUtf8 } from '../../src/store/index.js';
import type { LogAppend, Store } from '../../src/store/index.js';

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

describe('truncateUtf8', () => {
  it('leaves text within the limit alone', () => {
    assert.deepEqual(truncateUtf8('', 0), { text: '', truncated: false });
    assert.deepEqual(truncateUtf8('hello', 5), { text: 'hello', truncated: false });
    assert.deepEqual(truncateUtf8('héllo😀', 10), { text: 'héllo😀', truncated: false });
  });

  it('cuts ASCII at exactly the limit', () => {
    assert.deepEqual(truncateUtf8('hello world', 5), { text: 'hello', truncated: true });
  });

  // Every cut position inside each multi-byte character: the result never holds a partial one.
  for (const [label, char] of [
    ['2-byte é', 'é'],
    ['3-byte €', '€'],
    ['4-byte emoji', '😀'],
  ] as const) {
    it(`never splits a ${label} at the boundary`, () => {
      const width = utf8Length(char);
      const text = `ab${char}cd`;
      for (let limit = 2; limit < 2 + width; limit++) {
        assert.deepEqual(truncateUtf8(text, limit), { text: 'ab', truncated: true }, `limit ${limit}`);
      }
      assert.deepEqual(truncateUtf8(text, 2 + width), { text: `ab${char}`, truncated: true });
    });
  }

  it('handles a long run of emoji and a very long message without exceeding the limit', () => {
    const emoji = '😀'.repeat(3000);
    for (const limit of [0, 1, 3, 4, 5, 8191, 8192]) {
      const cut = truncateUtf8(emoji, limit);
      assert.equal(cut.truncated, true);
      assert.equal(cut.text, '😀'.repeat(Math.floor(limit / 4)));
    }
    const huge = 'x'.repeat(5_000_000) + 'é';
    const cut = truncateUtf8(huge, 8192);
    assert.equal(cut.text.length, 8192);
    assert.equal(cut.truncated, true);
  });

  it('a pair of UTF-16 surrogates split by the text-level prefix is not emitted as a replacement char', () => {
    // 8191 ASCII bytes, then an emoji straddling the 8192-unit prefix the fast path takes
    const text = 'a'.repeat(8191) + '😀' + 'tail';
    const cut = truncateUtf8(text, 8192);
    assert.deepEqual(cut, { text: 'a'.repeat(8191), truncated: true });
    assert.ok(!cut.text.includes('\uFFFD'));
  });
});

for (const backend of backends('logs')) {
  describe(`log store (${backend.name})`, { skip: backend.skip }, () => {
    const clock = manualClock(Date.UTC(2025, 4, 1, 12, 0, 0));
    let store: Store;
    const record = (install: string, message: string, extra: Partial<LogAppend> = {}): LogAppend => ({
      level: 'info',
      stream: 'log',
      message,
      tenant: 'tenant-1',
      extension: 'ext-1',
      install,
      version: 'ver-1',
      request_id: 'req-1',
      ...extra,
    });

    before(async () => {
      store = await backend.open({ now: clock.now, logs: { maxRecordsPerInstall: 5, maxMessageBytes: 16 } });
    });
    after(async () => {
      await store?.close();
      await backend.dispose();
    });

    it('stores every field and reads records back oldest first', async () => {
      await store.logs.append([record('i1', 'first', { level: 'warn', stream: 'stderr', request_id: 'r-a' }), record('i1', 'second', { ts: Date.UTC(2025, 0, 2), version: null, request_id: null })]);
      const records = await store.logs.query({ installId: 'i1' });
      assert.equal(records.length, 2);
      const [first, second] = records;
      assert.ok(first && second && first.id < second.id);
      assert.deepEqual(
        { ...first, id: 0 },
        {
          id: 0,
          ts: '2025-05-01T12:00:00.000Z',
          level: 'warn',
          stream: 'stderr',
          message: 'first',
          tenant: 'tenant-1',
          extension: 'ext-1',
          install: 'i1',
          version: 'ver-1',
          request_id: 'r-a',
          truncated: false,
        },
      );
      assert.equal(second.ts, '2025-01-02T00:00:00.000Z');
      assert.equal(second.version, null);
      assert.equal(second.request_id, null);
    });

    it('truncates long messages on UTF-8 boundaries and flags them', async () => {
      await store.logs.append([record('i2', 'ééééééééé'), record('i2', 'short', { truncated: true })]);
      const [long, flagged] = await store.logs.query({ installId: 'i2' });
      assert.deepEqual([long?.message, long?.truncated], ['éééééééé', true]);
      assert.deepEqual([flagged?.message, flagged?.truncated], ['short', true]);
    });

    it('keeps at most the bound per install, dropping the oldest, without touching other installs', async () => {
      await store.logs.append([record('i3', 'keep-other')]);
      for (let i = 0; i < 4; i++) await store.logs.append([record('i4', `m${i}`)]);
      await store.logs.append([record('i4', 'm4'), record('i4', 'm5'), record('i4', 'm6')]);
      const kept = await store.logs.query({ installId: 'i4', limit: 100 });
      assert.deepEqual(
        kept.map((r) => r.message),
        ['m2', 'm3', 'm4', 'm5', 'm6'],
      );
      assert.deepEqual(
        (await store.logs.query({ installId: 'i3' })).map((r) => r.message),
        ['keep-other'],
      );
    });

    it('queries by request id, by install with a limit, and tails after an id', async () => {
      await store.logs.append([record('i5', 'a', { request_id: 'x' }), record('i5', 'b', { request_id: 'y' }), record('i5', 'c', { request_id: 'x' }), record('i6', 'elsewhere', { request_id: 'x' })]);
      assert.deepEqual(
        (await store.logs.query({ installId: 'i5', requestId: 'x' })).map((r) => r.message),
        ['a', 'c'],
      );
      const newest = await store.logs.query({ installId: 'i5', limit: 2 });
      assert.deepEqual(
        newest.map((r) => r.message),
        ['b', 'c'],
      );
      const all = await store.logs.query({ installId: 'i5' });
      const tail = await store.logs.query({ installId: 'i5', afterId: all[0]!.id });
      assert.deepEqual(
        tail.map((r) => r.message),
        ['b', 'c'],
      );
      assert.deepEqual(await store.logs.query({ installId: 'i5', afterId: all.at(-1)!.id }), []);
      await store.logs.append([record('i5', 'd')]);
      assert.deepEqual(
        (await store.logs.query({ installId: 'i5', afterId: all.at(-1)!.id })).map((r) => r.message),
        ['d'],
      );
      assert.deepEqual(
        (await store.logs.query({ installId: 'i5', afterId: all[0]!.id, limit: 1 })).map((r) => r.message),
        ['b'],
      );
    });

    it('deleteInstall drops the install’s records and resets its bound', async () => {
      await store.logs.append([record('i7', 'one'), record('i7', 'two')]);
      await store.logs.deleteInstall('i7');
      assert.deepEqual(await store.logs.query({ installId: 'i7' }), []);
      for (let i = 0; i < 5; i++) await store.logs.append([record('i7', `n${i}`)]);
      assert.equal((await store.logs.query({ installId: 'i7' })).length, 5);
    });
  });
}

describe('log store default bound', () => {
  const [sqlite] = backends('logsdefault');
  after(() => sqlite!.dispose());

  it('keeps 10 000 records per install by default', async () => {
    const store = await sqlite!.open();
    try {
      const batch = (from: number, n: number): LogAppend[] =>
        Array.from({ length: n }, (_, i) => ({ level: 'info', stream: 'stdout', message: `m${from + i}`, tenant: 't', extension: 'e', install: 'big', version: null, request_id: null }));
      await store.logs.append(batch(0, 6000));
      await store.logs.append(batch(6000, 6000));
      const oldest = await store.logs.query({ installId: 'big', afterId: 0, limit: 1 });
      assert.equal(oldest[0]?.message, 'm2000');
      const newest = await store.logs.query({ installId: 'big', limit: 10_000 });
      assert.equal(newest.length, 10_000);
      assert.equal(newest.at(-1)?.message, 'm11999');
    } finally {
      await store.close();
    }
  });
});
