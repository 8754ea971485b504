/**
 * GuestInstance directly (no worker): instances of one guest share a single pristine memory image,
 * a restore puts exactly that image back and never writes into it, and an instance whose image
 * differs keeps its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from '../../src/engine/artifact-store.js';
import { compileCoreModules } from '../../src/engine/engine.js';
import { GuestInstance, loadedGuest, type LoadedGuest } from '../../src/engine/guest/guest-instance.js';
import { loadGlue } from '../../src/engine/guest/glue.js';
import { BlockImage, CopiedImage } from '../../src/engine/guest/pristine-image.js';
import type { GuestContextData, GuestHttpRequest } from '../../src/contract/index.js';
import { exampleBytes } from '../support/runtime.js';
import { watComponent } from '../support/wat-component.js';
import { InMemoryBackend, jcoHostImports } from '../../bench/in-memory-host.js';

const MAX_PAGES = 256;
const CONTEXT: GuestContextData = { requestId: 'r-1', tenantId: 't', extensionId: 'e', installId: undefined, versionId: undefined };
const REQUEST: GuestHttpRequest = { method: 'GET', url: '/', headers: [], body: undefined };

let dir: string;
let guest: LoadedGuest;

/** Prepares a component as the engine does (own artifact dir) and loads it as a worker would. */
async function prepareGuest(name: string, component: Uint8Array, maxPages: number): Promise<LoadedGuest> {
  const artifacts = new ArtifactStore(join(dir, name));
  const prepared = await artifacts.prepare(component);
  if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
  const specs = await compileCoreModules(artifacts, prepared.artifact, maxPages);
  return loadedGuest(loadGlue(prepared.artifact.gluePath), specs, maxPages, prepared.artifact.returnAreas);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'alga-guest-instance-'));
  guest = await prepareGuest('counter', exampleBytes('wat-counter'), MAX_PAGES);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const fresh = () => new GuestInstance(guest, {}, { write: () => {} });
const image = (instance: GuestInstance) => new Uint8Array(instance.memories[0]!.buffer).slice();

test('instances of a guest share one pristine image; a restore puts it back and leaves it untouched', () => {
  const a = fresh();
  a.takeSnapshot();
  const shared = guest.pristine!;
  assert.ok(shared?.[0] instanceof CopiedImage, 'the first snapshot becomes the shared image: a copy (this small guest is not write-tracked)');
  const sharedBytes = shared[0].bytes;
  const pristine = sharedBytes.slice();
  assert.deepEqual(image(a), pristine);

  const b = fresh();
  b.takeSnapshot();
  assert.equal(guest.pristine, shared);
  assert.ok(a.pristineSource === 'shared-copy' && b.pristineSource === 'shared-copy', 'the second instance reuses the image instead of copying it');

  // the counter guest answers 200 only on an instance's first call: both are pristine
  assert.equal(a.call(CONTEXT, REQUEST).status, 200);
  assert.equal(b.call(CONTEXT, REQUEST).status, 200);
  assert.notDeepEqual(image(a), pristine, 'the call wrote guest memory (the request was lowered into it)');
  assert.ok(a.restore());
  assert.ok(b.restore());
  assert.deepEqual(image(a), pristine);
  assert.deepEqual(image(b), pristine);
  assert.deepEqual(sharedBytes, pristine, 'restores read the shared image and never write it');
  assert.equal(a.call(CONTEXT, REQUEST).status, 200, 'restored: the global counter is back to 0 too');
});

test('an instance whose image differs from the shared one keeps its own copy', () => {
  const shared = guest.pristine!;
  assert.ok(shared[0] instanceof CopiedImage);
  const sharedBytes = shared[0].bytes;
  const before = sharedBytes.slice();
  const odd = fresh();
  new Uint8Array(odd.memories[0]!.buffer)[4000] = 0x5a;
  odd.takeSnapshot();
  assert.equal(guest.pristine, shared);
  assert.equal(odd.pristineSource, 'own-copy');
  assert.deepEqual(sharedBytes, before, 'the shared image is not changed by an instance that differs');
  odd.call(CONTEXT, REQUEST);
  assert.ok(odd.restore());
  assert.equal(new Uint8Array(odd.memories[0]!.buffer)[4000], 0x5a, 'restored to its own image, not the shared one');
});

