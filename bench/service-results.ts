/**
 * What the service benchmark hands back: load rows for the HTTP service, the
 * HTTP floor (a route that runs no guest) and the engine-level reference measured in the same run.
 * Carried beside the engine sections' SectionResult fields, which stay empty for these sections.
 */
import { summarize, type LatencySummary } from './stats.js';
import type { SectionResult } from './results.js';

/** Guest handlers driven through the service and the engine, and the HTTP floor route. */
export type ServiceTarget = 'noop' | 'seven' | 'healthz';

/** Where a row was measured. */
export type ServicePath = 'engine' | 'service' | 'http-floor';

export interface LoadRow {
  path: ServicePath;
  target: ServiceTarget;
  /** requests in flight: HTTP connections, or concurrent Engine.execute calls */
  clients: number;
  /** successful requests only */
  latency: LatencySummary;
  perSecond: number;
  /** successful requests */
  requests: number;
  seconds: number;
  /** requests that did not succeed, by what went wrong (transport status, guest status or fault) */
  failures: Record<string, number>;
  /** average cores busy during the run; null where not measured */
  cpu: { server: number | null; generator: number | null };
}

export interface ServiceMeasurements {
  rows: LoadRow[];
  notes: string[];
}

export interface ServiceSectionResult extends SectionResult {
  service: ServiceMeasurements;
}

export function isServiceResult(r: SectionResult): r is ServiceSectionResult {
  return 'service' in r;
}

export function emptyServiceResult(section: string): ServiceSectionResult {
  return { section, rows: [], facts: [], notes: [], service: { rows: [], notes: [] } };
}

/** Both ends of the 1-client (latency) and 32-client (throughput) runs. */
export const CLIENT_COUNTS = [1, 32] as const;

export function countFailure(failures: Record<string, number>, what: string): void {
  failures[what] = (failures[what] ?? 0) + 1;
}

/** One measured stretch; a row pools several, interleaved with the other side's (see service.ts). */
export interface RunPart {
  /** latency of each successful request, ms */
  samples: number[];
  seconds: number;
  failures: Record<string, number>;
  /** CPU seconds used meanwhile by the serving side (the service process, or the engine's process) */
  serverCpuSeconds: number | null;
  /** CPU seconds used meanwhile by the load generator (null when it is the serving process itself) */
  generatorCpuSeconds: number | null;
}

export function rowFrom(path: ServicePath, target: ServiceTarget, clients: number, parts: RunPart[]): LoadRow {
  const samples = parts.flatMap((p) => p.samples);
  const seconds = parts.reduce((n, p) => n + p.seconds, 0);
  const failures: Record<string, number> = {};
  for (const p of parts) for (const [what, count] of Object.entries(p.failures)) failures[what] = (failures[what] ?? 0) + count;
  const cpu = (pick: (p: RunPart) => number | null) => (parts.every((p) => pick(p) !== null) ? parts.reduce((n, p) => n + pick(p)!, 0) / seconds : null);
  return {
    path,
    target,
    clients,
    latency: summarize(samples),
    perSecond: samples.length / seconds,
    requests: samples.length,
    seconds,
    failures,
    cpu: { server: cpu((p) => p.serverCpuSeconds), generator: cpu((p) => p.generatorCpuSeconds) },
  };
}
