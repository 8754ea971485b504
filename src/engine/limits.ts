/** Per-execution limits and their defaults (docs/limits.md). Operators bound them with maxima. */
export interface ExecutionLimits {
  /** wall-clock deadline; the worker is terminated past it */
  timeoutMs: number;
  /** cap on guest linear memory (declared maximum rewritten into the core modules) */
  memoryMb: number;
  /** host calls an execution may make, however delivered (counted by the worker) */
  maxHostCalls: number;
  /** response body + headers */
  maxResponseBytes: number;
  maxLogRecords: number;
  maxLogMessageBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ExecutionLimits> = {
  timeoutMs: 5_000,
  memoryMb: 256,
  maxHostCalls: 10_000,
  maxResponseBytes: 10 * 2 ** 20,
  maxLogRecords: 1_000,
  maxLogMessageBytes: 8 * 1024,
};

/** An execution's limits: the defaults with what the caller set (Object.assign: no leading spread on this per-request path, see PoolJob.message in worker-pool.ts). */
export function limitsWithDefaults(limits: Partial<ExecutionLimits> | undefined): ExecutionLimits {
  return Object.assign({}, DEFAULT_LIMITS, limits);
}

export const MAX_TIMEOUT_MS = 30_000;

/**
 * How a hung capability ends an execution (docs/limits.md): a round-trip host call still unanswered
 * this long before the execution's deadline, after waiting at least this long itself, ends it with
 * `host_call_timeout` — before the deadline would terminate the worker (`timeout`). A tenth of the
 * deadline, at most 100 ms: time for the worker to unwind the guest and post the fault.
 */
export function hostCallMarginMs(timeoutMs: number): number {
  return Math.min(100, timeoutMs / 10);
}

/**
 * Bounds on values the host copies out of guest memory (guest/lift-bounds.ts), fixed for every
 * execution. A host-call argument may be as large as the largest any capability accepts (an
 * outbound request body or a ui-proxy payload: 10 MiB) with room to spare, so a capability's own
 * limit answers first with its interface's error; past this bound the call is a trap.
 */
export const GUEST_VALUE_LIMITS = {
  hostArgumentBytes: 16 * 2 ** 20,
} as const;
