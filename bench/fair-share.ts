/**
 * The fair-share section of `npm run bench` (`--only fairness`): what a hostile tenant does to a
 * well-behaved neighbour's latency. One `alga-runner serve` (2 workers by default, the production
 * admission: 8 running per tenant), the kitchen-sink installed for the neighbour, and three hostile
 * WAT guests, each installed for a tenant of its own with a 1 s deadline: endless loops
 * (wat-loop), memory growth to the 256 MiB cap (wat-grow), 15 MiB log messages until the deadline
 * (wat-log-flood). The neighbour sends `/noop` one request at a time (autocannon, 1 connection),
 * alone and during each attack (the attacker: 2 connections, two requests always in flight), the
 * same number of seconds each, in one run: alone, loops, alone, grow, alone, log flood, alone — on a
 * shared machine the background load drifts within seconds, so each attack is compared with the
 * mean of the phases alone just before and after it. Before each phase the neighbour warms both
 * workers (not measured; longer before the first, whose guest code V8 has not compiled yet); after
 * it the service is left to go idle (the attacker's last requests run to their end) before the next.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { exampleBytes, kitchenSinkBytes } from './guests.js';
import { progress, type BenchConfig, type SectionResult } from './results.js';
import { runLoad } from './service-load.js';
import { answerProblem } from './service.js';
import { admin, executeRequest, installKitchenSink, type BenchInstall, type RunnerService, startRunnerService } from './service-server.js';
import { summarize, type LatencySummary } from './stats.js';

/** The attackers' deadline (their installs' limits.timeout_ms): short, so a run stays short. */
export const ATTACK_TIMEOUT_MS = 1000;
const ATTACKER_CONNECTIONS = 2;

export type Phase = 'alone' | 'loops' | 'grow' | 'log-flood';

const ATTACKS: Record<Exclude<Phase, 'alone'>, { example: string; what: string }> = {
  loops: { example: 'wat-loop', what: 'endless loops' },
  grow: { example: 'wat-grow', what: 'memory growth to the 256 MiB cap' },
  'log-flood': { example: 'wat-log-flood', what: '15 MiB log messages until the deadline' },
};
const PHASES: Phase[] = ['alone', 'loops', 'alone', 'grow', 'alone', 'log-flood', 'alone'];

/** Seconds of load. */
interface Plan {
  /** the first warm-up */
  firstWarm: number;
  warm: number;
  measure: number;
}
const FULL: Plan = { firstWarm: 4, warm: 1, measure: 8 };
const QUICK: Plan = { firstWarm: 2, warm: 1, measure: 4 };

export interface FairShareRow {
  phase: Phase;
  /** the neighbour's successful requests */
  neighbour: LatencySummary;
  neighbourPerSecond: number;
  neighbourFailures: Record<string, number>;
  /** the attacker's answers by outcome (guest status or fault), null when alone */
  attacker: Record<string, number> | null;
  /** installs put on probation and workers replaced during the phase (the service's metrics) */
  probations: number;
  restarts: number;
}

export interface FairShareSectionResult extends SectionResult {
  fairness: { rows: FairShareRow[]; notes: string[]; workers: number; attackTimeoutMs: number };
}

export function isFairShareResult(r: SectionResult): r is FairShareSectionResult {
  return 'fairness' in r;
}

async function metric(service: RunnerService, name: string): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}

