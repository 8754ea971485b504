/**
 * The load generator: autocannon 9 in the benchmark's own process (the service runs in another),
 * keep-alive connections, each with one request in flight, for a fixed duration. Latencies are
 * taken from autocannon's per-response event at full float precision (its histogram keeps whole
 * milliseconds), and every answer's body is checked so failed requests are counted, not timed.
 */
import autocannon from 'autocannon';
import type { EventEmitter } from 'node:events';
import { countFailure, type RunPart } from './service-results.js';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationSeconds: number;
  /** null when the answer is right, else a short description of what is wrong (counted per kind) */
  check: (body: string) => string | null;
  /** user + system CPU seconds of the server so far, to report how busy it was */
  serverCpuSeconds?: () => number | null;
}

/** A failure that is not the answer's fault: autocannon's own counters. */
function transportFailures(result: autocannon.Result, failures: Record<string, number>): void {
  if (result.errors > 0) failures['socket errors'] = (failures['socket errors'] ?? 0) + result.errors;
  if (result.timeouts > 0) failures['timeouts'] = (failures['timeouts'] ?? 0) + result.timeouts;
}

export async function runLoad(options: LoadOptions): Promise<RunPart> {
  const samples: number[] = [];
  const failures: Record<string, number> = {};
  const serverBefore = options.serverCpuSeconds?.() ?? null;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  /** the status of the answer being handled: autocannon reports it before it verifies the body */
  let lastStatus = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: options.method,
        headers: options.headers,
        body: options.body,
        connections: options.connections,
        pipelining: 1,
        duration: options.durationSeconds,
        // runs synchronously after the 'response' event of the same answer, so it can untime it
        verifyBody: (body) => {
          const text = String(body);
          if (lastStatus < 200 || lastStatus >= 300) {
            countFailure(failures, `transport ${lastStatus} ${errorCode(text)}`);
            return false;
          }
          const problem = options.check(text);
          if (problem === null) return true;
          samples.pop();
          countFailure(failures, problem);
          return false;
        },
      },
      (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
    );
    // autocannon 9 emits (client, statusCode, bytes, ms); @types/autocannon (7.x) omits the client
    (instance as unknown as EventEmitter).on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
      lastStatus = statusCode;
      if (statusCode >= 200 && statusCode < 300) samples.push(ms);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverAfter = options.serverCpuSeconds?.() ?? null;
  transportFailures(result, failures);
  return {
    samples,
    seconds,
    failures,
    serverCpuSeconds: serverBefore !== null && serverAfter !== null ? serverAfter - serverBefore : null,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** The service's error code from a JSON error body (`{error: {code}}`), or a short excerpt. */
function errorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    if (typeof parsed.error?.code === 'string') return parsed.error.code;
  } catch {
    // not JSON: show the start of it
  }
  return JSON.stringify(body.slice(0, 60));
}
