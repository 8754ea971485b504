import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { createTestRuntime, bodyJson, type TestRuntime } from '../support/runtime.js';
import { watComponent } from '../support/wat-component.js';

let rt: TestRuntime;
let kitchen: string;

before(async () => {
  rt = await createTestRuntime({ workers: 1 });
  kitchen = await rt.install('kitchen-sink');
});
after(async () => rt?.close());

async function nextRequestSucceeds(hash: string, url = '/counter') {
  const out = await rt.run(hash, url);
  assert.equal(out.kind, 'ok', out.kind === 'fault' ? `${out.code}: ${out.message}` : '');
  if (url === '/counter') assert.deepEqual(bodyJson(out), { counter: 1 });
}

test('a guest in an endless loop is stopped at the deadline with `timeout`; the worker is replaced', async () => {
  const restartsBefore = rt.engine.pool.restarts;
  const started = performance.now();
  const out = await rt.run(kitchen, '/loop', { limits: { timeoutMs: 300 } });
  const elapsed = performance.now() - started;
  assert.equal(out.kind, 'fault');
  if (out.kind === 'fault') assert.equal(out.code, 'timeout');
  // "promptly": the deadline plus termination, far below the default 5 s
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  assert.equal(rt.engine.pool.restarts, restartsBefore + 1);
  await nextRequestSucceeds(kitchen);
});

test('a WAT guest looping forever times out too', async () => {
  const loop = await rt.install('wat-loop');
  const out = await rt.run(loop, '/', { limits: { timeoutMs: 200 } });
  assert.equal(out.kind === 'fault' && out.code, 'timeout');
  await nextRequestSucceeds(kitchen);
});

test('growing memory past the cap is `memory_limit` (WAT guest growing page by page)', async () => {
  const grow = await rt.install('wat-grow');
  const out = await rt.run(grow, '/', { limits: { memoryMb: 8 } });
  assert.equal(out.kind, 'fault');
  if (out.kind === 'fault') assert.equal(out.code, 'memory_limit', out.message);
  assert.ok(out.report.stats!.memoryBytes <= 8 * 2 ** 20, `memory ${out.report.stats!.memoryBytes}`);
  const again = await rt.run(grow, '/', { limits: { memoryMb: 8 } });
  assert.equal(again.kind === 'fault' && again.code, 'memory_limit');
  await nextRequestSucceeds(kitchen);
});

test('a memory cap below what the component needs to start is `memory_limit` naming both sizes, on every request; other caps still work', async () => {
  for (let i = 0; i < 2; i++) {
    const out = await rt.run(kitchen, '/counter', { limits: { memoryMb: 4 } });
    assert.equal(out.kind, 'fault');
    if (out.kind === 'fault') {
      assert.equal(out.code, 'memory_limit');
      assert.match(out.message, /needs 9\.1 MiB of memory to start, above its limit of 4 MiB/);
    }
  }
  await nextRequestSucceeds(kitchen);
});

test('a JS guest allocating past its cap is `memory_limit`, and the next request succeeds', async () => {
  const out = await rt.run(kitchen, '/alloc?mb=200', { limits: { memoryMb: 64 } });
  assert.equal(out.kind, 'fault');
  if (out.kind === 'fault') assert.equal(out.code, 'memory_limit', out.message);
  const small = await rt.run(kitchen, '/alloc?mb=4', { limits: { memoryMb: 64 } });
  assert.equal(small.kind, 'ok');
  await nextRequestSucceeds(kitchen);
});

test('a guest throw and a wasm trap are `guest_trap`; the next request succeeds', async () => {
  const thrown = await rt.run(kitchen, '/throw');
  assert.equal(thrown.kind === 'fault' && thrown.code, 'guest_trap');
  assert.ok(
    thrown.logs.some((r) => r.stream === 'stderr' && /deliberate/.test(r.message)),
    "the guest's error reaches its log",
  );
  await nextRequestSucceeds(kitchen);
  const trap = await rt.install('wat-trap');
  const out = await rt.run(trap, '/');
  assert.equal(out.kind === 'fault' && out.code, 'guest_trap');
  if (out.kind === 'fault') assert.match(out.message, /unreachable/);
  await nextRequestSucceeds(kitchen);
});

test('wasi exit ends the execution only (`guest_exit`), not the process', async () => {
  const exit = await rt.install('wat-exit');
  const out = await rt.run(exit, '/');
  assert.equal(out.kind === 'fault' && out.code, 'guest_exit');
  const again = await rt.run(exit, '/');
  assert.equal(again.kind === 'fault' && again.code, 'guest_exit');
  await nextRequestSucceeds(kitchen);
});

test('the host-call cap ends the execution with `host_call_limit`', async () => {
  const out = await rt.run(kitchen, '/seven', { limits: { maxHostCalls: 3 } });
  assert.equal(out.kind, 'fault');
  if (out.kind === 'fault') assert.equal(out.code, 'host_call_limit');
  assert.equal(out.report.hostCalls, 4);
  await nextRequestSucceeds(kitchen);
});

