/**
 * The limiter section of `npm run bench` (`--only limiter`): what the shared per-tenant limiter
 * (Redis, src/service/redis-admission.ts) adds per request over the per-replica one
 * (src/service/admission.ts), measured side by side in one run, in alternating rounds (the
 * background load of a shared machine drifts within seconds):
 *  - admission alone, in this process: admit + release of one tenant, one at a time (latency) and
 *    32 at once (throughput), through AdmissionControl and through RedisAdmission;
 *  - the kitchen-sink `/noop` through `POST /v1/execute` over loopback HTTP, against two
 *    `alga-runner serve` processes that differ only in RUNNER_REDIS_URL, at 1 and 32 clients.
 * Redis is TEST_REDIS_URL or the machine's (redis://127.0.0.1:6379); each run uses a key prefix of
 * its own and removes its keys.
 */
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AdmissionControl, type AdmissionLimiter } from '../src/service/admission.js';
import { RedisAdmission } from '../src/service/redis-admission.js';
import { kitchenSinkBytes } from './guests.js';
import { progress, type BenchConfig, type SectionResult } from './results.js';
import { executeLoad } from './service.js';
import { installKitchenSink, startRunnerService, type BenchInstall, type RunnerService } from './service-server.js';
import type { RunPart } from './service-results.js';
import { summarize, type LatencySummary } from './stats.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TENANT = 'tenant-bench';
/** the production default per-tenant concurrency: admission never refuses in these loops */
const LIMITS = { perTenant: 64, tenantQueue: 64, globalQueue: 1024 };
const IN_FLIGHT = 32;

type Limiter = 'local' | 'redis';

interface Plan {
  /** admission alone: calls per round, rounds */
  calls: number;
  rounds: number;
  /** HTTP: seconds of warm-up per service, seconds per round, rounds */
  warm: number;
  measure: number;
  httpRounds: number;
}
const FULL: Plan = { calls: 4000, rounds: 4, warm: 2, measure: 3, httpRounds: 4 };
const QUICK: Plan = { calls: 1000, rounds: 2, warm: 1, measure: 2, httpRounds: 2 };

export interface LimiterRow {
  what: 'admission' | 'execute /noop';
  limiter: Limiter;
  inFlight: number;
  latency: LatencySummary;
  perSecond: number;
  failures: number;
  /** CPU µs per request: of the admitting process (this one for admission alone, the service for /noop) and of the Redis server */
  cpuUs: { process: number | null; redis: number | null };
}

export interface LimiterSectionResult extends SectionResult {
  limiter: { rows: LimiterRow[]; notes: string[] };
}

export function isLimiterResult(r: SectionResult): r is LimiterSectionResult {
  return 'limiter' in r;
}

interface Part {
  samples: number[];
  seconds: number;
  failures: number;
  processCpu: number | null;
  redisCpu: number | null;
}

/** CPU seconds the Redis server has used (INFO cpu), to bill its share of each request */
async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** admit + release, `calls` times with `inFlight` lanes; each sample is one admit until admitted */
async function admissionRound(limiter: AdmissionLimiter, calls: number, inFlight: number, client: Redis): Promise<Part> {
  const samples: number[] = [];
  let failures = 0;
  let next = 0;
  const redisBefore = await redisCpuSeconds(client);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < calls) {
        next++;
        const t = performance.now();
        const a = await limiter.admit(TENANT);
        samples.push(performance.now() - t);
        if (a.kind === 'admitted') a.release();
        else failures++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, seconds, failures, processCpu: (cpu.user + cpu.system) / 1e6, redisCpu: (await redisCpuSeconds(client)) - redisBefore };
}

