/**
 * Extensions that differ only in their data share compiled code (module-split.ts, data-image.ts):
 * the demo and the kitchen-sink are two different JavaScript programs on the same engine and world,
 * so their components differ only in the main module's data segments.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from '../../src/engine/artifact-store.js';
import { componentLayout } from '../../src/engine/module-split.js';
import { BlockPool } from '../../src/engine/data-image.js';
import type { LoadMessage } from '../../src/engine/protocol.js';
import { bodyJson, bodyText, createTestRuntime, exampleBytes, type TestRuntime } from '../support/runtime.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'shared-code-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('two extensions on one engine have one shape: the second installs without transpiling, and their code is stored once', async () => {
  const kitchen = componentLayout(exampleBytes('kitchen-sink'));
  const demo = componentLayout(exampleBytes('demo'));
  assert.equal(kitchen.shapeKey, demo.shapeKey);
  assert.notDeepEqual(kitchen.modules[0]!.data, null, 'the main module is split');
  assert.notEqual(Buffer.compare(Buffer.from(kitchen.modules[0]!.bytes), Buffer.from(demo.modules[0]!.bytes)), 0, 'the main modules differ (their data)');

  const root = join(dir, 'store');
  const store = new ArtifactStore(root);
  const first = await store.prepare(exampleBytes('kitchen-sink'));
  const second = await store.prepare(exampleBytes('demo'));
  assert.ok(first.kind === 'ok' && second.kind === 'ok');
  assert.equal(first.transpiled, true);
  assert.equal(second.transpiled, false, 'a known shape is not transpiled again');
  assert.notEqual(first.artifact.contentHash, second.artifact.contentHash);
  assert.deepEqual(
    second.artifact.coreModules.map((m) => m.codeKey),
    first.artifact.coreModules.map((m) => m.codeKey),
  );
  assert.equal(second.artifact.gluePath, first.artifact.gluePath);
  const codes = readdirSync(join(root, 'code')).filter((n) => /^[0-9a-f]{64}\.wasm$/.test(n));
  assert.equal(codes.length, first.artifact.coreModules.length, 'one code file per module, for both extensions');
  // each artifact keeps its own data: the whole module as the component carries it
  const [kitchenMain, demoMain] = await Promise.all([store.wholeModules(first.artifact), store.wholeModules(second.artifact)]);
  assert.ok(Buffer.from(kitchenMain.get('guest.core.wasm')!).equals(kitchen.modules[0]!.bytes));
  assert.ok(Buffer.from(demoMain.get('guest.core.wasm')!).equals(demo.modules[0]!.bytes));
});

test('blocks equal across extensions are stored once; blocks that differ never are', () => {
  const pool = new BlockPool();
  const kitchen = componentLayout(exampleBytes('kitchen-sink')).modules[0]!.data!;
  const demo = componentLayout(exampleBytes('demo')).modules[0]!.data!;
  const size = 512 * 65536;
  const a = pool.image(kitchen, size);
  const afterFirst = pool.allocatedBytes;
  const b = pool.image(demo, size);
  const shared = [...a.ids].filter((id, i) => id !== 0 && id === b.ids[i]).length;
  assert.ok(shared > 0, 'some blocks are shared');
  assert.ok(pool.allocatedBytes - afterFirst < afterFirst, 'the second extension allocates less than the first');
  for (let i = 0; i < a.blocks.length; i++) {
    const x = a.blocks[i];
    const y = b.blocks[i];
    if (a.ids[i] === b.ids[i]) assert.ok(x === y || (x === null && y === null), `block ${i}: equal ids share bytes`);
    else if (x && y) assert.ok(!Buffer.from(x).equals(y), `block ${i}: different ids hold different bytes`);
  }
});

let rt: TestRuntime;
after(() => rt?.close());

test('one worker serving both alternately: each answers as itself, from one compiled module', async () => {
  rt = await createTestRuntime({ workers: 1 });
  const kitchen = await rt.install('kitchen-sink');
  const demo = await rt.install('demo');
  const sources: string[] = [];
  for (let round = 0; round < 4; round++) {
    const k = await rt.run(kitchen, '/noop');
    sources.push(k.report.stats?.instance ?? 'none');
    assert.equal(k.kind, 'ok');
    assert.equal(k.kind === 'ok' && k.response.status, 200, 'the kitchen-sink serves /noop');
    const d = await rt.run(demo, '/noop');
    sources.push(d.report.stats?.instance ?? 'none');
    assert.equal(d.kind === 'ok' && d.response.status, 404, 'the demo does not');
    assert.deepEqual(bodyJson(d), { error: 'not_found', path: '/noop' });
    const hello = await rt.run(demo, '/hello');
    assert.match(bodyText(hello), /Greetings from the demo extension/);
  }
  // the demo's first request takes the kitchen-sink's pristine instance instead of instantiating;
  // later ones find an instance of their own (made in idle time) or switch one again
  assert.deepEqual(sources.slice(0, 2), ['new', 'switched']);
  for (const source of sources.slice(2)) assert.ok(source === 'restored' || source === 'switched', source);
  const loaded = (rt.engine as unknown as { loaded: Map<string, Promise<LoadMessage>> }).loaded;
  const messages = await Promise.all([...loaded.values()]);
  assert.equal(messages.length, 2);
  const [x, y] = messages as [LoadMessage, LoadMessage];
  assert.equal(x.modules[0]!.module, y.modules[0]!.module, 'the main module is compiled once');
  assert.equal(x.modules[0]!.applyData && y.modules[0]!.applyData, true);
  assert.notEqual(x.modules[0]!.data, y.modules[0]!.data);
});

test('an instance switched from one extension to another holds exactly what a new instance of the other would, byte for byte; and back', async () => {
  const { GuestInstance, loadedGuest } = await import('../../src/engine/guest/guest-instance.js');
  const { loadGlue } = await import('../../src/engine/guest/glue.js');
  const { compileCoreModules, compileCode } = await import('../../src/engine/engine.js');
  const { InMemoryBackend, jcoHostImports } = await import('../../bench/in-memory-host.js');
  const root = join(dir, 'switch');
  const store = new ArtifactStore(root);
  const kitchen = await store.prepare(exampleBytes('kitchen-sink'));
  const demo = await store.prepare(exampleBytes('demo'));
  assert.ok(kitchen.kind === 'ok' && demo.kind === 'ok');
  const pages = 256;
  const blocks = new BlockPool();
  const codes = new Map<string, ReturnType<typeof compileCode>>();
  const code = (key: string) => codes.get(key) ?? codes.set(key, compileCode(store, key, pages, blocks)).get(key)!;
  const glue = loadGlue(kitchen.artifact.gluePath);
  const guestOf = async (a: typeof kitchen.artifact) => loadedGuest(glue, await compileCoreModules(store, a, pages, blocks, code), pages, a.returnAreas);
  const [k, d] = await Promise.all([guestOf(kitchen.artifact), guestOf(demo.artifact)]);
  const context = { requestId: 'r', tenantId: 't', extensionId: 'e', installId: undefined, versionId: undefined };
  const make = (guest: typeof k) => {
    const instance = new GuestInstance(
      guest,
      jcoHostImports(new InMemoryBackend(), () => context),
      { write: () => {} },
    );
    instance.takeSnapshot();
    return instance;
  };
  const memoryOf = (instance: InstanceType<typeof GuestInstance>) => Buffer.from(new Uint8Array(instance.memories[0]!.buffer).slice());
  const pristineDemo = memoryOf(make(d));
  const pristineKitchen = memoryOf(make(k));
  assert.ok(!pristineDemo.equals(pristineKitchen));

  const instance = make(k);
  assert.equal(instance.tracksWrites, true);
  for (const url of ['/seven', '/all', '/counter']) {
    assert.equal(instance.call(context, { method: 'GET', url, headers: [], body: undefined }).status, 200);
    assert.ok(instance.restore());
  }
  assert.equal(instance.retarget(d), true);
  assert.ok(instance.restoredBytes < pristineDemo.length, `copied ${instance.restoredBytes} of ${pristineDemo.length} bytes`);
  assert.ok(memoryOf(instance).equals(pristineDemo), 'switched: the demo’s pristine memory');
  assert.equal(instance.loadedGuest, d);
  // it serves as the demo, restores as the demo, and goes back
  const response = instance.call(context, { method: 'GET', url: '/noop', headers: [], body: undefined });
  assert.equal(response.status, 404);
  assert.ok(instance.restore());
  assert.ok(memoryOf(instance).equals(pristineDemo), 'restored to the demo’s pristine memory');
  assert.equal(instance.retarget(k), true);
  assert.ok(memoryOf(instance).equals(pristineKitchen), 'and back to the kitchen-sink’s');

  // a guest with other code is refused, and the instance is left as it was
  const other = await store.prepare(exampleBytes('wat-counter'));
  assert.ok(other.kind === 'ok');
  const otherGuest = loadedGuest(loadGlue(other.artifact.gluePath), await compileCoreModules(store, other.artifact, pages, blocks), pages, other.artifact.returnAreas);
  assert.equal(instance.retarget(otherGuest), false);
  assert.ok(memoryOf(instance).equals(pristineKitchen));
});

test('under a memory budget smaller than one instance, guests of one shape share a single instance and guests of another shape displace it', async () => {
  const tight = await createTestRuntime({ workers: 1, instanceMemoryMb: 1 });
  try {
    const kitchen = await tight.install('kitchen-sink');
    const demo = await tight.install('demo');
    const counter = await tight.install('wat-counter');
    const sources: string[] = [];
    const run = async (hash: string, url: string, status: number) => {
      const outcome = await tight.run(hash, url);
      assert.equal(outcome.kind === 'ok' && outcome.response.status, status, url);
      sources.push(outcome.report.stats?.instance ?? 'none');
    };
    for (let round = 0; round < 3; round++) {
      await run(kitchen, '/noop', 200);
      await run(demo, '/noop', 404);
    }
    // one instance, handed back and forth: no spare fits the budget
    assert.deepEqual(sources, ['new', 'switched', 'switched', 'switched', 'switched', 'switched']);
    sources.length = 0;
    await run(counter, '/', 200);
    await run(kitchen, '/noop', 200);
    // the counter's instance could not take the kitchen-sink's memory (other code): making it dropped the idle one
    assert.deepEqual(sources, ['new', 'new']);
  } finally {
    await tight.close();
  }
});