/** A guest that calls `secrets.get` (a round trip to the main thread) forever. */
async function hostCallLoopGuest(): Promise<Uint8Array> {
  const wat = `(module
    (import "alga:extension/storage" "delete" (func $delete (param i32 i32 i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 512) "key")
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
    (func (export "handler") (param i32) (result i32)
      (loop $forever
        (call $delete (i32.const 512) (i32.const 3) (i32.const 512) (i32.const 3) (i32.const 64))
        (br $forever))
      (i32.const 16)))`;
  // storage.delete is a round trip on every backend (a write): each call reaches the main thread
  return watComponent(wat, { name: 'calls-forever', imports: ['storage'] });
}

test("a guest calling the host in a tight loop still stops at its deadline: the main thread's hot wait yields to timers", { timeout: 30_000 }, async () => {
  // a hot-wait window far longer than the deadline: only the per-turn budget sends the main
  // thread back to its event loop, where the deadline timer runs
  const spinning = await createTestRuntime({ workers: 1, hotWaitMs: 60_000 });
  try {
    const prepared = await spinning.engine.prepare(await hostCallLoopGuest());
    assert.equal(prepared.kind, 'ok');
    if (prepared.kind !== 'ok') return;
    const started = performance.now();
    const out = await spinning.run(prepared.artifact.contentHash, '/', { limits: { timeoutMs: 300, maxHostCalls: 1_000_000_000 } });
    const elapsed = performance.now() - started;
    assert.equal(out.kind === 'fault' && out.code, 'timeout');
    assert.ok(out.report.hostCalls > 10, `the calls were answered while it ran (${out.report.hostCalls})`);
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  } finally {
    await spinning.close();
  }
});

test('a response above the cap is `response_too_large`', async () => {
  const big = 'x'.repeat(64 * 1024);
  const out = await rt.run(kitchen, '/echo', { method: 'POST', body: big, limits: { maxResponseBytes: 16 * 1024 } });
  assert.equal(out.kind === 'fault' && out.code, 'response_too_large');
  const fits = await rt.run(kitchen, '/echo', { method: 'POST', body: 'small', limits: { maxResponseBytes: 16 * 1024 } });
  assert.equal(fits.kind, 'ok');
});

test('log records per execution are capped; messages are truncated at the byte cap without splitting characters', async () => {
  const out = await rt.run(kitchen, `/log?level=info&msg=${encodeURIComponent('é'.repeat(100))}`, { limits: { maxLogMessageBytes: 11 } });
  const rec = out.logs.find((r) => r.stream === 'log');
  assert.ok(rec);
  assert.equal(rec.message, 'ééééé');
  assert.equal(rec.truncated, true);
  const capped = await rt.run(kitchen, '/env', { limits: { maxLogRecords: 1 } });
  assert.equal(capped.logs.length, 1);
  assert.ok(capped.report.droppedLogRecords >= 1);
});

test('a guest logging 15 MiB strings until its deadline: each record arrives cut at the byte cap, marked truncated', async () => {
  const flood = await rt.install('wat-log-flood');
  const out = await rt.run(flood, '/', { limits: { timeoutMs: 300 } });
  assert.equal(out.kind === 'fault' && out.code, 'timeout');
  const records = out.logs.filter((r) => r.stream === 'log');
  assert.ok(records.length >= 1, 'the records written before the deadline are kept');
  for (const r of records) {
    assert.equal(r.message, 'x'.repeat(8 * 1024));
    assert.equal(r.truncated, true);
  }
  await nextRequestSucceeds(kitchen);
});

test('a crashed worker is replaced and its execution fails cleanly; the pool heals', async () => {
  const pool = rt.engine.pool as unknown as { slots: { worker: Worker }[] };
  const pending = rt.run(kitchen, '/loop', { limits: { timeoutMs: 20_000 } });
  // kill the worker from outside while the guest runs: what a native crash looks like to the pool
  while (rt.engine.pool.busy === 0) await new Promise((r) => setImmediate(r));
  await pool.slots[0]!.worker.terminate();
  const out = await pending;
  assert.equal(out.kind === 'fault' && out.code, 'worker_crashed');
  await nextRequestSucceeds(kitchen);
});

test('a worker keeps a bounded number of guests loaded; the least recently used is unloaded and reloads on demand', async () => {
  const small = await createTestRuntime({ workers: 1, maxGuestsPerWorker: 2 });
  try {
    const ok = await small.install('wat-ok');
    const counter = await small.install('wat-counter');
    const exit = await small.install('wat-exit');
    const instanceOf = async (hash: string) => (await small.run(hash, '/')).report.stats?.instance;
    assert.equal(await instanceOf(ok), 'new');
    assert.equal(await instanceOf(counter), 'new');
    assert.equal(await instanceOf(ok), 'restored', 'still loaded: two guests fit');
    await small.run(exit, '/'); // a third guest: the least recently used (counter) goes
    assert.equal(await instanceOf(ok), 'restored');
    assert.equal(await instanceOf(counter), 'new', 'counter was unloaded and loaded again');
  } finally {
    await small.close();
  }
});
