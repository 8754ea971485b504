/**
 * The density part of `npm run bench` (`--only density`): many distinct extensions in one
 * `alga-runner serve` process. The extensions are copies of the kitchen-sink that differ in their
 * JavaScript (density-variants.ts), so their data differs as real extensions' does. They are
 * installed through the admin API one by one, and after each step of N (1, 16, 64, 256, 1 000):
 *
 * - install time per extension (upload → the upload's answer, whose preparation is done, + install),
 *   and the first request of each new install (`/variant`, its answer checked against the copy);
 * - `/noop` sent round-robin over all N installs, sequentially and with as many in flight as the
 *   service has workers, after one round over all N as a warm-up: p50, p99, req/s;
 * - the service's RSS with all N in use.
 *
 * The one-extension figures (N = 1) are measured again after the largest N, and the better of the
 * two is what the targets compare with: the first measurement runs while the engine's code is still
 * being tiered up, which would flatter the larger N.
 *
 * `--density-baseline <checkout>` runs the same steps, up to `--density-baseline-max` (64 by
 * default: an extension cost the old build ~43 MiB), against another build of the runner, e.g. a
 * worktree of the commit before shared code; its figures are printed beside these.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress, type BenchConfig, type SectionResult } from './results.js';
import { admin, executeRequest, startRunnerService, type BenchInstall, type RunnerService } from './service-server.js';
import { ensureVariants, expectedDigest, type Variant } from './density-variants.js';
import { summarize, type LatencySummary } from './stats.js';

export const DENSITY_STEPS = [1, 16, 64, 256, 1000] as const;
/** `--quick` stops here unless `--density-max` says otherwise */
export const QUICK_DENSITY_MAX = 64;

export interface DensityStep {
  extensions: number;
  /** installs made in this step (upload + install), ms each */
  install: LatencySummary | null;
  /** first request of each install made in this step, ms each */
  firstRequest: LatencySummary | null;
  sequential: LoadFigures;
  concurrent: LoadFigures;
  rssMiB: number | null;
  /** the one-extension figures measured again after the largest step */
  again?: boolean;
}

export interface LoadFigures {
  inFlight: number;
  latency: LatencySummary;
  perSecond: number;
}

export interface DensityRun {
  build: string;
  command: string;
  steps: DensityStep[];
  failures: string[];
}

export interface DensityResult extends SectionResult {
  density: DensityRun[];
}

export function isDensityResult(r: SectionResult): r is DensityResult {
  return 'density' in r;
}

interface DensityOptions {
  /** largest N of this run (steps above it are left out) */
  max: number;
  /** another checkout of the runner to measure the same way, and its own largest N */
  baseline?: { root: string; max: number };
}

const TENANT_PREFIX = 'tenant-density-';

/** Requests per round-robin measurement: at least two rounds over all N. */
function requestsFor(n: number, quick: boolean): number {
  return Math.max(quick ? 300 : 1000, 2 * n);
}

export async function runDensity(config: BenchConfig, options: DensityOptions): Promise<DensityResult> {
  const steps = DENSITY_STEPS.filter((n) => n <= options.max);
  const largest = Math.max(...steps);
  progress(`density: ${largest} distinct extensions (built where not cached)`);
  const started = performance.now();
  const variants = await ensureVariants(largest, (built, missing) => progress(`density: built ${built} of ${missing} missing variants (${((performance.now() - started) / 1000).toFixed(0)} s)`));
  const result: DensityResult = { section: 'density', rows: [], facts: [], notes: [], density: [] };
  result.notes.push(`variants ready after ${((performance.now() - started) / 1000).toFixed(0)} s (.cache/density-variants)`);
  result.density.push(await measureBuild(config, 'this build', undefined, steps, variants));
  if (options.baseline) {
    const baselineSteps = steps.filter((n) => n <= options.baseline!.max);
    result.density.push(await measureBuild(config, `baseline ${options.baseline.root}`, options.baseline.root, baselineSteps, variants));
  }
  return result;
}