test('with write tracking (the kitchen-sink), a restore copies only written blocks and leaves memory exactly pristine', async () => {
  const kitchen = await prepareGuest('kitchen', exampleBytes('kitchen-sink'), 4096);
  const specs = [...kitchen.modules.values()];
  assert.ok(
    specs.every((s) => s.memory === 'none' || s.tracksWrites),
    JSON.stringify(specs.map((s) => [s.name, s.memory, s.tracksWrites])),
  );
  // host functions: the in-memory stand-ins the benchmark's baselines use (real values, no engine)
  let current: GuestContextData = CONTEXT;
  const instance = new GuestInstance(
    kitchen,
    jcoHostImports(new InMemoryBackend(), () => ({ ...current, requestId: current.requestId ?? 'r' })),
    { write: () => {} },
  );
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, true);
  const pristine = image(instance);
  // the pristine state is the main module's data segments over zeros, byte for byte
  assert.equal(instance.pristineSource, 'shared-data-segments');
  const owner = specs.find((s) => s.memory === 'defines')!;
  const fromSegments = new Uint8Array(pristine.byteLength);
  new BlockImage(owner.data!).copyInto(fromSegments, 0, pristine.byteLength);
  assert.ok(Buffer.from(fromSegments).equals(pristine), 'the segments reproduce the instantiated memory');
  // a second instance of the guest (after a fault, say) restores from the same image
  const second = new GuestInstance(
    kitchen,
    jcoHostImports(new InMemoryBackend(), () => current),
    { write: () => {} },
  );
  second.takeSnapshot();
  assert.equal(second.pristineSource, 'shared-data-segments');
  const requests: GuestHttpRequest[] = [
    { method: 'GET', url: '/seven', headers: [], body: undefined },
    { method: 'POST', url: '/echo', headers: [{ name: 'x-a', value: 'b' }], body: new TextEncoder().encode('x'.repeat(2_000)) },
    { method: 'GET', url: '/all', headers: [], body: undefined },
    { method: 'GET', url: '/env', headers: [], body: undefined },
    { method: 'GET', url: '/counter', headers: [], body: undefined },
  ];
  // the first restore reads the shared blocks; from the second on the guest is busy and restores read plain copies of them
  for (const [i, request] of requests.entries()) {
    current = { ...CONTEXT, requestId: `k-${i}` };
    const response = instance.call(current, request);
    assert.equal(response.status, 200, request.url);
    assert.ok(instance.restore(), `${request.url}: restored`);
    assert.ok(instance.restoredBytes < pristine.byteLength, `${request.url}: copied ${instance.restoredBytes} of ${pristine.byteLength} bytes`);
    const now = image(instance);
    assert.ok(Buffer.from(now).equals(pristine), `${request.url}: memory is byte-for-byte pristine after the restore`);
  }
  const counter = instance.call(current, { method: 'GET', url: '/counter', headers: [], body: undefined });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(counter.body)), { counter: 1 });
  assert.ok(instance.restore());
  // growth: the blocks past the pristine size are not covered, so the instance must go
  assert.equal(instance.call(current, { method: 'GET', url: '/alloc?mb=2', headers: [], body: undefined }).status, 200);
  assert.equal(instance.restore(), false);
});

test("the guest's monotonic clock is our function, not a jco trampoline, and performance.now() reads it", async () => {
  const kitchen = await prepareGuest('kitchen', exampleBytes('kitchen-sink'), 4096);
  const seen: WebAssembly.Imports[] = [];
  const Instance = WebAssembly.Instance;
  // capture what each core module is instantiated with
  WebAssembly.Instance = function (module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    if (imports) seen.push(imports);
    return new Instance(module, imports);
  } as unknown as typeof WebAssembly.Instance;
  let instance: GuestInstance;
  try {
    instance = new GuestInstance(
      kitchen,
      jcoHostImports(new InMemoryBackend(), () => ({ ...CONTEXT, requestId: 'r' })),
      { write: () => {} },
    );
  } finally {
    WebAssembly.Instance = Instance;
  }
  const clocks = seen.flatMap((imports) =>
    Object.entries(imports)
      .filter(([ns]) => ns.startsWith('wasi:clocks/monotonic-clock@'))
      .map(([, members]) => members.now),
  );
  assert.ok(clocks.length > 0, 'the guest imports the monotonic clock');
  for (const now of clocks) {
    assert.equal(typeof now, 'function');
    assert.ok(!(now as () => unknown).name.startsWith('bound '), `a jco trampoline reached the guest: ${(now as () => unknown).name}`);
  }
  instance.takeSnapshot();
  const perf = () => {
    const response = instance.call(CONTEXT, { method: 'GET', url: '/env', headers: [], body: undefined });
    assert.ok(instance.restore());
    return (JSON.parse(new TextDecoder().decode(response.body)) as { perf: number }).perf;
  };
  // the guest measures from its first clock read of the request (its origin is restored with the
  // rest of its state), so each request sees a small, non-negative time
  for (let i = 0; i < 3; i++) {
    const ms = perf();
    assert.ok(ms >= 0 && ms < 10_000, `performance.now() = ${ms}`);
  }
});

