/**
 * `npm run bench` (engine part, issue #3 item 9). One run measures, side by side: ours through the
 * engine boundary, the naive jco baseline, the in-process floor, isolated-vm, the bridge's per-call
 * cost and the cold start, then prints a table with ratios and the targets.
 *
 * Each section runs in its own child process (this file with `--section`), so one system's leaks,
 * JIT state or garbage do not bill another; the children share a scratch directory (artifact cache)
 * that is removed at the end. `--quick` runs fewer iterations; `--workers N` sets the pool size
 * (default: cores).
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from './guests.js';
import { describeMachine, machineInfo } from './machine.js';
import { Report } from './report.js';
import type { BenchConfig, ProgressMessage, SectionResult } from './results.js';
import { runOurs } from './ours.js';
import { runBridge } from './bridge.js';
import { runFloor } from './floor.js';
import { runNaive } from './naive.js';
import { runIsolatedVm } from './isolated-vm.js';
import { runColdStart } from './cold-start.js';
import { runColdBreakdown } from './cold-breakdown.js';

const SECTIONS: Record<string, (config: BenchConfig) => Promise<SectionResult>> = {
  'cold-start': runColdStart,
  'cold-breakdown': runColdBreakdown,
  'ours-sqlite': (c) => runOurs(c, 'sqlite'),
  'ours-memory': (c) => runOurs(c, 'memory'),
  bridge: runBridge,
  floor: runFloor,
  'isolated-vm': runIsolatedVm,
  naive: runNaive,
};

/** A section that has not answered by then is killed and reported as failed (bounded run). */
const SECTION_TIMEOUT_MS = 90_000;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workers: { type: 'string' },
    section: { type: 'string' },
    'work-dir': { type: 'string' },
  },
});

function runSection(name: string, config: BenchConfig): Promise<SectionResult> {
  return new Promise((resolve, reject) => {
    const argv = ['--section', name, '--work-dir', config.workDir, '--workers', String(config.workers), ...(config.quick ? ['--quick'] : [])];
    const child = fork(fileURLToPath(import.meta.url), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: SectionResult | null = null;
    let lastStep = 'starting';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, SECTION_TIMEOUT_MS);
    child.on('message', (m: SectionResult | ProgressMessage) => {
      if ('type' in m) lastStep = m.step;
      else result = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else if (timedOut) reject(new Error(`section ${name} did not finish within ${SECTION_TIMEOUT_MS / 1000} s; last step: ${lastStep}`));
      else reject(new Error(`section ${name} ended without a result (exit ${code ?? signal}); last step: ${lastStep}`));
    });
  });
}

async function child(name: string, config: BenchConfig): Promise<void> {
  const section = SECTIONS[name];
  if (!section) throw new Error(`unknown section ${name}`);
  const result = await section(config);
  // exit once the parent has the result: some baselines keep handles (isolates, imports) alive
  if (process.send) process.send(result, () => process.exit(0));
  else {
    // run by hand (`node dist/bench/index.js --section X --work-dir D`): show the raw result
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  }
}

async function main(): Promise<void> {
  const quick = args.quick ?? false;
  const workers = args.workers ? Number(args.workers) : availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer, got ${args.workers}`);
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  const workDir = mkdtempSync(join(repoRoot, '.cache', 'bench-run-'));
  const config: BenchConfig = { quick, workers, workDir };

  const started = performance.now();
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out('alga-runner engine benchmark (npm run bench)');
  for (const line of describeMachine(machineInfo())) out(line);
  out(`mode:    ${quick ? 'quick' : 'full'}, ${workers} worker(s); requests in flight for ours = workers`);
  out();

  // cold start first (its first run transpiles into the shared artifact cache the others reuse)
  const plan = ['cold-start', ...(quick ? [] : ['cold-start', 'cold-start']), 'cold-breakdown', 'ours-sqlite', 'ours-memory', 'bridge', 'floor', 'isolated-vm', 'naive'];
  const results: SectionResult[] = [];
  const failures: string[] = [];
  try {
    for (const name of plan) {
      const t = performance.now();
      process.stderr.write(`· ${name} … `);
      try {
        results.push(await runSection(name, config));
        process.stderr.write(`${((performance.now() - t) / 1000).toFixed(1)} s\n`);
      } catch (e) {
        failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        process.stderr.write('FAILED\n');
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  const report = new Report(results);
  out('Latency (sequential requests after a warm-up) and throughput');
  out('ratios compare with "ours" — for /seven with "ours, in-memory caps", which uses the same in-memory host functions as the baselines');
  out();
  for (const line of report.table()) out(line);
  out();
  out('Phases and per-call figures');
  for (const line of report.factLines()) out(line);
  out();
  out('Targets (issue #3)');
  for (const line of report.verdictLines()) out(line);
  for (const note of report.notes) out(`note: ${note}`);
  for (const failure of failures) out(`FAILED section ${failure}`);
  out();
  out(`load at end: ${machineInfo().loadAverage.map((l) => l.toFixed(2)).join(' / ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (failures.length > 0) process.exitCode = 1;
}

if (args.section) {
  const workDir = args['work-dir'];
  if (!workDir) throw new Error('--section needs --work-dir');
  await child(args.section, { quick: args.quick ?? false, workers: Number(args.workers ?? availableParallelism()), workDir });
} else {
  await main();
}