function row(what: LimiterRow['what'], limiter: Limiter, inFlight: number, parts: Part[]): LimiterRow {
  const samples = parts.flatMap((p) => p.samples);
  const seconds = parts.reduce((n, p) => n + p.seconds, 0);
  const perRequest = (pick: (p: Part) => number | null) => (parts.every((p) => pick(p) !== null) ? (parts.reduce((n, p) => n + pick(p)!, 0) / Math.max(1, samples.length)) * 1e6 : null);
  return {
    what,
    limiter,
    inFlight,
    latency: summarize(samples),
    perSecond: samples.length / seconds,
    failures: parts.reduce((n, p) => n + p.failures, 0),
    cpuUs: { process: perRequest((p) => p.processCpu), redis: perRequest((p) => p.redisCpu) },
  };
}

async function measureAdmission(plan: Plan, prefix: string, rows: LimiterRow[], client: Redis): Promise<void> {
  const local = new AdmissionControl(LIMITS);
  const redis = new RedisAdmission({ url: REDIS_URL, prefix, limits: LIMITS, leaseMs: 10_000 });
  try {
    if (!(await redis.ready(5000))) throw new Error(`Redis at ${REDIS_URL} is unreachable`);
    const limiters: Record<Limiter, AdmissionLimiter> = { local, redis };
    for (const inFlight of [1, IN_FLIGHT]) {
      // warm-up (JIT, connection), not measured
      for (const l of Object.values(limiters)) await admissionRound(l, plan.calls / 4, inFlight, client);
      const parts: Record<Limiter, Part[]> = { local: [], redis: [] };
      for (let round = 1; round <= plan.rounds; round++) {
        progress(`admission alone, ${inFlight} in flight, round ${round} of ${plan.rounds}`);
        for (const name of ['local', 'redis'] as const) parts[name].push(await admissionRound(limiters[name], plan.calls, inFlight, client));
      }
      for (const name of ['local', 'redis'] as const) rows.push(row('admission', name, inFlight, parts[name]));
    }
    if (redis.fallbacks > 0) throw new Error(`the Redis limiter fell back to local limits ${redis.fallbacks} times: Redis did not answer within 1 s`);
  } finally {
    await redis.close();
  }
}

async function noopLoad(service: RunnerService, install: BenchInstall, clients: number, seconds: number, client: Redis): Promise<Part> {
  const redisBefore = await redisCpuSeconds(client);
  const part: RunPart = await executeLoad(service, install, 'noop', clients, seconds);
  const failures = Object.values(part.failures).reduce((n, c) => n + c, 0);
  return { samples: part.samples, seconds: part.seconds, failures, processCpu: part.serverCpuSeconds, redisCpu: (await redisCpuSeconds(client)) - redisBefore };
}

async function measureExecute(config: BenchConfig, plan: Plan, prefix: string, rows: LimiterRow[], notes: string[], client: Redis): Promise<void> {
  mkdirSync(join(config.workDir, 'limiter'), { recursive: true });
  const runDir = mkdtempSync(join(config.workDir, 'limiter', 'run-'));
  progress('start the service without Redis; upload kitchen-sink');
  const env = { RUNNER_TENANT_CONCURRENCY: String(LIMITS.perTenant), RUNNER_TENANT_QUEUE: String(LIMITS.tenantQueue) };
  const services: Partial<Record<Limiter, { service: RunnerService; install: BenchInstall }>> = {};
  try {
    const localService = await startRunnerService({ dataDir: join(runDir, 'local'), workers: config.workers, logFile: join(runDir, 'local.log'), env });
    services.local = { service: localService, install: await installKitchenSink(localService, kitchenSinkBytes()) };
    // the second service finds the transpiled artifact on disk instead of transpiling it again
    cpSync(join(runDir, 'local', 'artifacts'), join(runDir, 'redis', 'artifacts'), { recursive: true });
    progress('start the service with Redis; upload kitchen-sink');
    const redisEnv = { ...env, RUNNER_REDIS_URL: REDIS_URL, RUNNER_REDIS_PREFIX: prefix };
    const redisService = await startRunnerService({ dataDir: join(runDir, 'redis'), workers: config.workers, logFile: join(runDir, 'redis.log'), env: redisEnv });
    services.redis = { service: redisService, install: await installKitchenSink(redisService, kitchenSinkBytes()) };
    const scope = await (await fetch(`${redisService.url}/metrics`)).text();
    if (!/alga_runner_admission_scope\{limiter="redis",scope="global"\} 1/.test(scope)) throw new Error('the service with RUNNER_REDIS_URL does not report scope global');
    notes.push(`services: ${config.workers} worker(s) each, RUNNER_TENANT_CONCURRENCY=${LIMITS.perTenant}, one with RUNNER_REDIS_URL=${REDIS_URL}`);

    for (const clients of [1, IN_FLIGHT]) {
      for (const name of ['local', 'redis'] as const) {
        progress(`warm-up /noop ${name}, ${clients} client(s)`);
        await noopLoad(services[name]!.service, services[name]!.install, clients, plan.warm, client);
      }
      const parts: Record<Limiter, Part[]> = { local: [], redis: [] };
      for (let round = 1; round <= plan.httpRounds; round++) {
        for (const name of ['local', 'redis'] as const) {
          progress(`/noop, ${clients} client(s), round ${round} of ${plan.httpRounds}: ${name}`);
          parts[name].push(await noopLoad(services[name]!.service, services[name]!.install, clients, plan.measure / plan.httpRounds, client));
        }
      }
      for (const name of ['local', 'redis'] as const) rows.push(row('execute /noop', name, clients, parts[name]));
    }
  } finally {
    progress('stop the services');
    await Promise.all(Object.values(services).map((s) => s.service.stop()));
  }
}