/**
 * A guest whose only writes to two blocks are the host's: the request and the secret string go to
 * an allocator area (block 36) no wasm store touches, and the import's return area is in block 18,
 * also written only by jco. Without the host-side marks the restore would leave both dirty.
 */
const hostWritesWat = (handlerBody: string, extra = '') => `(module
  (import "alga:extension/secrets" "get" (func $get (param i32 i32 i32)))
  (memory (export "memory") 17)
  ${extra}
  (data (i32.const 2048) "bench")
  (global $heap (mut i32) (i32.const 600000))
  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1))) (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $ptr) (local.get $size)))
    (local.get $ptr))
  (func (export "handler") (param $request i32) (result i32)
    ${handlerBody}
    (i32.store16 (i32.const 4096) (i32.const 204))
    (i32.store (i32.const 4100) (i32.const 0))
    (i32.store (i32.const 4104) (i32.const 0))
    (i32.store8 (i32.const 4108) (i32.const 0))
    (i32.const 4096)))`;

async function hostWritesGuest(handlerBody: string, secretType = 'result<string, secret-error>', extra = ''): Promise<LoadedGuest> {
  const component = await watComponent(hostWritesWat(handlerBody, extra), {
    name: 'host-writes',
    imports: ['secrets'],
    editWit: (wit) => wit.replace('get: func(key: string) -> result<string, secret-error>;', `get: func(key: string) -> ${secretType};`),
  });
  return prepareGuest(
    `host-writes-${createHash('sha256')
      .update(handlerBody + secretType + extra)
      .digest('hex')
      .slice(0, 8)}`,
    component,
    4096,
  );
}

test('a return area larger than a block, from a component declaring its own result type, is restored whole', async () => {
  // imports are matched by name: this component declares `secrets.get` returning 2 500 u64s
  // (20 000 bytes), and jco writes them all. The area starts near the end of block 18 and reaches
  // into block 20, past "the block and the next" any size assumption would cover.
  const words = 2500;
  const big = await hostWritesGuest('(call $get (i32.const 2048) (i32.const 5) (i32.const 310000))', `tuple<${Array(words).fill('u64').join(', ')}>`);
  assert.equal(big.returnAreas?.['alga:extension/secrets']?.get, words * 8);
  const instance = new GuestInstance(big, { 'alga:extension/secrets': { get: () => Array.from({ length: words }, (_, i) => BigInt(i + 1)), list: () => [] } }, { write: () => {} });
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, true);
  const pristine = image(instance);
  assert.equal(instance.call(CONTEXT, { method: 'GET', url: '/', headers: [], body: undefined }).status, 204);
  const last = new DataView(instance.memories[0]!.buffer).getBigUint64(310000 + (words - 1) * 8, true);
  assert.equal(last, BigInt(words), 'jco wrote the whole area, up to block 20');
  assert.ok(instance.restore());
  assert.ok(Buffer.from(image(instance)).equals(pristine), 'memory is pristine after the restore');
});

test('writes the host makes into guest memory (allocations, return areas) are restored too', async () => {
  const hostWrites = await hostWritesGuest('(call $get (i32.const 2048) (i32.const 5) (i32.const 300000))');
  const asked: string[] = [];
  const instance = new GuestInstance(hostWrites, { 'alga:extension/secrets': { get: (key: string) => (asked.push(key), `the-secret-of-${key}`), list: () => [] } }, { write: () => {} });
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, true);
  const pristine = image(instance);
  for (let i = 0; i < 3; i++) {
    assert.equal(instance.call(CONTEXT, { method: 'POST', url: `/request-${i}`, headers: [{ name: 'x-request', value: String(i) }], body: new TextEncoder().encode(`body-${i}`) }).status, 204);
    const dirty = image(instance);
    assert.ok(
      Buffer.from(dirty.subarray(300000, 300012)).some((b) => b !== 0),
      'jco wrote the return area',
    );
    assert.ok(Buffer.from(dirty.subarray(600000, 600200)).includes(Buffer.from(`/request-${i}`)), 'jco wrote the request into the allocation');
    assert.ok(instance.restore());
    assert.ok(Buffer.from(image(instance)).equals(pristine), `request ${i}: memory is pristine after the restore`);
  }
  assert.deepEqual(asked, ['bench', 'bench', 'bench']);
});

