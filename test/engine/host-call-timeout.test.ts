/**
 * `host_call_timeout`: a round-trip host call the main thread never answers (a capability bug, a
 * backend that hangs) ends the execution a margin before its deadline (limits.ts
 * hostCallMarginMs), so the fault names the call and the worker is kept — the deadline, which
 * terminates the worker, is never reached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { hostCallMarginMs } from '../../src/engine/limits.js';
import type { ExecutionContext } from '../../src/contract/index.js';
import { CapabilityRegistry } from '../../src/capabilities/registry.js';
import type { InstallView } from '../../src/capabilities/capability.js';
import { hangingSecrets } from '../support/hanging-capability.js';
import { respondWat, watComponent } from '../support/wat-component.js';

/** Calls `secrets.get` once and answers 200. */
async function callOnceGuest(): Promise<Uint8Array> {
  const wat = `(module
    (import "alga:extension/secrets" "get" (func $get (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 512) "key")
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
    (func (export "handler") (param i32) (result i32)
      (call $get (i32.const 512) (i32.const 3) (i32.const 64))
      ${respondWat(16, 200)}))`;
  return watComponent(wat, { name: 'call-once', imports: ['secrets'] });
}

test('a capability that never answers ends the execution with `host_call_timeout` before its deadline; the worker is kept and serves the next request', async () => {
  // the first execution's call never answers; later ones do
  const secrets = hangingSecrets();
  const dir = mkdtempSync(join(tmpdir(), 'alga-host-call-timeout-'));
  const engine = await Engine.create({ cacheDir: dir, registry: new CapabilityRegistry().register(secrets.capability), workers: 1 });
  try {
    const prepared = await engine.prepare(await callOnceGuest());
    if (prepared.kind !== 'ok') throw new Error(prepared.problem.message);
    const hash = prepared.artifact.contentHash;
    const ctx: ExecutionContext = { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: null, contentHash: hash, user: null, config: {} };
    const install: InstallView = { installId: 'i', tenantId: 't', extensionId: 'e', versionId: null, config: {}, egressAllow: [], uiProxy: null };
    const run = (timeoutMs: number) =>
      engine.execute({ contentHash: hash, ctx, install, grants: new Set(['cap:secrets.get'] as const), request: { method: 'GET', url: '/', headers: [], body: undefined }, limits: { timeoutMs } });

    await run(5000); // loads the guest: the timed run below starts on a warm worker
    const timeoutMs = 1000;
    const started = performance.now();
    const hung = await run(timeoutMs);
    const elapsed = performance.now() - started;
    assert.equal(hung.kind === 'fault' && hung.code, 'host_call_timeout', JSON.stringify(hung));
    assert.match(hung.kind === 'fault' ? hung.message : '', /host call alga:extension\/secrets#get did not answer within \d+ ms, before the execution's deadline/);
    assert.equal(engine.pool.restarts, 0, 'the deadline never terminated the worker');
    assert.ok(elapsed >= timeoutMs - hostCallMarginMs(timeoutMs) - 5, `given up after ${elapsed.toFixed(0)} ms, not before the margin`);
    assert.ok(elapsed < timeoutMs, `given up after ${elapsed.toFixed(0)} ms, before the ${timeoutMs} ms deadline`);

    secrets.release();
    const next = await run(5000);
    assert.equal(next.kind, 'ok', next.kind === 'fault' ? next.message : '');
    assert.equal(engine.pool.restarts, 0);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
