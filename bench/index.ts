/**
 * `npm run bench`. Engine part: one run measures, side by side, ours through the
 * engine boundary, the naive jco baseline, the in-process floor, isolated-vm, the bridge's per-call
 * cost and the cold start, then prints a table with ratios and the engine's targets. Service part
 * (bench/service*.ts): `POST /v1/execute` over HTTP against `alga-runner serve`
 * in its own process, beside the engine-level figures for the same handlers from the same run.
 * Fairness part (bench/fair-share.ts): a neighbour tenant's latency alone and while another tenant
 * attacks with hostile guests, on the same service.
 *
 * Each section runs in its own child process (this file with `--section`), so one system's leaks,
 * JIT state or garbage do not bill another; the children share a scratch directory (artifact cache)
 * that is removed at the end. Fairness part (bench/fair-share.ts): a neighbour tenant's latency
 * alone and under each attack. Soak part (bench/soak.ts): the service under steady load for 10
 * minutes, RSS and p99 per window. Limiter part (bench/limiter.ts): the shared per-tenant limiter
 * (Redis) against the per-replica one. Feed part (bench/change-feed.ts): three replicas on PostgreSQL
 * (TEST_DATABASE_URL), how long an install change and a log append take to reach the others, with
 * LISTEN/NOTIFY and with the poll it replaced. `--quick` runs fewer iterations (a 1-minute soak); `--workers N`
 * sets the pool size (default: cores); `--only engine|service|stores|fairness|soak|limiter|feed|density` runs one part.
 * Stores part (bench/service-stores.ts): /seven through services on SQLite FULL, NORMAL and PostgreSQL
 * beside the same service on in-memory capabilities (bench/memory-service.ts) and the engine on them.
 * Density part (bench/density.ts): up to 1 000 distinct
 * extensions in one service, round-robin; `--density-max N` caps N, `--density-baseline <checkout>`
 * measures another build of the runner the same way (up to `--density-baseline-max`, default 64).
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
import { runService } from './service.js';
import { isServiceResult } from './service-results.js';
import { ServiceReport } from './service-report.js';
import { fairShareReport, isFairShareResult, runFairShare } from './fair-share.js';
import { isSoakResult, runSoak, soakReport } from './soak.js';
import { isLimiterResult, limiterReport, runLimiter } from './limiter.js';
import { changeFeedReport, isChangeFeedResult, runChangeFeed } from './change-feed.js';
import { isStoresResult, runServiceStores, storesReport } from './service-stores.js';
import { DENSITY_STEPS, QUICK_DENSITY_MAX, densityReport, isDensityResult, runDensity } from './density.js';

const SECTIONS: Record<string, (config: BenchConfig) => Promise<SectionResult>> = {
  'cold-start': runColdStart,
  'cold-breakdown': runColdBreakdown,
  'ours-sqlite': (c) => runOurs(c, 'sqlite'),
  'ours-sqlite-normal': (c) => runOurs(c, 'sqlite-normal'),
  'ours-sqlite-normal-round-trips': (c) => runOurs(c, 'sqlite-normal-round-trips'),
  'ours-memory': (c) => runOurs(c, 'memory'),
  'ours-memory-round-trips': (c) => runOurs(c, 'memory-round-trips'),
  bridge: runBridge,
  floor: runFloor,
  'isolated-vm': runIsolatedVm,
  naive: runNaive,
  service: runService,
  'service-stores': runServiceStores,
  'fair-share': runFairShare,
  soak: runSoak,
  limiter: runLimiter,
  'change-feed': runChangeFeed,
  density: (c) => runDensity(c, c.density ?? { max: Math.max(...DENSITY_STEPS) }),
};

const PARTS = {
  engine: ['cold-start', 'cold-breakdown', 'ours-sqlite', 'ours-sqlite-normal', 'ours-sqlite-normal-round-trips', 'ours-memory', 'ours-memory-round-trips', 'bridge', 'floor', 'isolated-vm', 'naive'],
  service: ['service'],
  stores: ['service-stores'],
  fairness: ['fair-share'],
  soak: ['soak'],
  limiter: ['limiter'],
  feed: ['change-feed'],
  density: ['density'],
} as const;
type Part = keyof typeof PARTS;

/** A section that has not answered by then is killed and reported as failed (bounded run). */
const SECTION_TIMEOUT_MS = 90_000;
/** The service section starts a server and uploads a 12 MB component (transpiled there) around ~60 s of load. */
const SECTION_TIMEOUTS_MS: Partial<Record<string, number>> = {
  service: 150_000,
  'service-stores': 240_000,
  'fair-share': 180_000,
  soak: 15 * 60_000,
  limiter: 180_000,
  'change-feed': 15 * 60_000,
  density: 120 * 60_000,
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workers: { type: 'string' },
    section: { type: 'string' },
    'work-dir': { type: 'string' },
    only: { type: 'string' },
    'density-max': { type: 'string' },
    'density-baseline': { type: 'string' },
    'density-baseline-max': { type: 'string' },
  },
});

function runSection(name: string, config: BenchConfig): Promise<SectionResult> {
  return new Promise((resolve, reject) => {
    const argv = ['--section', name, '--work-dir', config.workDir, '--workers', String(config.workers), ...(config.quick ? ['--quick'] : []), ...densityArgv(config)];
    const child = fork(fileURLToPath(import.meta.url), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: SectionResult | null = null;
    let lastStep = 'starting';
    let timedOut = false;
    const timeoutMs = SECTION_TIMEOUTS_MS[name] ?? SECTION_TIMEOUT_MS;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (m: SectionResult | ProgressMessage) => {
      if ('type' in m) lastStep = m.step;
      else result = m;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result) resolve(result);
      else if (timedOut) reject(new Error(`section ${name} did not finish within ${timeoutMs / 1000} s; last step: ${lastStep}`));
      else reject(new Error(`section ${name} ended without a result (exit ${code ?? signal}); last step: ${lastStep}`));
    });
  });
}

