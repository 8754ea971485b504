/** What each benchmark section measures and hands back to the orchestrator (index.ts). */
import type { LatencySummary, Throughput } from './stats.js';

/** The handler logic every system runs: no host calls, or the kitchen-sink's exactly seven. */
export type HandlerName = 'noop' | 'seven' | 'context';

export interface Row {
  /** which runtime: `ours`, `naive`, `floor`, ... */
  system: string;
  handler: HandlerName;
  /** sequential requests after a warm-up */
  latency: LatencySummary;
  /** concurrent requests (or the sequential run's rate when concurrency is 1) */
  throughput: Throughput;
  note?: string;
}

/** A single figure that is not a latency row (cold start, per-call cost, leak per request). */
export interface Fact {
  key: string;
  label: string;
  value: number;
  unit: 'ms' | 'µs' | 'KiB' | 'MiB' | 'req/s' | '%';
  detail?: string;
}

export interface SectionResult {
  section: string;
  rows: Row[];
  facts: Fact[];
  notes: string[];
}

export interface BenchConfig {
  quick: boolean;
  workers: number;
  /** scratch directory shared by all sections of one run (artifact cache, naive output) */
  workDir: string;
  /** the density part's largest N, and another build to measure beside this one (index.ts flags) */
  density?: { max: number; baseline?: { root: string; max: number } };
}

export function emptyResult(section: string): SectionResult {
  return { section, rows: [], facts: [], notes: [] };
}

/** A child section's progress note, so a section killed at its deadline says where it stood. */
export interface ProgressMessage {
  type: 'progress';
  step: string;
}

export function progress(step: string): void {
  process.send?.({ type: 'progress', step } satisfies ProgressMessage);
}
