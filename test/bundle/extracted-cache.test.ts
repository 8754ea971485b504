import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { contentHashOf, ExtractedBundleCache, type BundleResult, type BundleSource } from '../../src/bundle/index.js';
import { makeTar, validEntries, withTempDir, zstd } from './fixtures.js';

/** A bundle whose extracted size is about `kib` KiB (random bytes: no compression tricks). */
async function bundleOf(kib: number, tag: string): Promise<Buffer> {
  const { randomBytes } = await import('node:crypto');
  return zstd(await makeTar([...validEntries(), { name: `ui/${tag}.bin`, data: randomBytes(kib * 1024) }]));
}

const loader = (bytes: Buffer, calls: { n: number }) => async (): Promise<BundleResult<BundleSource>> => {
  calls.n += 1;
  return { kind: 'ok', value: bytes };
};

describe('extracted bundle cache', () => {
  it('extracts once, serves hits without loading, and evicts least recently used past the bound', async () => {
    await withTempDir(async (dir) => {
      const cache = await ExtractedBundleCache.open({ dir, maxBytes: 250 * 1024 });
      const [a, b, c] = await Promise.all([bundleOf(100, 'a'), bundleOf(100, 'b'), bundleOf(100, 'c')]);
      const calls = { n: 0 };
      const ha = contentHashOf(a!);
      const hb = contentHashOf(b!);
      const hc = contentHashOf(c!);
      assert.equal((await cache.ensure(ha, loader(a!, calls))).kind, 'ok');
      assert.equal((await cache.ensure(hb, loader(b!, calls))).kind, 'ok');
      const hit = await cache.ensure(ha, loader(a!, calls)); // a is now more recent than b
      assert.equal(calls.n, 2, 'a hit does not load');
      assert.equal(hit.kind === 'ok' && hit.value.manifest.name, 'com.acme.hello');
      assert.equal((await cache.ensure(hc, loader(c!, calls))).kind, 'ok');
      assert.ok(cache.has(ha) && cache.has(hc) && !cache.has(hb), 'b was least recently used');
      assert.ok(cache.usage().bytes <= 250 * 1024);
      assert.deepEqual((await readdir(dir)).sort(), [`sha256-${ha.slice(7)}`, `sha256-${hc.slice(7)}`].sort());
    });
  });

  it('shares one load and extraction among concurrent misses', async () => {
    await withTempDir(async (dir) => {
      const cache = await ExtractedBundleCache.open({ dir, maxBytes: 10 * 1024 * 1024 });
      const bytes = await bundleOf(10, 'x');
      const calls = { n: 0 };
      const results = await Promise.all(Array.from({ length: 5 }, () => cache.ensure(contentHashOf(bytes), loader(bytes, calls))));
      assert.ok(results.every((r) => r.kind === 'ok'));
      assert.equal(calls.n, 1);
    });
  });

  it('refuses bytes that do not match the hash, and indexes what is on disk when reopened', async () => {
    await withTempDir(async (dir) => {
      const cache = await ExtractedBundleCache.open({ dir, maxBytes: 10 * 1024 * 1024 });
      const bytes = await bundleOf(10, 'x');
      const wrong = await cache.ensure(`sha256:${'c'.repeat(64)}`, loader(bytes, { n: 0 }));
      assert.equal(wrong.kind === 'err' && wrong.error.code, 'BUNDLE_HASH_MISMATCH');
      const hash = contentHashOf(bytes);
      await cache.ensure(hash, loader(bytes, { n: 0 }));

      const reopened = await ExtractedBundleCache.open({ dir, maxBytes: 10 * 1024 * 1024 });
      assert.ok(reopened.has(hash));
      assert.equal(reopened.usage().bytes, cache.usage().bytes);
      const calls = { n: 0 };
      assert.equal((await reopened.ensure(hash, loader(bytes, calls))).kind, 'ok');
      assert.equal(calls.n, 0, 'a reopened cache serves what it found on disk');

      // Another process evicted it: the next ensure extracts again instead of failing.
      await rm(join(dir, `sha256-${hash.slice(7)}`), { recursive: true });
      const again = await reopened.ensure(hash, loader(bytes, calls));
      assert.equal(again.kind, 'ok');
      assert.equal(calls.n, 1);
    });
  });
});