/** Waits until nothing runs or waits in the service (the attacker's last requests run to their deadline). */
async function idle(service: RunnerService): Promise<void> {
  const until = performance.now() + 60_000;
  while ((await metric(service, 'alga_runner_executions_in_flight')) > 0 || (await metric(service, 'alga_runner_queue_depth')) > 0) {
    if (performance.now() > until) throw new Error('the service did not go idle within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function installAttacker(service: RunnerService, phase: keyof typeof ATTACKS): Promise<BenchInstall> {
  const name = `hostile-${phase}`;
  const version = (await admin(service, 'POST', `/admin/v1/extensions?${new URLSearchParams({ name, version: '1.0.0' })}`, exampleBytes(ATTACKS[phase].example), 'application/wasm')) as {
    extension_id: string;
    version_id: string;
    content_hash: string;
  };
  const tenantId = `attacker-${phase}`;
  const install = (await admin(service, 'POST', '/admin/v1/installs', {
    tenant_id: tenantId,
    extension_id: version.extension_id,
    version_id: version.version_id,
    limits: { timeout_ms: ATTACK_TIMEOUT_MS },
  })) as {
    install_id: string;
  };
  return { tenantId, extensionId: version.extension_id, versionId: version.version_id, contentHash: version.content_hash, installId: install.install_id };
}

/** The attacker's answer: the fault code, or the guest's status. */
function outcomeOf(text: string): string {
  try {
    const answer = JSON.parse(text) as { status?: unknown; error?: unknown };
    return typeof answer.error === 'string' ? answer.error : `status ${String(answer.status)}`;
  } catch {
    return 'not JSON';
  }
}

export async function runFairShare(config: BenchConfig): Promise<FairShareSectionResult> {
  const plan = config.quick ? QUICK : FULL;
  const rows: FairShareRow[] = [];
  const notes: string[] = [];
  mkdirSync(join(config.workDir, 'fair-share'), { recursive: true });
  const runDir = mkdtempSync(join(config.workDir, 'fair-share', 'run-'));
  progress('start the service');
  // the production admission: a tenant may have 8 running (above the worker count) and 32 waiting
  const service = await startRunnerService({
    dataDir: join(runDir, 'data'),
    workers: config.workers,
    logFile: join(runDir, 'service.log'),
    env: { RUNNER_TENANT_CONCURRENCY: '8', RUNNER_TENANT_QUEUE: '32' },
  });
  notes.push(`service: ${service.command}`);
  try {
    progress('install the neighbour (kitchen-sink) and the attackers');
    const neighbour = await installKitchenSink(service, kitchenSinkBytes());
    const attackers = new Map<Phase, BenchInstall>();
    for (const phase of Object.keys(ATTACKS) as (keyof typeof ATTACKS)[]) attackers.set(phase, await installAttacker(service, phase));
    const request = executeRequest(service, neighbour, '/noop');
    const neighbourLoad = (connections: number, seconds: number) =>
      runLoad({ url: `${service.url}/v1/execute`, method: 'POST', headers: request.headers, body: request.body, connections, durationSeconds: seconds, check: (text) => answerProblem('noop', text) });

    for (const [i, phase] of PHASES.entries()) {
      progress(`${phase}: warm the neighbour on both workers`);
      await neighbourLoad(config.workers, i === 0 ? plan.firstWarm : plan.warm);
      const probationsBefore = await metric(service, 'alga_runner_install_probations_total');
      const restartsBefore = await metric(service, 'alga_runner_worker_restarts_total');
      const attacker = attackers.get(phase);
      progress(`${phase}: measure the neighbour${attacker ? ' under attack' : ''} for ${plan.measure} s`);
      const outcomes: Record<string, number> = {};
      const attack = attacker
        ? (() => {
            const a = executeRequest(service, attacker, '/');
            return runLoad({
              url: `${service.url}/v1/execute`,
              method: 'POST',
              headers: a.headers,
              body: a.body,
              connections: ATTACKER_CONNECTIONS,
              durationSeconds: plan.measure,
              check: (text) => {
                const outcome = outcomeOf(text);
                outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
                return null;
              },
            });
          })()
        : null;
      const [measured, attackPart] = await Promise.all([neighbourLoad(1, plan.measure), attack]);
      for (const [what, count] of Object.entries(attackPart?.failures ?? {})) outcomes[`transport: ${what}`] = count;
      progress(`${phase}: wait for the service to go idle`);
      await idle(service);
      rows.push({
        phase,
        neighbour: summarize(measured.samples),
        neighbourPerSecond: measured.samples.length / measured.seconds,
        neighbourFailures: measured.failures,
        attacker: attacker ? outcomes : null,
        probations: (await metric(service, 'alga_runner_install_probations_total')) - probationsBefore,
        restarts: (await metric(service, 'alga_runner_worker_restarts_total')) - restartsBefore,
      });
    }
  } finally {
    progress('stop the service');
    await service.stop();
  }
  return { section: 'fair-share', rows: [], facts: [], notes: [], fairness: { rows, notes, workers: config.workers, attackTimeoutMs: ATTACK_TIMEOUT_MS } };
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);

/** The neighbour alone around an attack: the mean of the phases alone just before and after it. */
function baselineOf(rows: FairShareRow[], index: number): { p50: number; p99: number } | undefined {
  const around = [rows[index - 1], rows[index + 1]].filter((r): r is FairShareRow => r?.phase === 'alone' && r.neighbour.count > 0);
  if (around.length === 0) return undefined;
  const mean = (pick: (r: FairShareRow) => number) => around.reduce((n, r) => n + pick(r), 0) / around.length;
  return { p50: mean((r) => r.neighbour.p50), p99: mean((r) => r.neighbour.p99) };
}

/** The printed report: the neighbour's latency per phase, ratios to it alone, and the goals. */
export function fairShareReport(result: FairShareSectionResult): string[] {
  const { rows, notes, attackTimeoutMs, workers } = result.fairness;
  const out: string[] = [];
  out.push(
    `Fair share: a neighbour's POST /v1/execute /noop (1 request in flight) alone and while another tenant attacks (2 requests in flight, deadline ${attackTimeoutMs} ms), ${workers} worker(s)`,
  );
  out.push('');
  out.push('÷ alone: over the mean of the phases alone just before and after');
  out.push('');
  const header = `${pad('phase', 10)} ${pad('attack', 40)} ${lpad('p50 ms', 8)} ${lpad('p99 ms', 8)} ${lpad('max ms', 8)} ${lpad('req/s', 7)} ${lpad('ok', 6)} ${lpad('failed', 6)} ${lpad('p50 ÷ alone', 11)} ${lpad('p99 ÷ alone', 11)} ${lpad('probations', 10)} ${lpad('restarts', 8)}  attacker's answers`;
  out.push(header, '-'.repeat(header.length));
  for (const [i, r] of rows.entries()) {
    const baseline = r.phase === 'alone' ? undefined : baselineOf(rows, i);
    const failed = Object.values(r.neighbourFailures).reduce((n, v) => n + v, 0);
    const what = r.phase in ATTACKS ? ATTACKS[r.phase as keyof typeof ATTACKS].what : '';
    const answers = r.attacker
      ? Object.entries(r.attacker)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : '';
    out.push(
      `${pad(r.phase, 10)} ${pad(what, 40)} ${lpad(fmt(r.neighbour.p50, 3), 8)} ${lpad(fmt(r.neighbour.p99, 3), 8)} ${lpad(fmt(r.neighbour.max, 1), 8)} ${lpad(fmt(r.neighbourPerSecond, 0), 7)} ${lpad(String(r.neighbour.count), 6)} ${lpad(String(failed), 6)} ${lpad(baseline ? `${fmt(r.neighbour.p50 / baseline.p50)}×` : '', 11)} ${lpad(baseline ? `${fmt(r.neighbour.p99 / baseline.p99)}×` : '', 11)} ${lpad(String(r.probations), 10)} ${lpad(String(r.restarts), 8)}  ${answers}`,
    );
  }
  out.push('');
  out.push("Goals (per attack): the neighbour's p50 within 2× of its p50 alone; its p99 within one deadline");
  for (const [i, r] of rows.entries()) {
    const baseline = baselineOf(rows, i);
    if (r.phase === 'alone' || !baseline) continue;
    // no sample, no pass: NaN compares false
    const p50ok = r.neighbour.p50 <= 2 * baseline.p50;
    const p99ok = r.neighbour.p99 <= attackTimeoutMs;
    const failed = Object.values(r.neighbourFailures).reduce((n, v) => n + v, 0);
    out.push(`${pad(p50ok ? 'PASS' : 'MISS', 5)} ${pad(`${r.phase}: p50 ≤ 2 × ${fmt(baseline.p50, 3)} ms`, 40)} ${fmt(r.neighbour.p50, 3)} ms (${fmt(r.neighbour.p50 / baseline.p50)}×)`);
    out.push(`${pad(p99ok ? 'PASS' : 'MISS', 5)} ${pad(`${r.phase}: p99 ≤ ${attackTimeoutMs} ms`, 40)} ${fmt(r.neighbour.p99, 3)} ms`);
    out.push(`${pad(failed === 0 && r.neighbour.count > 0 ? 'PASS' : 'MISS', 5)} ${pad(`${r.phase}: every neighbour answer 200`, 40)} ${failed} failed of ${r.neighbour.count + failed}`);
  }
  for (const note of notes) out.push(`note: ${note}`);
  return out;
}
