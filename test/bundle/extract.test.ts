import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { contentHashOf, extractBundle, readBundle } from '../../src/bundle/index.js';
import { makeTar, validBundle, validEntries, withTempDir, WASM, zstd } from './fixtures.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./extract-child.js', import.meta.url));

describe('reading and extracting bundles', () => {
  it('reads a bundle in memory', async () => {
    const bytes = await validBundle();
    const read = await readBundle(bytes);
    assert.equal(read.kind, 'ok');
    if (read.kind !== 'ok') return;
    assert.equal(read.value.contentHash, contentHashOf(bytes));
    assert.equal(read.value.manifest.name, 'com.acme.hello');
    assert.deepEqual(Buffer.from(read.value.mainWasm ?? []), WASM);
    assert.deepEqual([...read.value.uiFiles.keys()], ['ui/index.html']);
  });

  it('accepts ./-prefixed entries and directory entries from ordinary tar tools', async () => {
    const entries = [{ name: './', type: 'directory' as const }, { name: './dist/', type: 'directory' as const }, ...validEntries().map((e) => ({ ...e, name: `./${e.name}` }))];
    const read = await readBundle(zstd(await makeTar(entries)));
    assert.equal(read.kind, 'ok', read.kind === 'err' ? read.error.message : '');
  });

  it('refuses bytes that do not match the expected hash', async () => {
    const bytes = await validBundle();
    const read = await readBundle(bytes, { expectedContentHash: `sha256:${'0'.repeat(64)}` });
    assert.equal(read.kind === 'err' && read.error.code, 'BUNDLE_HASH_MISMATCH');
    await withTempDir(async (dir) => {
      const extracted = await extractBundle(bytes, join(dir, 'b'), { expectedContentHash: `sha256:${'0'.repeat(64)}` });
      assert.equal(extracted.kind === 'err' && extracted.error.code, 'BUNDLE_HASH_MISMATCH');
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it('extracts atomically with plain file modes, and reuses an existing extraction', async () => {
    await withTempDir(async (dir) => {
      const bytes = await validBundle();
      const target = join(dir, 'b');
      const first = await extractBundle(bytes, target, { expectedContentHash: contentHashOf(bytes) });
      assert.equal(first.kind, 'ok');
      assert.equal(first.kind === 'ok' && first.value.reused, false);
      assert.equal(await readFile(join(target, 'ui/index.html'), 'utf8'), '<!doctype html><p>hello</p>');
      assert.equal((await stat(join(target, 'dist/main.wasm'))).mode & 0o777, 0o644);
      const again = await extractBundle(bytes, target);
      assert.equal(again.kind === 'ok' && again.value.reused, true);
      assert.deepEqual(await readdir(dir), ['b']);
    });
  });

  it('runs one extraction per target for concurrent callers in a process', async () => {
    await withTempDir(async (dir) => {
      const bytes = await validBundle();
      const target = join(dir, 'b');
      const calls = [extractBundle(bytes, target), extractBundle(bytes, target), extractBundle(bytes, target)];
      assert.equal(calls[0], calls[1], 'concurrent callers must share one promise');
      const results = await Promise.all(calls);
      assert.ok(results.every((r) => r.kind === 'ok' && !r.value.reused));
    });
  });

  it('survives a cross-process race: one rename wins, the other uses its copy and cleans up', async () => {
    await withTempDir(async (dir) => {
      const bundlePath = join(dir, 'bundle.tar.zst');
      await writeFile(bundlePath, zstd(await makeTar([...validEntries(), ...Array.from({ length: 50 }, (_, i) => ({ name: `ui/f${i}.js`, data: `// ${i}` }))])));
      const target = join(dir, 'cache', 'b');
      const outcomes = await Promise.all([1, 2].map(() => run(process.execPath, [child, bundlePath, target])));
      const parsed = outcomes.map((o) => JSON.parse(o.stdout) as { kind: string; reused?: boolean });
      assert.ok(
        parsed.every((p) => p.kind === 'ok'),
        JSON.stringify(parsed),
      );
      assert.ok(
        parsed.some((p) => p.reused === false),
        'someone extracted',
      );
      assert.deepEqual(await readdir(join(dir, 'cache')), ['b'], 'losers must discard their temporary directories');
      assert.equal((await readdir(join(target, 'ui'))).length, 51);
    });
  });
});
