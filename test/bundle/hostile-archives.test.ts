/**
 * Hand-made hostile archives, each refused by both readers (in memory and to disk) with the
 * expected code, and nothing left behind on disk.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extractBundle, readBundle, type BundleErrorCode, type BundleLimits } from '../../src/bundle/index.js';
import { makeTar, validEntries, withTempDir, zstd, type TarEntry } from './fixtures.js';

async function expectRefused(bytes: Uint8Array, code: BundleErrorCode, limits?: Partial<BundleLimits>): Promise<string> {
  const read = await readBundle(bytes, { limits });
  assert.equal(read.kind, 'err', 'readBundle accepted a hostile archive');
  assert.equal(read.kind === 'err' && read.error.code, code, read.kind === 'err' ? read.error.message : '');
  await withTempDir(async (dir) => {
    const target = join(dir, 'out', 'bundle');
    const extracted = await extractBundle(bytes, target, { limits });
    assert.equal(extracted.kind === 'err' && extracted.error.code, code);
    await assert.rejects(access(target), /ENOENT/, 'a refused bundle must not appear at the target');
    assert.deepEqual(await readdir(join(dir, 'out')), [], 'the temporary directory must be removed');
    assert.deepEqual(await readdir(dir), ['out'], 'nothing may be written outside the target');
  });
  return read.kind === 'err' ? read.error.message : '';
}

const withEntry = async (entry: TarEntry): Promise<Buffer> => zstd(await makeTar([...validEntries(), entry]));

describe('hostile archives', () => {
  it('stops a zstd bomb by ratio soon after the grace allowance', async () => {
    const bomb = zstd(await makeTar([...validEntries(), { name: 'ui/zeros.bin', data: Buffer.alloc(16 * 1024 * 1024) }]));
    assert.ok(bomb.byteLength < 64 * 1024, `bomb should be small, is ${bomb.byteLength}`);
    const message = await expectRefused(bomb, 'BUNDLE_RATIO_EXCEEDED');
    const expanded = Number(/expanded past (\d+)/.exec(message)?.[1]);
    assert.ok(expanded < 5 * 1024 * 1024, `decompression must stop early, got ${expanded} bytes out`);
  });

  it('stops a bare zstd bomb (no tar inside) by total size', async () => {
    const bomb = zstd(Buffer.alloc(16 * 1024 * 1024));
    await expectRefused(bomb, 'BUNDLE_TOO_LARGE', { maxTotalBytes: 8 * 1024 * 1024, maxRatio: 1e9 });
  });

  it('refuses an entry larger than the per-file cap before reading it', async () => {
    await expectRefused(await withEntry({ name: 'ui/big.bin', data: Buffer.alloc(2 * 1024 * 1024, 7) }), 'BUNDLE_ENTRY_TOO_LARGE', { maxFileBytes: 1024 * 1024 });
  });

  it('refuses a huge entry count', async () => {
    const many = Array.from({ length: 300 }, (_, i): TarEntry => ({ name: `ui/f${i}.txt`, data: 'x' }));
    await expectRefused(zstd(await makeTar([...validEntries(), ...many])), 'BUNDLE_TOO_MANY_ENTRIES', { maxEntries: 100 });
  });

  it('refuses a compressed bundle past the compressed-size cap', async () => {
    await expectRefused(await withEntry({ name: 'ui/noise.bin', data: randomBytes(200_000) }), 'BUNDLE_TOO_LARGE', { maxCompressedBytes: 10_000 });
  });

  for (const [label, name] of [
    ['traversal', '../x'],
    ['nested traversal', 'ui/../../x'],
    ['absolute path', '/etc/cron.d/x'],
    ['backslash', 'ui\\..\\x'],
    ['hidden segment', 'ui/.env'],
    ['hidden directory', '.git/config'],
    ['empty segment', 'ui//x'],
  ] as const) {
    it(`refuses ${label} (${name})`, async () => {
      await expectRefused(await withEntry({ name, data: 'owned' }), 'BUNDLE_UNSAFE_PATH');
    });
  }

  for (const entry of [
    { name: 'ui/link', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'ui/hard', type: 'link', linkname: 'manifest.json' },
    { name: 'ui/tty', type: 'character-device' },
    { name: 'ui/disk', type: 'block-device' },
    { name: 'ui/pipe', type: 'fifo' },
  ] as const) {
    it(`refuses a ${entry.type} entry`, async () => {
      await expectRefused(await withEntry(entry), 'BUNDLE_FORBIDDEN_ENTRY_TYPE');
    });
  }

  it('refuses duplicate entries, also when spelled with ./', async () => {
    await expectRefused(await withEntry({ name: 'ui/index.html', data: 'second' }), 'BUNDLE_DUPLICATE_ENTRY');
    await expectRefused(await withEntry({ name: './manifest.json', data: '{}' }), 'BUNDLE_DUPLICATE_ENTRY');
  });

  it('refuses a file placed under another file', async () => {
    await expectRefused(await withEntry({ name: 'manifest.json/x', data: 'x' }), 'BUNDLE_UNSAFE_PATH');
  });

  it('refuses garbage, truncated streams and non-wasm components', async () => {
    await expectRefused(Buffer.from('definitely not zstd'), 'BUNDLE_CORRUPT');
    const good = zstd(await makeTar(validEntries()));
    await expectRefused(good.subarray(0, good.byteLength - 20), 'BUNDLE_CORRUPT');
    const notWasm = validEntries().map((e) => (e.name === 'dist/main.wasm' ? { ...e, data: 'MZ not wasm' } : e));
    await expectRefused(zstd(await makeTar(notWasm)), 'BUNDLE_INVALID_WASM');
  });

  it('refuses bundles missing required files', async () => {
    await expectRefused(zstd(await makeTar(validEntries().filter((e) => e.name !== 'manifest.json'))), 'BUNDLE_MISSING_FILE');
    await expectRefused(zstd(await makeTar(validEntries().filter((e) => e.name !== 'dist/main.wasm'))), 'BUNDLE_MISSING_FILE');
    await expectRefused(zstd(await makeTar(validEntries().filter((e) => e.name !== 'ui/index.html'))), 'BUNDLE_MISSING_FILE');
  });

  it('reports an invalid manifest with all its problems', async () => {
    const entries = validEntries().map((e) => (e.name === 'manifest.json' ? { ...e, data: JSON.stringify({ name: 'X', runtime: 'node' }) } : e));
    const read = await readBundle(zstd(await makeTar(entries)));
    assert.equal(read.kind === 'err' && read.error.code, 'BUNDLE_INVALID_MANIFEST');
    assert.deepEqual(read.kind === 'err' && read.error.problems?.map((p) => p.path), ['name', 'publisher', 'version', 'runtime']);
  });
});
