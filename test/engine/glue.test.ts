/**
 * Loading jco's glue in a worker (src/engine/guest/glue.ts): compiled as a function, so a glue no
 * instance uses any more can be collected — an import()ed module never is.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ArtifactStore } from '../../src/engine/artifact-store.js';
import { loadGlue } from '../../src/engine/guest/glue.js';
import { exampleBytes } from '../support/runtime.js';

setFlagsFromString('--expose-gc');
/** a context made after the flag has `gc` */
const gc = runInNewContext('gc') as () => void;

let dir: string;
let gluePath: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alga-glue-'));
  const prepared = await new ArtifactStore(join(dir, 'artifacts')).prepare(exampleBytes('wat-ok'));
  if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
  gluePath = prepared.artifact.gluePath;
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Collects garbage until `ref` is empty (or gives up): true when it was collected. */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    // WeakRef targets stay alive until the job that last read them ends
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

test('a glue jco emitted loads as a strict function that returns its instantiate', () => {
  const instantiate = loadGlue(gluePath);
  assert.equal(typeof instantiate, 'function');
  assert.equal(instantiate.length >= 2, true, 'instantiate(getCoreModule, imports, instantiateCore)');
});

test('a glue no one uses any more is collected; an import()ed one would stay for good', async () => {
  const copies = [1, 2].map((i) => {
    const path = join(dir, `guest-${i}.js`);
    copyFileSync(gluePath, path);
    return path;
  });
  let loaded: object | null = loadGlue(copies[0]!);
  const compiled = new WeakRef(loaded);
  loaded = null;
  assert.equal(await collected(compiled), true, 'the compiled glue was collected');

  let imported: object | null = ((await import(pathToFileURL(copies[1]!).href)) as { instantiate: object }).instantiate;
  const moduleRef = new WeakRef(imported);
  imported = null;
  assert.equal(await collected(moduleRef), false, 'the module map keeps an imported glue: what loadGlue avoids');
});

test('a glue in another shape fails to load with a clear error, never half-loaded', () => {
  const exportDefault = join(dir, 'default.js');
  writeFileSync(exportDefault, 'export default function instantiate() {}\n');
  assert.throws(() => loadGlue(exportDefault), SyntaxError);
  const noInstantiate = join(dir, 'none.js');
  writeFileSync(noInstantiate, 'export const instantiate = 42;\n');
  assert.throws(() => loadGlue(noInstantiate), /defines no instantiate function/);
  const sloppy = join(dir, 'sloppy.js');
  // module code is strict: an undeclared assignment must throw, not make a global
  writeFileSync(sloppy, 'leaked = 1;\nexport function instantiate() {}\n');
  assert.throws(() => loadGlue(sloppy), ReferenceError);
  assert.equal('leaked' in globalThis, false);
});