function densityArgv(config: BenchConfig): string[] {
  if (!config.density) return [];
  const { max, baseline } = config.density;
  return ['--density-max', String(max), ...(baseline ? ['--density-baseline', baseline.root, '--density-baseline-max', String(baseline.max)] : [])];
}

/** `--density-max N`, `--density-baseline <checkout>`, `--density-baseline-max N` (default 64). */
function densityOptions(): BenchConfig['density'] {
  const max = args['density-max'] === undefined ? (args.quick ? QUICK_DENSITY_MAX : Math.max(...DENSITY_STEPS)) : Number(args['density-max']);
  const baselineMax = args['density-baseline-max'] === undefined ? 64 : Number(args['density-baseline-max']);
  if (!Number.isInteger(max) || max < 1) throw new Error(`--density-max must be a positive integer, got ${args['density-max']}`);
  if (!Number.isInteger(baselineMax) || baselineMax < 1) throw new Error(`--density-baseline-max must be a positive integer, got ${args['density-baseline-max']}`);
  return { max, ...(args['density-baseline'] ? { baseline: { root: args['density-baseline'], max: baselineMax } } : {}) };
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
  if (args.only !== undefined && !(args.only in PARTS)) throw new Error(`--only must be one of ${Object.keys(PARTS).join(', ')}, got ${args.only}`);
  const parts = args.only ? [args.only as Part] : (Object.keys(PARTS) as Part[]);
  mkdirSync(join(repoRoot, '.cache'), { recursive: true });
  const workDir = mkdtempSync(join(repoRoot, '.cache', 'bench-run-'));
  const config: BenchConfig = { quick, workers, workDir, density: densityOptions() };

  const started = performance.now();
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`alga-runner benchmark (npm run bench): ${parts.join(' + ')}`);
  for (const line of describeMachine(machineInfo())) out(line);
  out(`mode:    ${quick ? 'quick' : 'full'}, ${workers} worker(s); requests in flight for ours = workers`);
  out();

  // cold start first (its first run transpiles into the shared artifact cache the others reuse)
  const plan = parts.flatMap((part) => (part === 'engine' && !quick ? ['cold-start', 'cold-start', ...PARTS.engine] : [...PARTS[part]]));
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

  if (parts.includes('engine')) {
    const report = new Report(results.filter((r) => !isServiceResult(r) && !isFairShareResult(r) && !isSoakResult(r) && !isLimiterResult(r) && !isChangeFeedResult(r) && !isDensityResult(r)));
    out('Latency (sequential requests after a warm-up) and throughput');
    out('ratios compare with "ours" — for /seven with "ours, in-memory caps", which uses the same in-memory host functions as the baselines');
    out();
    for (const line of report.table()) out(line);
    out();
    out('Phases and per-call figures');
    for (const line of report.factLines()) out(line);
    out();
    out('Targets (engine)');
    for (const line of report.verdictLines()) out(line);
    for (const note of report.notes) out(`note: ${note}`);
    out();
  }
  if (parts.includes('service')) printServiceReport(new ServiceReport(results.filter(isServiceResult), machineInfo().cores), out);
  if (parts.includes('fairness')) {
    for (const result of results.filter(isFairShareResult)) for (const line of fairShareReport(result)) out(line);
    out();
  }
  for (const stores of results.filter(isStoresResult)) {
    for (const line of storesReport(stores)) out(line);
    out();
  }
  for (const limiter of results.filter(isLimiterResult)) {
    for (const line of limiterReport(limiter)) out(line);
    out();
  }
  for (const soak of results.filter(isSoakResult)) {
    for (const line of soakReport(soak)) out(line);
    out();
  }
  for (const density of results.filter(isDensityResult)) {
    for (const line of densityReport(density)) out(line);
    out();
  }
  for (const feed of results.filter(isChangeFeedResult)) {
    for (const line of changeFeedReport(feed)) out(line);
    out();
  }
  for (const failure of failures) out(`FAILED section ${failure}`);
  out();
  out(
    `load at end: ${machineInfo()
      .loadAverage.map((l) => l.toFixed(2))
      .join(' / ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  if (failures.length > 0) process.exitCode = 1;
}

function printServiceReport(report: ServiceReport, out: (line?: string) => void): void {
  out('Service: POST /v1/execute over loopback HTTP, load from another process (autocannon, keep-alive, one request in flight per client)');
  out('engine rows: the same handlers through Engine.execute in this run (1 or 32 calls in flight); latency = p50/p99 of successful requests');
  out();
  for (const line of report.table()) out(line);
  out();
  out('Where the time goes');
  for (const line of report.breakdownLines()) out(line);
  for (const note of report.notes) out(`note: ${note}`);
  const failures = report.failureLines();
  out(failures.length ? 'Failed requests (left out of the latencies):' : 'Failed requests: none');
  for (const line of failures) out(`  ${line}`);
  out();
  out('Targets (service)');
  for (const line of report.verdictLines()) out(line);
  out();
}

if (args.section) {
  const workDir = args['work-dir'];
  if (!workDir) throw new Error('--section needs --work-dir');
  await child(args.section, { quick: args.quick ?? false, workers: Number(args.workers ?? availableParallelism()), workDir, density: densityOptions() });
} else {
  await main();
}