test('a guest whose code wrote memory during instantiation is restored from a copy, not from its data segments', async () => {
  // a start function stores 42 at 200000; the handler then writes next to it (same block)
  const started = await hostWritesGuest('(i32.store (i32.const 200004) (i32.const 7))', undefined, '(start $init) (func $init (i32.store (i32.const 200000) (i32.const 42)))');
  const instance = new GuestInstance(started, { 'alga:extension/secrets': { get: () => 'x', list: () => [] } }, { write: () => {} });
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, true);
  assert.equal(instance.pristineSource, 'shared-copy');
  const pristine = image(instance);
  assert.equal(pristine[200000], 42);
  assert.equal(instance.call(CONTEXT, { method: 'GET', url: '/', headers: [], body: undefined }).status, 204);
  assert.ok(instance.restore());
  assert.ok(Buffer.from(image(instance)).equals(pristine), 'what the start function wrote is part of the pristine state');
});

test('with write tracking turned off (RUNNER_WRITE_TRACKING=0), a tracked component restores all of memory', async () => {
  const guest = await hostWritesGuest('(call $get (i32.const 2048) (i32.const 5) (i32.const 300000))');
  const instance = new GuestInstance({ ...guest, returnAreas: null }, { 'alga:extension/secrets': { get: () => 'x', list: () => [] } }, { write: () => {} });
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, false);
  const pristine = image(instance);
  assert.equal(instance.call(CONTEXT, { method: 'GET', url: '/', headers: [], body: undefined }).status, 204);
  assert.ok(instance.restore());
  assert.equal(instance.restoredBytes, pristine.byteLength);
  assert.ok(Buffer.from(image(instance)).equals(pristine));
});

test('a guest cannot erase a mark by having the host write into the dirty map', async () => {
  // block 8 is written by wasm (marked: map byte 8), then the import's return area is put at
  // address 8, so jco writes the result tag 0 over that mark
  const eraser = await hostWritesGuest('(i32.store (i32.const 131072) (i32.const 7)) (call $get (i32.const 2048) (i32.const 5) (i32.const 8))');
  const instance = new GuestInstance(eraser, { 'alga:extension/secrets': { get: () => 'x', list: () => [] } }, { write: () => {} });
  instance.takeSnapshot();
  assert.equal(instance.tracksWrites, true);
  const pristine = image(instance);
  assert.equal(instance.call(CONTEXT, { method: 'GET', url: '/', headers: [], body: undefined }).status, 204);
  const dirty = image(instance);
  assert.equal(dirty[131072], 7);
  assert.equal(dirty[8], 0, 'the mark for block 8 was overwritten by the host');
  assert.ok(instance.restore());
  assert.ok(Buffer.from(image(instance)).equals(pristine), 'the block is restored all the same');
});

test('a used instance whose code writes tables is restored (entries put back); one whose code drops segments is never restored', async () => {
  const restoredAfterUse = async (name: string) => {
    const g = await prepareGuest(name, exampleBytes(`wat-${name}`), MAX_PAGES);
    const instance = new GuestInstance(g, {}, { write: () => {} });
    instance.takeSnapshot();
    const first = instance.call(CONTEXT, REQUEST).status;
    const restored = instance.restore();
    // a restored instance answers as a new one would: it finds its pristine state again
    const second = restored ? instance.call(CONTEXT, REQUEST).status : null;
    return { first, restored, second, unrestorable: g.unrestorable };
  };
  for (const name of ['leak-table-set', 'leak-table-fill', 'leak-table-copy', 'leak-table-init', 'leak-table-grow']) {
    const r = await restoredAfterUse(name);
    // table.grow changes the size, which no restore can undo: that instance is retired instead
    if (name === 'leak-table-grow') assert.deepEqual([r.first, r.restored, r.unrestorable], [200, false, null], name);
    else assert.deepEqual([r.first, r.restored, r.second, r.unrestorable], [200, true, 200, null], name);
  }
  for (const name of ['leak-data-drop', 'leak-elem-drop']) {
    const r = await restoredAfterUse(name);
    assert.deepEqual([r.first, r.restored], [200, false], name);
    assert.match(r.unrestorable ?? '', /drops (data|element) segments/, name);
  }
});
