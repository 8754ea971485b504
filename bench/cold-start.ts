/**
 * Install time and cold start of 12 MB components, in three situations:
 *  - install: `engine.prepare` (validate + transpile + write the artifact) into the run's artifact
 *    cache — only the first run of this section in a benchmark run transpiles; later ones find it;
 *  - cold start after a restart: a fresh Engine (workers already started) in a fresh process whose
 *    cache has the kitchen-sink's artifact; the first `/noop` then reads the artifact, compiles its
 *    core modules, loads the glue into a worker, instantiates, snapshots and calls — with nothing
 *    of ours compiled by V8 yet;
 *  - in the same process afterwards (a running runner), another component (the demo extension) is
 *    installed (`prepare`: transpiled and rewritten by this process, like any component it has not
 *    seen) and requested at once: the cold start a new install pays when nothing warms it;
 *  - and a component installed the way the service installs it: prepared, then warmed
 *    (`engine.warm`, what `POST /admin/v1/installs` does before it answers) — the kitchen-sink
 *    under a 128 MiB cap, a compiled variant this process has not loaded; its first request.
 * Each run of this section is its own process.
 */
import { createBenchEngine } from './engine-runtime.js';
import { rmSync } from 'node:fs';
import { contentHashOf } from '../src/bundle/content-hash.js';
import { exampleBytes, httpRequest, kitchenSinkBytes } from './guests.js';
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
      {
        key: 'cold.first',
        label: 'cold start after a restart: first request (/noop) on a fresh Engine in a fresh process, artifact on disk',
        value: samples[0]!,
        unit: 'ms',
        detail: `then ${samples[1]!.toFixed(2)} ms, ${samples[2]!.toFixed(2)} ms (${instances.join(', ')})`,
      },
      { key: 'cold.engine', label: 'Engine.create (spawn workers, not counted in cold start)', value: engineMs, unit: 'ms' },
    );

    progress('install the demo extension in the running engine');
    const demoBytes = exampleBytes('demo');
    // a new install: this process transpiles and rewrites it, as it would a component it never saw
    // (an artifact an earlier run left would make it a restart, measured above)
    const earlier = await rt.engine.artifacts.load(contentHashOf(demoBytes));
    if (earlier) rmSync(earlier.dir, { recursive: true, force: true });
    const demo = await rt.install(demoBytes);
    progress('first request of the demo extension');
    const demoStarted = performance.now();
    const demoFirst = await rt.execute(demo, { method: 'GET', url: '/noop', headers: [], body: undefined });
    const demoMs = performance.now() - demoStarted;
    if (demoFirst.kind !== 'ok' || demoFirst.response.status !== 404) throw new Error(`demo /noop: ${demoFirst.kind === 'ok' ? demoFirst.response.status : demoFirst.message}`);
    result.facts.push({ key: 'cold.running', label: 'cold start in a running process: first request of a component installed just now (demo, 12 MB), not warmed', value: demoMs, unit: 'ms' });

    progress('warm the kitchen-sink under a 128 MiB cap');
    const limits = { memoryMb: 128 };
    const warmStarted = performance.now();
    const warmed = await rt.engine.warm({ contentHash: hash, limits });
    const warmMs = performance.now() - warmStarted;
    if (warmed.kind !== 'ok') throw new Error(`warm: ${warmed.code}: ${warmed.message}`);
    progress('first request after the warm-up');
    const warmFirstStarted = performance.now();
    const warmFirst = await rt.execute(hash, httpRequest('noop'), limits);
    const warmFirstMs = performance.now() - warmFirstStarted;
    if (warmFirst.kind !== 'ok') throw new Error(`first request after warm: ${warmFirst.code}: ${warmFirst.message}`);
    result.facts.push(
      {
        key: 'cold.warmed',
        label: 'first request of a component installed as the service installs it (prepared, then warmed before the install is answered)',
        value: warmFirstMs,
        unit: 'ms',
        detail: `instance ${warmFirst.report.stats?.instance ?? '?'}`,
      },
      { key: 'cold.warm', label: 'the warm-up itself (engine.warm: compile, load into a worker, instantiate; part of installing)', value: warmMs, unit: 'ms' },
    );
  } finally {
    progress('close the fresh engine');
    await rt.close();
  }
  return result;
}
