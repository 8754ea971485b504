/**
 * The service section of `npm run bench`: `POST /v1/execute` end to end over
 * loopback HTTP. The runner service runs as `alga-runner serve` in a child process, set up through
 * the admin API; this process is the load generator (autocannon) and also holds the engine-level
 * reference (service-engine.ts).
 *
 * Per handler: a warm-up at 32, then at 1 client (latency) and at 32 (throughput) the engine and
 * the service measured in alternating rounds — on a shared machine the background load drifts
 * within seconds, and alternating gives both sides of "service − engine" the same share of it.
 * Last, `GET /healthz` on the same server (Fastify, hooks, logging — no guest) as the HTTP floor.
 */
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkSevenBody, kitchenSinkBytes } from './guests.js';
import { progress, type BenchConfig } from './results.js';
import { runLoad } from './service-load.js';
import { EngineReference, engineRequests, type EngineHandler } from './service-engine.js';
import { executeRequest, installKitchenSink, startRunnerService, type BenchInstall, type RunnerService } from './service-server.js';
import { CLIENT_COUNTS, emptyServiceResult, rowFrom, type RunPart, type ServiceSectionResult } from './service-results.js';

const HANDLERS: EngineHandler[] = ['noop', 'seven'];
const MOST_CLIENTS = Math.max(...CLIENT_COUNTS);

/** Seconds of HTTP load. The whole section stays under ~90 s in full mode on 2 cores. */
interface Plan {
  warm: number;
  /** per handler and client count, split over `rounds` */
  measure: number;
  rounds: number;
  /** each GET /healthz run */
  floor: number;
}

const FULL: Plan = { warm: 2, measure: 8, rounds: 4, floor: 3 };
const QUICK: Plan = { warm: 1, measure: 3, rounds: 2, floor: 2 };

interface ExecuteAnswer {
  status?: unknown;
  error?: unknown;
  body_b64?: unknown;
}

/** What is wrong with an execute answer, or null: the guest must have answered 200 (and /seven made its calls). */
export function answerProblem(handler: EngineHandler, text: string): string | null {
  let answer: ExecuteAnswer;
  try {
    answer = JSON.parse(text) as ExecuteAnswer;
  } catch {
    return 'answer is not JSON';
  }
  if (typeof answer.error === 'string') return `guest fault ${answer.error}`;
  if (answer.status !== 200) return `guest status ${String(answer.status)}`;
  if (handler === 'seven') {
    try {
      checkSevenBody('service', Buffer.from(String(answer.body_b64 ?? ''), 'base64').toString('utf8'));
    } catch (e) {
      return e instanceof Error ? e.message.replace(/^service: /, '') : String(e);
    }
  }
  return null;
}

/** One request per handler before any load: a setup mistake fails the section with its reason. */
async function checkOnce(service: RunnerService, install: BenchInstall, handler: EngineHandler): Promise<void> {
  const { headers, body } = executeRequest(service, install, `/${handler}`);
  const response = await fetch(`${service.url}/v1/execute`, { method: 'POST', headers, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/execute /${handler}: transport ${response.status}: ${text}`);
  const problem = answerProblem(handler, text);
  if (problem) throw new Error(`POST /v1/execute /${handler}: ${problem}`);
}

/** `POST /v1/execute` of one handler under load, each answer checked (the service, stores and limiter sections). */
export function executeLoad(service: RunnerService, install: BenchInstall, handler: EngineHandler, clients: number, seconds: number): Promise<RunPart> {
  const { headers, body } = executeRequest(service, install, `/${handler}`);
  return runLoad({
    url: `${service.url}/v1/execute`,
    method: 'POST',
    headers,
    body,
    connections: clients,
    durationSeconds: seconds,
    check: (text) => answerProblem(handler, text),
    serverCpuSeconds: service.cpuSeconds,
  });
}

const secondsSince = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

export async function runService(config: BenchConfig): Promise<ServiceSectionResult> {
  const result = emptyServiceResult('service');
  const { rows, notes } = result.service;
  const plan = config.quick ? QUICK : FULL;
  mkdirSync(join(config.workDir, 'service'), { recursive: true });
  const runDir = mkdtempSync(join(config.workDir, 'service', 'run-'));
  const logFile = join(runDir, 'service.log');

  progress('engine reference: start + prepare');
  let started = performance.now();
  const engine = await EngineReference.create(config);
  notes.push(`engine reference (Engine.create + prepare, in the load generator's process): ${secondsSince(started)}`);
  try {
    progress('start the service');
    started = performance.now();
    const service = await startRunnerService({ dataDir: join(runDir, 'data'), workers: config.workers, logFile });
    notes.push(`service: ${service.command}`);
    notes.push(`service listening after ${secondsSince(started)}`);
    try {
      progress('upload + install kitchen-sink through the admin API');
      started = performance.now();
      const install = await installKitchenSink(service, kitchenSinkBytes());
      notes.push(`upload (validate + transpile + register) + install + secret through the admin API: ${secondsSince(started)}`);
      for (const handler of HANDLERS) await checkOnce(service, install, handler);

      let executeRequests = 0;
      for (const handler of HANDLERS) {
        progress(`warm-up /${handler}`);
        await engine.warm(handler, MOST_CLIENTS);
        executeRequests += (await executeLoad(service, install, handler, MOST_CLIENTS, plan.warm)).samples.length;
        for (const clients of CLIENT_COUNTS) {
          const engineParts: RunPart[] = [];
          const serviceParts: RunPart[] = [];
          const perRound = Math.ceil(engineRequests(config.quick, handler, clients) / plan.rounds);
          for (let round = 1; round <= plan.rounds; round++) {
            progress(`/${handler}, ${clients} in flight, round ${round} of ${plan.rounds}: engine, then service`);
            engineParts.push(await engine.measure(handler, clients, perRound));
            serviceParts.push(await executeLoad(service, install, handler, clients, plan.measure / plan.rounds));
          }
          rows.push(rowFrom('engine', handler, clients, engineParts), rowFrom('service', handler, clients, serviceParts));
          executeRequests += serviceParts.reduce((n, p) => n + p.samples.length, 0);
        }
      }
      const logBytes = statSync(logFile).size;
      notes.push(`service log at info (pino JSON to a file): ${(logBytes / 2 ** 20).toFixed(1)} MiB, ${(logBytes / Math.max(1, executeRequests)).toFixed(0)} bytes per execute request`);

      const floor = (clients: number, seconds: number) =>
        runLoad({
          url: `${service.url}/healthz`,
          method: 'GET',
          connections: clients,
          durationSeconds: seconds,
          check: (text) => (text.includes('"ok"') ? null : 'unexpected /healthz body'),
          serverCpuSeconds: service.cpuSeconds,
        });
      progress('warm-up /healthz');
      await floor(MOST_CLIENTS, 1);
      for (const clients of CLIENT_COUNTS) {
        progress(`/healthz, ${clients} client(s), ${plan.floor} s`);
        rows.push(rowFrom('http-floor', 'healthz', clients, [await floor(clients, plan.floor)]));
      }
    } finally {
      progress('stop the service');
      await service.stop();
    }
  } finally {
    progress('close the engine reference');
    await engine.close();
  }
  return result;
}
