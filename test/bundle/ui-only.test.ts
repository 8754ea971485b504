/**
 * UI-only bundles (docs/manifest.md): a manifest with a `ui` and no `api` endpoints may come
 * without `dist/main.wasm`, as Alga's manifest schema allows (its `hello-world` sample). The reader,
 * `packBundle` and `alga-runner pack` apply the same rule; a bundle that needs a component and has
 * none is refused saying why.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packBundle, readBundle } from '../../src/bundle/index.js';
import { makeTar, manifest, withTempDir, zstd } from './fixtures.js';

const bin = fileURLToPath(new URL('../../../bin/alga-runner.js', import.meta.url));

/** A manifest shaped like Alga's hello-world sample: runtime, a UI with an app-menu hook, assets, no api. */
const uiOnlyManifest = (overrides: Record<string, unknown> = {}) =>
  manifest({ capabilities: [], ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: 'Hello' } } }, api: undefined, ...overrides });

const INDEX = '<!doctype html><script src="main.js"></script><p id="out"></p>';
const MAIN_JS = 'document.getElementById("out").textContent = "hello from a UI-only extension";';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

async function writeUiOnlySource(dir: string, manifestValue: Record<string, unknown>): Promise<void> {
  await mkdir(join(dir, 'ui'), { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifestValue, null, 2));
  await writeFile(join(dir, 'ui', 'index.html'), INDEX);
  await writeFile(join(dir, 'ui', 'main.js'), MAIN_JS);
}

async function tarOf(manifestValue: Record<string, unknown>, withUi = true): Promise<Buffer> {
  const entries = [{ name: 'manifest.json', data: JSON.stringify(manifestValue) }];
  if (withUi) entries.push({ name: 'ui/index.html', data: INDEX });
  return zstd(await makeTar(entries));
}

describe('UI-only bundles', () => {
  it('`alga-runner pack` packs a directory with a manifest and ui/ only; the reader takes it, with no component', async () => {
    await withTempDir(async (dir) => {
      await writeUiOnlySource(dir, uiOnlyManifest());
      const out = join(dir, 'bundle.tar.zst');
      const packed = await cli(['pack', dir, '--out', out]);
      assert.equal(packed.code, 0, packed.stderr);
      assert.match(packed.stderr, /UI-only: no component/);
      const read = await readBundle(await readFile(out));
      assert.equal(read.kind, 'ok', JSON.stringify(read));
      if (read.kind !== 'ok') return;
      assert.equal(packed.stdout.trim(), read.value.contentHash);
      assert.equal(read.value.mainWasm, null);
      assert.deepEqual([...read.value.uiFiles.keys()], ['ui/index.html', 'ui/main.js']);
      assert.equal(Buffer.from(read.value.uiFiles.get('ui/main.js') ?? []).toString(), MAIN_JS);
      assert.equal(read.value.manifest.api, undefined);
    });
  });

  it('`api: {endpoints: []}` declares no API either', async () => {
    const read = await readBundle(await tarOf(uiOnlyManifest({ api: { endpoints: [] } })));
    assert.equal(read.kind, 'ok', JSON.stringify(read));
  });

  it('a bundle that needs a component and has none is refused, saying why (reader, packBundle and the CLI)', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['API endpoints', uiOnlyManifest({ api: { endpoints: [{ method: 'GET', path: '/hello', handler: 'dist/main' }] } }), /api\.endpoints, which need a component/],
      ['an entry', uiOnlyManifest({ entry: 'dist/main.wasm' }), /names entry 'dist\/main\.wasm'/],
      ['neither UI nor component', uiOnlyManifest({ ui: undefined }), /must declare a ui/],
    ];
    for (const [what, manifestValue, why] of cases) {
      const read = await readBundle(await tarOf(manifestValue, manifestValue.ui !== undefined));
      assert.equal(read.kind, 'err', what);
      if (read.kind !== 'err') continue;
      assert.equal(read.error.code, 'BUNDLE_MISSING_FILE', what);
      assert.match(read.error.message, /dist\/main\.wasm/, what);
      assert.match(read.error.message, why, what);

      const packed = await packBundle({ manifestJson: JSON.stringify(manifestValue), uiFiles: new Map([['ui/index.html', Buffer.from(INDEX)]]) });
      assert.equal(packed.kind, 'err', what);
      if (packed.kind === 'err') assert.match(packed.error.message, why, what);

      await withTempDir(async (dir) => {
        await writeUiOnlySource(dir, manifestValue);
        const cliPacked = await cli(['pack', dir]);
        assert.equal(cliPacked.code, 1, what);
        assert.match(cliPacked.stderr, why, what);
      });
    }
  });
});