async function measureBuild(config: BenchConfig, build: string, root: string | undefined, steps: readonly number[], variants: Variant[]): Promise<DensityRun> {
  mkdirSync(join(config.workDir, 'density'), { recursive: true });
  const runDir = mkdtempSync(join(config.workDir, 'density', 'run-'));
  progress(`density (${build}): start the service`);
  const service = await startRunnerService({ dataDir: join(runDir, 'data'), workers: config.workers, logFile: join(runDir, 'service.log'), root });
  const run: DensityRun = { build, command: service.command, steps: [], failures: [] };
  const installs: BenchInstall[] = [];
  try {
    for (const n of steps) {
      const installTimes: number[] = [];
      const firstRequests: number[] = [];
      for (let i = installs.length; i < n; i++) {
        if (i % 50 === 0) progress(`density (${build}): installing ${i + 1}..${n}`);
        const variant = variants[i]!;
        let t = performance.now();
        const install = await installVariant(service, variant);
        installTimes.push(performance.now() - t);
        t = performance.now();
        await checkVariant(service, install, variant.index);
        firstRequests.push(performance.now() - t);
        installs.push(install);
      }
      progress(`density (${build}): N=${n}, round-robin`);
      run.steps.push(await measureStep(service, installs, n, config, installTimes, firstRequests));
    }
    if (steps.length > 1) {
      progress(`density (${build}): N=1 again`);
      run.steps.push({ ...(await measureStep(service, installs, 1, config, [], [])), again: true });
    }
  } catch (e) {
    run.failures.push(e instanceof Error ? e.message : String(e));
  } finally {
    await service.stop();
  }
  return run;
}

async function measureStep(service: RunnerService, installs: BenchInstall[], n: number, config: BenchConfig, installTimes: number[], firstRequests: number[]): Promise<DensityStep> {
  const requests = requestsFor(n, config.quick);
  const send = noopSender(service, installs.slice(0, n));
  // warm-up: every install of the step once, and at least a few hundred requests
  for (let i = 0; i < Math.max(n, config.quick ? 200 : 500); i++) await send(i);
  const sequential = await roundRobin(send, requests, 1);
  const concurrent = await roundRobin(send, requests, config.workers);
  const rss = service.rssBytes();
  return {
    extensions: n,
    install: installTimes.length ? summarize(installTimes) : null,
    firstRequest: firstRequests.length ? summarize(firstRequests) : null,
    sequential,
    concurrent,
    rssMiB: rss === null ? null : rss / 2 ** 20,
  };
}

/** `/noop` of install `i mod N`, the answer checked; resolves to nothing, throws on a wrong answer. */
function noopSender(service: RunnerService, installs: BenchInstall[]): (i: number) => Promise<void> {
  const requests = installs.map((install) => executeRequest(service, install, '/noop'));
  return async (i) => {
    const { headers, body } = requests[i % requests.length]!;
    const response = await fetch(`${service.url}/v1/execute`, { method: 'POST', headers, body });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`/noop of install ${i % requests.length}: ${response.status} ${text}`);
    const answer = JSON.parse(text) as { status?: unknown };
    if (answer.status !== 200) throw new Error(`/noop of install ${i % requests.length}: guest status ${String(answer.status)}`);
  };
}

async function roundRobin(send: (i: number) => Promise<void>, total: number, inFlight: number): Promise<LoadFigures> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      await send(i);
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - started) / 1000;
  return { inFlight, latency: summarize(samples), perSecond: total / seconds };
}

async function installVariant(service: RunnerService, variant: Variant): Promise<BenchInstall> {
  const tenantId = `${TENANT_PREFIX}${variant.index}`;
  const query = new URLSearchParams({ name: `density-${variant.index}`, version: '0.1.0' });
  const version = (await admin(service, 'POST', `/admin/v1/extensions?${query}`, readFileSync(variant.path), 'application/wasm')) as { extension_id: string; version_id: string; content_hash: string };
  const install = (await admin(service, 'POST', '/admin/v1/installs', { tenant_id: tenantId, extension_id: version.extension_id, version_id: version.version_id, grants: [] })) as {
    install_id: string;
  };
  return { tenantId, extensionId: version.extension_id, versionId: version.version_id, contentHash: version.content_hash, installId: install.install_id };
}

