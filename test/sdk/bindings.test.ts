/** The SDK's generated bindings are those of the WIT in wit/ (both dialects), like the host's. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');

it('packages/sdk/src/generated is what scripts/sdk-bindings.mjs generates from wit/', () => {
  const run = spawnSync(process.execPath, ['scripts/sdk-bindings.mjs', '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
});

it('every function of every imported interface has a binding, in both dialects', async () => {
  const { generateAllSdk } = (await import(join(root, 'scripts', 'sdk-bindings.mjs'))) as { generateAllSdk(): { path: string; text: string }[] };
  const files = generateAllSdk();
  assert.deepEqual(
    files.map((f) => f.path.slice(root.length + 1)),
    ['packages/sdk/src/generated/seed.ts', 'packages/sdk/src/generated/alga.ts'],
  );
  const alga = files[1]!.text;
  for (const fn of ['listEntries: (', 'logInfo: (', 'callRoute: (', 'listSchedules: (', 'createManualInvoice: (', 'listKeys: ()']) assert.ok(alga.includes(fn), fn);
  const seed = files[0]!.text;
  assert.ok(!seed.includes("'alga:extension/scheduler'"), 'the seed world imports no scheduler');
  assert.ok(seed.includes('get: (namespace: string, key: string) => hostCall<StorageEntry, StorageError>'));
});
