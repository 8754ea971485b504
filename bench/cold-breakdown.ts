/**
 * Where a cold start's time goes: the steps the engine takes for the first request of a component,
 * replayed one by one on the main thread of a fresh process and timed separately — read the
 * artifact, rewrite the core modules, compile them, import the glue, instantiate (+ snapshot), and
 * the first and second call. (In the engine the glue import, instantiation and calls happen in a
 * worker; the sum here need not equal the measured cold start, which also posts the modules.)
 */
import { GuestInstance } from '../src/engine/guest/guest-instance.js';
import { loadGlue } from '../src/engine/guest/glue.js';
import type { CoreModuleSpec } from '../src/engine/protocol.js';
import { InMemoryBackend, jcoHostImports } from './in-memory-host.js';
import { httpRequest } from './guests.js';
import { compileSpec, kitchenSinkArtifact, loadedGuest, readCoreModules, rewriteForRestore } from './guest-loading.js';
import { emptyResult, type BenchConfig, type SectionResult } from './results.js';

export async function runColdBreakdown(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('cold-breakdown');
  const artifact = await kitchenSinkArtifact(config);
  const steps: [string, number][] = [];
  const step = async <T>(label: string, fn: () => T | Promise<T>): Promise<T> => {
    const started = performance.now();
    const value = await fn();
    steps.push([label, performance.now() - started]);
    return value;
  };

  const bytes = await step('read core modules from the artifact', () => readCoreModules(artifact));
  const rewritten = await step('rewrite core modules (memory cap, export globals, write tracking; install time, kept on disk)', () => [...bytes].map(([name, b]) => rewriteForRestore(name, b)));
  const specs = await step('compile core modules (WebAssembly.compile)', async () => {
    const out: CoreModuleSpec[] = [];
    for (const r of rewritten) out.push(await compileSpec(r));
    return out;
  });
  const instantiate = await step('load the glue (≈0.5 MB of JS)', () => loadGlue(artifact.gluePath));
  const backend = new InMemoryBackend();
  const context = { requestId: 'cold-1', tenantId: 'tenant-bench', extensionId: 'ext-bench', installId: 'install-bench', versionId: 'ver-1' };
  const instance = await step('instantiate + take snapshot', () => {
    const i = new GuestInstance(
      loadedGuest(artifact, instantiate, specs),
      jcoHostImports(backend, () => context),
      { write: () => {} },
    );
    i.takeSnapshot();
    return i;
  });
  await step('first call (/noop)', () => instance.call(context, httpRequest('noop')));
  await step('restore', () => instance.restore());
  await step('second call (/noop)', () => instance.call(context, httpRequest('noop')));

  for (const [label, ms] of steps) result.facts.push({ key: `cold.step.${label}`, label: `cold start step (main-thread replay): ${label}`, value: ms, unit: 'ms' });
  return result;
}
