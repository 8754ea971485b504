/**
 * GuestInstance directly (no worker): instances of one guest share a single pristine memory image,
 * a restore puts exactly that image back and never writes into it, and an instance whose image
 * differs keeps its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArtifactStore } from '../../src/engine/artifact-store.js';
import { compileCoreModules } from '../../src/engine/engine.js';
import { GuestInstance, type LoadedGuest } from '../../src/engine/guest/guest-instance.js';
import type { GuestContextData, GuestHttpRequest } from '../../src/engine/protocol.js';
import { exampleBytes } from '../support/runtime.js';

const MAX_PAGES = 256;
const CONTEXT: GuestContextData = { requestId: 'r-1', tenantId: 't', extensionId: 'e', installId: undefined, versionId: undefined };
const REQUEST: GuestHttpRequest = { method: 'GET', url: '/', headers: [], body: undefined };

let dir: string;
let guest: LoadedGuest;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alga-guest-instance-'));
  const artifacts = new ArtifactStore(dir);
  const prepared = await artifacts.prepare(exampleBytes('wat-counter'));
  if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
  const { artifact } = prepared;
  const specs = await compileCoreModules(artifacts, artifact, MAX_PAGES);
  const glue = (await import(pathToFileURL(artifact.gluePath).href)) as { instantiate: LoadedGuest['instantiate'] };
  guest = { instantiate: glue.instantiate, modules: new Map(specs.map((s) => [s.name, s])), specsByModule: new Map(specs.map((s) => [s.module, s])), maxMemoryPages: MAX_PAGES };
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fresh = () => new GuestInstance(guest, {}, { write: () => {} });
const image = (instance: GuestInstance) => new Uint8Array(instance.memories[0]!.buffer).slice();

test('instances of a guest share one pristine image; a restore puts it back and leaves it untouched', () => {
  const a = fresh();
  a.takeSnapshot();
  const shared = guest.pristineMemories!;
  assert.ok(shared, 'the first snapshot becomes the shared image');
  const pristine = shared[0]!.slice();
  assert.deepEqual(image(a), pristine);

  const b = fresh();
  b.takeSnapshot();
  assert.equal(guest.pristineMemories, shared);
  assert.ok(a.sharesPristineImage && b.sharesPristineImage, 'the second instance reuses the image instead of copying it');

  // the counter guest answers 200 only on an instance's first call: both are pristine
  assert.equal(a.call(CONTEXT, REQUEST).status, 200);
  assert.equal(b.call(CONTEXT, REQUEST).status, 200);
  assert.notDeepEqual(image(a), pristine, 'the call wrote guest memory (the request was lowered into it)');
  assert.ok(a.restore());
  assert.ok(b.restore());
  assert.deepEqual(image(a), pristine);
  assert.deepEqual(image(b), pristine);
  assert.deepEqual(shared[0], pristine, 'restores read the shared image and never write it');
  assert.equal(a.call(CONTEXT, REQUEST).status, 200, 'restored: the global counter is back to 0 too');
});

test('an instance whose image differs from the shared one keeps its own copy', () => {
  const shared = guest.pristineMemories!;
  const before = shared[0]!.slice();
  const odd = fresh();
  new Uint8Array(odd.memories[0]!.buffer)[4000] = 0x5a;
  odd.takeSnapshot();
  assert.equal(guest.pristineMemories, shared);
  assert.equal(odd.sharesPristineImage, false);
  assert.deepEqual(shared[0], before, 'the shared image is not changed by an instance that differs');
  odd.call(CONTEXT, REQUEST);
  assert.ok(odd.restore());
  assert.equal(new Uint8Array(odd.memories[0]!.buffer)[4000], 0x5a, 'restored to its own image, not the shared one');
});
