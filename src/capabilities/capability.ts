/**
 * The one shape every host capability has (after Spin's "factors"; CONTRIBUTING.md says how to add one).
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
 *    side (reading the store every worker opens once for all sides, engine/guest/worker-sides.ts).
 *
 * Functions run on the main thread, are async, and receive the guest's arguments exactly as jco
 * lowers them (records as camelCase objects, enums as kebab-case strings, `list<u8>` as Uint8Array,
 * `u64` as bigint, `option<T>` as T | undefined). A function returns `ok(value)` / `err(code)`
 * for WIT `result`s and `value(v)` for plain returns; modules declare their interfaces with
 * dialects.ts `serve`, which types each function's answer by its WIT signature (src/generated/wit/).
 */
import type { CapabilityName, ExecutionContext, ExecutionServices, HostResult, InstallView, WorkerSide } from '../contract/index.js';

// The contract types a capability module uses with the ones declared here (src/contract declares them).
export type { CapabilityName, ExecutionServices, HostResult, InstallView, WorkerSide } from '../contract/index.js';

/** The `ok` case of a WIT `result<T, E>`. */
export interface Ok<T = unknown> {
  readonly kind: 'ok';
  readonly value: T;
}

/** The `err` case of a WIT `result<T, E>`: `E` is the interface's error enum (kebab-case cases). */
export interface Err<E extends string = string> {
  readonly kind: 'err';
  readonly code: E;
}

/** A plain (non-`result`) return. */
export interface Value<T = unknown> {
  readonly kind: 'value';
  readonly value: T;
}

export const ok = <T = undefined>(value: T = undefined as T): Ok<T> => ({ kind: 'ok', value });
export const err = <E extends string>(code: E): Err<E> => ({ kind: 'err', code });
export const value = <T = undefined>(v: T = undefined as T): Value<T> => ({ kind: 'value', value: v });

/**
 * A WIT function's signature as the generated bindings spell it (src/generated/wit/<dialect>.ts,
 * from wit/ by scripts/wit-types.mjs): its parameters, and `ok`/`err` for a `result` or `returns`.
 */
export type WitSignature = { readonly params: readonly unknown[] } & ({ readonly ok: unknown; readonly err: string } | { readonly returns: unknown });

/** What a function of signature F answers: `Ok<T> | Err<E>` for a WIT `result<T, E>`, `Value<T>` otherwise (any HostResult for an untyped F). */
export type AnswerOf<F> = F extends { readonly ok: infer T; readonly err: infer E extends string } ? Ok<T> | Err<E> : F extends { readonly returns: infer T } ? Value<T> : HostResult;

/**
 * The guest's arguments of a function of signature F: as many as its WIT parameters, each
 * `unknown` — jco lifted them from guest memory, so they have the WIT types' shapes, but their
 * contents are the guest's to choose and the registry's callers (tests, the bench) pass what they
 * like. Modules check what they rely on.
 */
export type GuestArgs<F> = F extends { readonly params: infer P extends readonly unknown[] } ? { readonly [K in keyof P]: unknown } : readonly unknown[];

/**
 * What a call returns when the capability is not granted: a fixed answer, one derived from the
 * execution's context (for functions with no error case), or `drop` (no effect, counted; only for
 * functions that return nothing).
 */
export type DeniedAnswer<F = unknown> =
  AnswerOf<F> | ((ctx: ExecutionContext) => AnswerOf<F>) | (F extends { readonly ok: unknown } ? never : F extends { readonly returns: infer T } ? (undefined extends T ? 'drop' : never) : 'drop');

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
 *    side (`Capability.worker`, see contract/worker-side.ts) — a read of the SQLite store every worker
 *    opens once for all its sides. Only when the capability has a worker side for this runner's backend (none for
 *    PostgreSQL, whose client is asynchronous): otherwise the call is a round trip. Even then the
 *    pool sends these calls as round trips while the main thread has a core free to answer them at
 *    once, which is faster (hot-wait.ts `workerPlan`); under load the worker runs them. Grants are
 *    checked when the execution is dispatched; calls are counted, observed (with their outcome and
 *    latency) and their log lines kept, after the execution, from the worker's report.
 */
export type Delivery = 'round-trip' | 'one-way' | 'per-execution' | 'in-worker';

/** One call of a capability function: the guest's arguments and what the execution offers. */
export interface CapabilityCall<Config, State, F = unknown> {
  readonly args: GuestArgs<F>;
  readonly ctx: ExecutionContext;
  readonly config: Config;
  readonly state: State;
  readonly services: ExecutionServices;
}

/**
 * A capability function. Typed by its WIT signature F (a generated `Interfaces[iface][fn]`), its
 * answer must be that function's: a misspelt error code or a record field of the wrong name or
 * type does not compile. Untyped (no F), it answers any HostResult — how the registry holds them.
 */
export interface CapabilityFunction<Config, State, F = unknown> {
  (call: CapabilityCall<Config, State, F>): Promise<AnswerOf<F>> | AnswerOf<F>;
}

export interface InterfaceImpl<Config, State> {
  /** e.g. `alga:extension/storage` (no version) */
  readonly name: string;
  /** jco's camelCase function names → implementation; every dialect's names (dialects.ts `serve`) */
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
  /**
   * Its calls reach outside the runner (outbound HTTP, Alga's APIs): each first waits until the
   * execution's committed writes are on disk (ExecutionServices.durable), so nothing outside
   * learns of a write a power loss could still undo.
   */
  readonly leavesRunner?: boolean;
  configure(install: InstallView): Config;
  prepare(ctx: ExecutionContext, config: Config): State;
}

/** Helper so modules get type inference without restating generics. */
export function defineCapability<Config, State>(c: Capability<Config, State>): Capability<Config, State> {
  return c;
}
