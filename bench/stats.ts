/**
 * Timing helpers: bounded sequential and concurrent loops, and percentile summaries.
 * Every loop runs a fixed number of requests — no open-ended "run for N seconds".
 */

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted samples (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((n, v) => n + v, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Runs `fn` `count` times one after another; returns each call's wall time in ms. */
export async function timeSequential(count: number, fn: (i: number) => unknown): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await fn(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

export interface Throughput {
  requests: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
}

/** Keeps `concurrency` calls in flight until `total` have completed; `lane` says which of them is calling. */
export async function measureThroughput(total: number, concurrency: number, fn: (i: number, lane: number) => Promise<unknown>): Promise<Throughput> {
  let next = 0;
  const started = performance.now();
  const lane = async (_: unknown, index: number) => {
    while (next < total) await fn(next++, index);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  const seconds = (performance.now() - started) / 1000;
  return { requests: total, concurrency, seconds, perSecond: total / seconds };
}

/** Requests/s of a sequential run (one in flight), from its samples. */
export function sequentialThroughput(samples: readonly number[]): Throughput {
  const seconds = samples.reduce((n, v) => n + v, 0) / 1000;
  return { requests: samples.length, concurrency: 1, seconds, perSecond: samples.length / seconds };
}