export async function runLimiter(config: BenchConfig): Promise<LimiterSectionResult> {
  const plan = config.quick ? QUICK : FULL;
  const rows: LimiterRow[] = [];
  const notes: string[] = [];
  const prefix = `bench:limiter:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    await measureAdmission(plan, `${prefix}alone:`, rows, client);
    await measureExecute(config, plan, `${prefix}service:`, rows, notes, client);
  } finally {
    const keys = await client.keys(`${prefix}*`).catch(() => []);
    if (keys.length) await client.del(...keys).catch(() => undefined);
    client.disconnect();
  }
  return { section: 'limiter', rows: [], facts: [], notes: [], limiter: { rows, notes } };
}

const ms = (v: number) => (v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(2)} ms`);

export function limiterReport(result: LimiterSectionResult): string[] {
  const out = [
    'Limiter: the shared per-tenant limiter (Redis) against the per-replica one, same run, alternating rounds',
    'admission = admit + release in-process (latency: admit until admitted); execute = POST /v1/execute /noop over loopback HTTP',
    '',
    'CPU per request: of the admitting process (this one for admission alone, the service for /noop) and of the Redis server (INFO cpu)',
    '',
    `${'what'.padEnd(14)} ${'in flight'.padStart(9)} ${'limiter'.padEnd(8)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'per s'.padStart(9)} ${'CPU µs'.padStart(7)} ${'Redis µs'.padStart(8)}  redis ÷ local (p50, p99, per s)`,
  ];
  for (const r of result.limiter.rows) {
    const base = result.limiter.rows.find((b) => b.what === r.what && b.inFlight === r.inFlight && b.limiter === 'local');
    const ratio =
      r.limiter === 'redis' && base ? `${(r.latency.p50 / base.latency.p50).toFixed(2)}×, ${(r.latency.p99 / base.latency.p99).toFixed(2)}×, ${(r.perSecond / base.perSecond).toFixed(2)}×` : '';
    const failed = r.failures ? `  (${r.failures} failed)` : '';
    const cpu = (v: number | null) => (v === null ? '?' : v.toFixed(0));
    out.push(
      `${r.what.padEnd(14)} ${String(r.inFlight).padStart(9)} ${r.limiter.padEnd(8)} ${ms(r.latency.p50).padStart(9)} ${ms(r.latency.p99).padStart(9)} ${r.perSecond.toFixed(0).padStart(9)} ${cpu(r.cpuUs.process).padStart(7)} ${cpu(r.cpuUs.redis).padStart(8)}  ${ratio}${failed}`,
    );
  }
  for (const note of result.limiter.notes) out.push(`note: ${note}`);
  return out;
}
