/**
 * Install time and cold start of the 12 MB kitchen-sink component.
 *  - install: `engine.prepare` (validate + transpile + write the artifact) into the run's artifact
 *    cache — only the first run of this section in a benchmark run transpiles; later ones find it;
 *  - cold start: a fresh Engine (workers already started — the process is running) whose cache has
 *    the artifact; the first `/noop` then reads the artifact, rewrites and compiles its core
 *    modules, loads the glue into a worker, instantiates, snapshots and calls.
 * Each run of this section is its own process, so nothing is compiled or cached in memory before.
 */
import { createBenchEngine } from './engine-runtime.js';
import { httpRequest, kitchenSinkBytes } from './guests.js';
import { emptyResult, progress, type BenchConfig, type SectionResult } from './results.js';

export async function runColdStart(config: BenchConfig): Promise<SectionResult> {
  const result = emptyResult('cold-start');
  const bytes = kitchenSinkBytes();

  progress('create the installing engine');
  const installer = await createBenchEngine(config, 'memory');
  let hash: string;
  try {
    progress('prepare');
    const started = performance.now();
    const prepared = await installer.engine.prepare(bytes);
    const ms = performance.now() - started;
    if (prepared.kind !== 'ok') throw new Error(`prepare failed: ${prepared.problem.message}`);
    hash = prepared.artifact.contentHash;
    if (!prepared.reused) {
      result.facts.push({ key: 'install.prepare', label: `install-time prepare (validate + transpile + store) of the ${(bytes.byteLength / 1e6).toFixed(1)} MB component`, value: ms, unit: 'ms' });
    }
  } finally {
    progress('close the installing engine');
    await installer.close();
  }

  progress('create a fresh engine');
  const startedEngine = performance.now();
  const rt = await createBenchEngine(config, 'memory');
  const engineMs = performance.now() - startedEngine;
  try {
    const samples: number[] = [];
    const instances: string[] = [];
    for (let i = 0; i < 3; i++) {
      progress(`request ${i + 1} on the fresh engine`);
      const started = performance.now();
      const outcome = await rt.execute(hash, httpRequest('noop'));
      samples.push(performance.now() - started);
      if (outcome.kind !== 'ok') throw new Error(`cold start: fault ${outcome.code}: ${outcome.message}`);
      instances.push(outcome.report.stats?.instance ?? '?');
    }
    result.facts.push(
      { key: 'cold.first', label: 'cold start: first request (/noop) on a fresh Engine, artifact on disk', value: samples[0]!, unit: 'ms', detail: `then ${samples[1]!.toFixed(2)} ms, ${samples[2]!.toFixed(2)} ms (${instances.join(', ')})` },
      { key: 'cold.engine', label: 'Engine.create (spawn workers, not counted in cold start)', value: engineMs, unit: 'ms' },
    );
  } finally {
    progress('close the fresh engine');
    await rt.close();
  }
  return result;
}