/** The install's first request: `/variant` must name this copy and its own digest. */
async function checkVariant(service: RunnerService, install: BenchInstall, index: number): Promise<void> {
  const { headers, body } = executeRequest(service, install, '/variant');
  const response = await fetch(`${service.url}/v1/execute`, { method: 'POST', headers, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/variant of copy ${index}: ${response.status} ${text}`);
  const answer = JSON.parse(text) as { status?: unknown; body_b64?: string };
  const guest = JSON.parse(Buffer.from(answer.body_b64 ?? '', 'base64').toString('utf8')) as { variant?: unknown; digest?: unknown };
  if (answer.status !== 200 || guest.variant !== index || guest.digest !== expectedDigest(index)) {
    throw new Error(`/variant of copy ${index} answered ${JSON.stringify(guest)} (status ${String(answer.status)}); expected variant ${index}, digest ${expectedDigest(index)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// report

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const pair = (s: LatencySummary | null) => (s ? `${ms(s.p50)} / ${ms(s.p99)}` : '—');

export function densityReport(result: DensityResult): string[] {
  const lines = ['Density: N distinct extensions in one service, /noop round-robin over all N (POST /v1/execute, loopback HTTP)', ''];
  for (const run of result.density) {
    lines.push(`${run.build}: ${run.command}`);
    lines.push(
      `${'N'.padStart(6)}  ${'install ms p50/p99'.padEnd(20)}${'1st request p50/p99'.padEnd(21)}${'seq p50/p99 ms'.padEnd(17)}${'seq req/s'.padStart(9)}  ${'conc p50/p99 ms'.padEnd(17)}${'conc req/s'.padStart(10)}  ${'RSS MiB'.padStart(8)}`,
    );
    for (const step of run.steps) {
      lines.push(
        `${(step.again ? `${step.extensions} again` : String(step.extensions)).padStart(6)}  ${pair(step.install).padEnd(20)}${pair(step.firstRequest).padEnd(21)}${pair(step.sequential.latency).padEnd(17)}${step.sequential.perSecond.toFixed(0).padStart(9)}  ${pair(step.concurrent.latency).padEnd(17)}${step.concurrent.perSecond.toFixed(0).padStart(10)}  ${(step.rssMiB?.toFixed(0) ?? '—').padStart(8)}`,
      );
    }
    for (const failure of run.failures) lines.push(`FAILED: ${failure}`);
    lines.push('');
  }
  const ours = result.density[0];
  if (ours) lines.push(...verdicts(ours));
  const baseline = result.density[1];
  if (ours && baseline) lines.push('', ...comparison(ours, baseline));
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines;
}

function verdicts(run: DensityRun): string[] {
  const ones = run.steps.filter((s) => s.extensions === 1);
  const largest = run.steps.filter((s) => !s.again).at(-1);
  if (ones.length === 0 || !largest || largest.extensions === 1) return ['Targets (density): need N = 1 and a larger N'];
  const one = (pick: (s: DensityStep) => number, better: 'min' | 'max') => (better === 'min' ? Math.min(...ones.map(pick)) : Math.max(...ones.map(pick)));
  const seqP50 = largest.sequential.latency.p50 / one((s) => s.sequential.latency.p50, 'min');
  const seqRate = largest.sequential.perSecond / one((s) => s.sequential.perSecond, 'max');
  const concP50 = largest.concurrent.latency.p50 / one((s) => s.concurrent.latency.p50, 'min');
  const concRate = largest.concurrent.perSecond / one((s) => s.concurrent.perSecond, 'max');
  const installs = run.steps.filter((s) => s.install && s.extensions > 1).map((s) => s.install!.p50);
  const steps = run.steps.filter((s) => !s.again);
  const cliff = steps.slice(1).map((s, i) => s.sequential.latency.p50 / steps[i]!.sequential.latency.p50);
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const n = largest.extensions;
  return [
    `Targets (density, N = ${n} against the best one-extension figures of this run)`,
    `  sequential p50 ${ratio(seqP50)} (≤ 5×): ${verdict(seqP50 <= 5)}; req/s ${ratio(seqRate)} (≥ 0.2×): ${verdict(seqRate >= 0.2)}`,
    `  ${largest.concurrent.inFlight} in flight: p50 ${ratio(concP50)} (≤ 5×): ${verdict(concP50 <= 5)}; req/s ${ratio(concRate)} (≥ 0.2×): ${verdict(concRate >= 0.2)}`,
    `  no cliff: sequential p50 from one step to the next ${cliff.map(ratio).join(', ')} (largest ${ratio(Math.max(...cliff))})`,
    `  RSS with ${n} installed and in use: ${largest.rssMiB?.toFixed(0) ?? '—'} MiB (≤ 2048): ${verdict((largest.rssMiB ?? Infinity) <= 2048)}`,
    `  install with the engine code compiled, p50 of each step after the first: ${installs.map((v) => `${ms(v)} ms`).join(', ')} (≤ 300 ms): ${verdict(installs.every((v) => v <= 300))}`,
  ];
}

function comparison(ours: DensityRun, baseline: DensityRun): string[] {
  const lines = [`This build against ${baseline.build} (same run; ratio = baseline / this build)`];
  for (const step of baseline.steps) {
    const mine = ours.steps.find((s) => s.extensions === step.extensions && s.again === step.again);
    if (!mine) continue;
    lines.push(
      `  N=${step.extensions}${step.again ? ' again' : ''}: seq p50 ${ms(step.sequential.latency.p50)} → ${ms(mine.sequential.latency.p50)} ms (${ratio(step.sequential.latency.p50 / mine.sequential.latency.p50)}), ` +
        `install p50 ${step.install ? ms(step.install.p50) : '—'} → ${mine.install ? ms(mine.install.p50) : '—'} ms, RSS ${step.rssMiB?.toFixed(0) ?? '—'} → ${mine.rssMiB?.toFixed(0) ?? '—'} MiB`,
    );
  }
  return lines;
}

function ratio(v: number): string {
  return `${v.toFixed(2)}×`;
}
