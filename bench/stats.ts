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

export interface WarmUpPolicy {
  /** calls per block; each block's median is compared with the best so far */
  block: number;
  minCalls: number;
  /** stop here even if the medians still improve (the result says so) */
  maxCalls: number;
}

export interface WarmUp {
  calls: number;
  /** false: stopped at maxCalls while block medians were still improving */
  steady: boolean;
}

/** Enough for the kitchen-sink to reach its plateau on the 2-core benchmark VM (BENCHMARKS.md). */
export const WARM_UP = { full: { block: 200, minCalls: 1000, maxCalls: 8000 }, quick: { block: 100, minCalls: 200, maxCalls: 1000 } } as const satisfies Record<string, WarmUpPolicy>;

/** A block median must beat the best so far by this much to count as still warming up. */
const IMPROVEMENT = 0.03;
/** Blocks in a row without such an improvement that mean the system has reached its plateau. */
const FLAT_BLOCKS = 3;

/**
 * Calls `fn` (with `concurrency` in flight) until its per-block median latency stops improving.
 * V8 compiles a wasm function with its optimizing tier only after the function has run for a
 * while, in the background: the kitchen-sink's /seven through the engine went from 1.5 ms to 0.85
 * ms over its first ~2 000 calls in one process, whatever `--wasm-tiering-budget` said, so a
 * fixed warm-up of a few hundred calls measured the compiler's progress rather than the system.
 * Every warm system of a run (ours, the floor, isolated-vm, the bridge) warms up this way.
 */
export async function warmUntilSteady(policy: WarmUpPolicy, concurrency: number, fn: (lane: number) => unknown): Promise<WarmUp> {
  let best = Number.POSITIVE_INFINITY;
  let flat = 0;
  let calls = 0;
  while (calls < policy.maxCalls) {
    const samples: number[] = [];
    await measureThroughput(policy.block, Math.max(1, concurrency), async (_i, lane) => {
      const started = performance.now();
      await fn(lane);
      samples.push(performance.now() - started);
    });
    calls += samples.length;
    const median = summarize(samples).p50;
    if (median < best * (1 - IMPROVEMENT)) flat = 0;
    else flat++;
    best = Math.min(best, median);
    if (calls >= policy.minCalls && flat >= FLAT_BLOCKS) return { calls, steady: true };
  }
  return { calls, steady: false };
}

/** How a warm-up ended, for a section's notes. */
export function describeWarmUp(what: string, warm: WarmUp): string {
  return `${what}: warmed up for ${warm.calls} calls${warm.steady ? ' (block medians flat)' : ' (cap reached; medians were still improving)'}`;
}
