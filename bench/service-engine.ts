/**
 * The engine-level reference for the service benchmark: the same kitchen-sink handlers through
 * `Engine.execute` (bench/engine-runtime.ts, the real capabilities over SQLite, as the service has
 * them), with 1 call in flight (the latency floor under the 1-client HTTP run) or 32 (the
 * throughput floor under the 32-client run). No HTTP, no envelope, no admission, no log store.
 *
 * It lives in the load generator's process and is measured in rounds alternating with the matching
 * HTTP runs (the service idles meanwhile, the engine's workers idle during the HTTP runs), so on a
 * shared machine both sides of the "service − engine" difference see the same background load.
 */
import { checkSevenBody, httpRequest, kitchenSinkBytes } from './guests.js';
import { createBenchEngine, responseBody, type BenchEngine, type CapabilityBackend } from './engine-runtime.js';
import type { BenchConfig } from './results.js';
import { measureThroughput } from './stats.js';
import { countFailure, type RunPart } from './service-results.js';

export type EngineHandler = 'noop' | 'seven';

/** Requests per full measurement (split over its rounds): /seven over SQLite is an order of magnitude slower than /noop. */
export function engineRequests(quick: boolean, handler: EngineHandler, clients: number): number {
  const base = handler === 'noop' ? (clients === 1 ? 1200 : 3000) : clients === 1 ? 450 : 900;
  return quick ? Math.ceil(base / 3) : base;
}

export class EngineReference {
  private constructor(
    private readonly rt: BenchEngine,
    private readonly contentHash: string,
  ) {}

  /** `backend`: the capabilities' store (default SQLite, as the service's); 'memory' for the in-memory floor. */
  static async create(config: BenchConfig, backend: CapabilityBackend = 'sqlite'): Promise<EngineReference> {
    const rt = await createBenchEngine(config, backend);
    try {
      return new EngineReference(rt, await rt.install(kitchenSinkBytes()));
    } catch (e) {
      await rt.close();
      throw e;
    }
  }

  /** First request checked (a /seven whose calls fail would flatter the floor), then every worker warmed. */
  async warm(handler: EngineHandler, clients: number): Promise<void> {
    const request = httpRequest(handler);
    const body = responseBody(await this.rt.execute(this.contentHash, request), `engine /${handler}`);
    if (handler === 'seven') checkSevenBody('engine', body);
    await measureThroughput(engineRequests(true, handler, clients), clients, () => this.rt.execute(this.contentHash, request));
  }

  /** `count` requests with `clients` in flight. */
  async measure(handler: EngineHandler, clients: number, count: number): Promise<RunPart> {
    const request = httpRequest(handler);
    const latency: number[] = [];
    const failures: Record<string, number> = {};
    const cpuBefore = process.cpuUsage();
    const run = await measureThroughput(count, clients, async () => {
      const started = performance.now();
      const outcome = await this.rt.execute(this.contentHash, request);
      const elapsed = performance.now() - started;
      if (outcome.kind !== 'ok') countFailure(failures, `guest fault ${outcome.code}`);
      else if (outcome.response.status !== 200) countFailure(failures, `guest status ${outcome.response.status}`);
      else latency.push(elapsed);
    });
    const cpu = process.cpuUsage(cpuBefore);
    return {
      samples: latency,
      seconds: run.seconds,
      failures,
      // the engine's workers are threads of this process: its CPU is the serving side's here
      serverCpuSeconds: (cpu.user + cpu.system) / 1e6,
      generatorCpuSeconds: null,
    };
  }

  close(): Promise<void> {
    return this.rt.close();
  }
}
