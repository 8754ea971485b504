/**
 * The one shape every host capability has (DESIGN.md §2, after Spin's "factors").
 *
 * A capability module declares:
 *  - `name`: the grant that gates it (`cap:storage.kv`);
 *  - `interfaces`: the WIT interfaces it serves, with each function's implementation;
 *  - `configure(install)`: read and validate its per-install configuration once;
 *  - `prepare(execution, config)`: build its per-execution state (budgets, handles);
 *  - per function, what a call without the grant returns (`denied` result, empty value, or drop);
 *  - per function, how a call reaches it (`delivery`): by default the guest waits while the main
 *    thread runs it; functions whose answer cannot depend on anything but the execution skip that
 *    round trip, and so do functions the worker can answer itself from the capability's `worker`
 *    side (a backend every worker opens on its own, e.g. a SQLite file).
 *
 * Functions run on the main thread, are async, and receive the guest's arguments exactly as jco
 * lowers them (records as camelCase objects, enums as kebab-case strings, `list<u8>` as Uint8Array,
 * `u64` as bigint, `option<T>` as T | undefined). A function returns `ok(value)` / `err(code)`
 * for WIT `result`s and `value(v)` for plain returns.
 */
import type { CapabilityName, ExecutionContext, ExecutionServices, HostResult, InstallView, WorkerSide } from '../contract/index.js';

// The contract types a capability module uses with the ones declared here (src/contract declares them).
export type { CapabilityName, ExecutionServices, HostResult, InstallView, WorkerSide } from '../contract/index.js';

export const ok = (value: unknown = undefined): HostResult => ({ kind: 'ok', value });
export const err = (code: string): HostResult => ({ kind: 'err', code });
export const value = (v: unknown = undefined): HostResult => ({ kind: 'value', value: v });

/**
 * What a call returns when the capability is not granted: a fixed answer, one derived from the
 * execution's context (for functions with no error case), or `drop` (no effect, counted).
 */
export type DeniedAnswer = HostResult | 'drop' | ((ctx: ExecutionContext) => HostResult);

/**
 * How a guest call reaches a function (default: `round-trip`, the guest blocks while the main
 * thread runs the function and answers).
 *  - `one-way`: the function returns nothing the guest waits for (logging). The worker returns at
 *    once and writes the call into shared memory the main thread reads before the worker's next
 *    message (engine/one-way-ring.ts), in order with the execution's stdio and its result.
 *  - `per-execution`: the answer depends only on the execution (context, user, grants) and the
 *    function is synchronous and free of effects. It is computed once when the execution is
 *    dispatched; the worker answers from it. Calls are still counted, observed and, when denied,
 *    noted — after the execution, from the worker's counts.
 *  - `in-worker`: the worker runs the function itself, synchronously, with the capability's worker
 *    side (`Capability.worker`, see contract/worker-side.ts) — a read from a SQLite file every worker opens,
 *    say. Only when the capability has a worker side for this runner's backend (none for
 *    PostgreSQL, whose client is asynchronous): otherwise the call is a round trip. Even then the
 *    pool sends these calls as round trips while the main thread has a core free to answer them at
 *    once, which is faster (worker-pool.ts `runInWorker`); under load the worker runs them. Grants are
 *    checked when the execution is dispatched; calls are counted, observed (with their outcome and
 *    latency) and their log lines kept, after the execution, from the worker's report.
 */
export type Delivery = 'round-trip' | 'one-way' | 'per-execution' | 'in-worker';

export interface CapabilityFunction<Config, State> {
  (call: { args: readonly unknown[]; ctx: ExecutionContext; config: Config; state: State; services: ExecutionServices }): Promise<HostResult> | HostResult;
}

export interface InterfaceImpl<Config, State> {
  /** e.g. `alga:extension/storage` (no version) */
  readonly name: string;
  /** jco's camelCase function names → implementation; later-dialect aliases may map to the same one */
  readonly functions: Readonly<Record<string, CapabilityFunction<Config, State>>>;
  /** per function: what a call without the grant returns */
  readonly denied: Readonly<Record<string, DeniedAnswer>>;
  /**
   * What a call returns when its implementation throws (a backend failure or a bug): the
   * interface's `internal` error where it has one. Without it the execution ends with `host_error`.
   */
  readonly onFailure?: HostResult;
  /** per function: how calls reach it (absent: `round-trip`) */
  readonly delivery?: Readonly<Record<string, Delivery>>;
}

export interface Capability<Config = unknown, State = unknown> {
  readonly name: CapabilityName;
  /** Granted even when neither install nor manifest names it (context, logging, user). */
  readonly grantedByDefault: boolean;
  readonly interfaces: readonly InterfaceImpl<Config, State>[];
  /**
   * The worker side of the `in-worker` functions, when this capability's backend can be opened in
   * a worker (absent: they are round trips). The worker receives `configure(install)`'s result, so
   * Config must then be structured-cloneable.
   */
  readonly worker?: WorkerSide;
  configure(install: InstallView): Config;
  prepare(ctx: ExecutionContext, config: Config): State;
}

/** Helper so modules get type inference without restating generics. */
export function defineCapability<Config, State>(c: Capability<Config, State>): Capability<Config, State> {
  return c;
}
