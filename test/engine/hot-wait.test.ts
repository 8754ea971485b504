/**
 * The main thread's hot wait (hot-wait.ts): while a worker runs and a core is free, the main
 * thread watches the worker's port instead of sleeping, one window at a time with an event-loop
 * turn between windows, until it has watched one execution in vain for a capped time. Asserted through the pool's own account of the
 * time it spent watching — the quantity the design bounds — never through latency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOT_WAIT_IDLE_PER_EXECUTION_MS } from '../../src/engine/hot-wait.js';
import { Engine } from '../../src/engine/engine.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import type { InstallView } from '../../src/capabilities/capability.js';
import { createTestRuntime, type TestRuntime } from '../support/runtime.js';
import { hangingSecrets } from '../support/hanging-capability.js';
import { respondWat, watComponent } from '../support/wat-component.js';

/** Counts to `iterations`, then calls `secrets.get` once and answers 200. */
async function computeThenCallGuest(iterations: number): Promise<Uint8Array> {
  const wat = `(module
    (import "alga:extension/secrets" "get" (func $get (param i32 i32 i32)))
    (memory (export "memory") 1)
    (global $acc (mut i32) (i32.const 0))
    (data (i32.const 512) "key")
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
    (func (export "handler") (param i32) (result i32)
      (local $i i32)
      (loop $count
        (global.set $acc (i32.add (global.get $acc) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $count (i32.lt_u (local.get $i) (i32.const ${iterations}))))
      (call $get (i32.const 512) (i32.const 3) (i32.const 64))
      ${respondWat(16, 200)}))`;
  return watComponent(wat, { name: 'compute-then-call', imports: ['secrets'] });
}

async function prepare(rt: TestRuntime, bytes: Uint8Array): Promise<string> {
  const prepared = await rt.engine.prepare(bytes);
  if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
  return prepared.artifact.contentHash;
}

/** Runs once to load the guest (a cold worker is not hot-waited on), then measures one warm run. */
async function warmRun(rt: TestRuntime, hash: string, timeoutMs = 5000) {
  await rt.run(hash, '/');
  const before = { ...rt.engine.pool.hotWaitStats };
  const out = await rt.run(hash, '/', { limits: { timeoutMs } });
  return { out, spentMs: rt.engine.pool.hotWaitStats.spentMs - before.spentMs };
}

test('the hot wait outlasts its window: it resumes after each event-loop turn while the guest computes', async () => {
  const windowMs = 0.1;
  const rt = await createTestRuntime({ workers: 1, cores: 2, hotWaitMs: windowMs });
  try {
    const hash = await prepare(rt, await computeThenCallGuest(20_000_000));
    const { out, spentMs } = await warmRun(rt, hash);
    assert.equal(out.kind, 'ok', out.kind === 'fault' ? out.message : '');
    const guestMs = out.report.stats!.guestMs;
    assert.ok(guestMs > 10 * windowMs, `the guest computed for ${guestMs} ms, many windows`);
    // without resuming, one window per watch (0.1 ms); with it, window after window. How much of
    // the execution that covers depends on how often the event loop gets its turn in between —
    // less when another process shares the cores (a full test run) — so ask for many windows, not
    // a share of the execution
    assert.ok(spentMs >= 10 * windowMs, `watched ${spentMs.toFixed(2)} ms of a ${guestMs.toFixed(2)} ms execution: no more than a few windows`);
  } finally {
    await rt.close();
  }
});

test('the hot wait stops at its cap per execution: a long computation is not watched for its whole run', { timeout: 60_000 }, async () => {
  const windowMs = 0.5;
  const rt = await createTestRuntime({ workers: 1, cores: 2, hotWaitMs: windowMs });
  try {
    const hash = await prepare(rt, await computeThenCallGuest(400_000_000));
    const { out, spentMs } = await warmRun(rt, hash, 30_000);
    assert.equal(out.kind, 'ok', out.kind === 'fault' ? out.message : '');
    const guestMs = out.report.stats!.guestMs;
    assert.ok(guestMs > 3 * HOT_WAIT_IDLE_PER_EXECUTION_MS, `the guest computed for ${guestMs} ms, well past the cap`);
    assert.ok(spentMs >= HOT_WAIT_IDLE_PER_EXECUTION_MS - 1, `watched ${spentMs.toFixed(2)} ms: up to the cap`);
    // the last watch may overrun the cap by its own length, more on a loaded machine: bounded by
    // half the execution here (without the cap it is all of it)
    assert.ok(spentMs < guestMs / 2, `watched ${spentMs.toFixed(2)} ms of a ${guestMs.toFixed(0)} ms execution: about the cap, not the whole run`);
  } finally {
    await rt.close();
  }
});

test('no hot wait when no core is free for it', async () => {
  const rt = await createTestRuntime({ workers: 1, cores: 1 });
  try {
    const hash = await prepare(rt, await computeThenCallGuest(100_000));
    const { out, spentMs } = await warmRun(rt, hash);
    assert.equal(out.kind, 'ok', out.kind === 'fault' ? out.message : '');
    assert.equal(spentMs, 0);
    assert.equal(rt.engine.pool.hotWaitStats.taken, 0);
  } finally {
    await rt.close();
  }
});

test('a host call whose promise never settles stops holding the hot wait off once its execution has ended', async () => {
  // the first execution's call never answers; later ones do
  const secrets = hangingSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'alga-hot-wait-'));
  const engine = await Engine.create({ cacheDir: dir, registry: new CapabilityRegistry().register(secrets.capability), workers: 1, cores: 2 });
  try {
    const prepared = await engine.prepare(await computeThenCallGuest(100_000));
    if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
    const hash = prepared.artifact.contentHash;
    const ctx: ExecutionContext = { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: null, contentHash: hash, user: null, config: {} };
    const install: InstallView = { installId: 'i', tenantId: 't', extensionId: 'e', versionId: null, config: {}, egressAllow: [], uiProxy: null };
    const run = (timeoutMs: number) =>
      engine.execute({ contentHash: hash, ctx, install, grants: new Set(['cap:secrets.get'] as const), request: { method: 'GET', url: '/', headers: [], body: undefined }, limits: { timeoutMs } });

    const hung = await run(300);
    // given up before the deadline (host-call-timeout.test.ts); the call's promise stays pending
    assert.equal(hung.kind === 'fault' && hung.code, 'host_call_timeout', JSON.stringify(hung));
    secrets.release();
    await run(5000); // a new instance replaces the one the fault retired
    const before = engine.pool.hotWaitStats.spentMs;
    const out = await run(5000);
    assert.equal(out.kind, 'ok', out.kind === 'fault' ? out.message : '');
    assert.ok(engine.pool.hotWaitStats.spentMs > before, 'the main thread hot-waited again');
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
