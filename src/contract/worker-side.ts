/**
 * The contract of a capability's worker side (`Capability.worker`, delivery `in-worker`): a module
 * every guest worker imports when it starts. Its `createWorkerFunctions(init, store)` returns the
 * functions it serves by `iface#fn`, reading through `store()`: the worker's reads of the embedded
 * store, which the engine opens once per worker for every side (engine/guest/worker-sides.ts) — a
 * side never opens a store connection itself.
 *
 * Worker functions run inside a guest's import call, so they are synchronous, and they see only
 * what crossed to the worker: the guest's arguments (as jco lowers them), the execution's identity,
 * the capability's per-install config (from `configure`) and a `log` that lands in the execution's log like
 * `services.log` on the main thread. Grants were checked at dispatch: a worker function is only
 * reached when its capability is granted. A throw is contained like a main-thread failure: logged,
 * answered with the interface's `onFailure`, or the execution ends with `host_error`.
 *
 * Also here: what the main thread hands a worker for one execution so it answers calls without a
 * round trip (LocalPlan), and what the worker reports back about the calls it ran.
 */
import type { CapabilityName } from './execution.js';
import type { GuestContextData } from './guest.js';
import type { HostResult } from './host.js';

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One call of a worker function: the guest's arguments, the execution's identity, the install's config and the execution's log. */
export interface WorkerCall<Config> {
  readonly args: readonly unknown[];
  /** the execution's identity, as the guest's get-context sees it */
  readonly ctx: Readonly<GuestContextData>;
  readonly config: Config;
  log(level: WorkerLogLevel, message: string): void;
}

/** A capability function a worker runs itself, synchronously. */
export type WorkerFunction<Config> = (call: WorkerCall<Config>) => HostResult;

/**
 * Where a capability writes a call's log line, in code both sides share: the main thread's
 * ExecutionServices or a worker function's call — both have this `log`.
 */
export type CallLogger = Pick<WorkerCall<unknown>, 'log'>;

/**
 * `iface#fn` → function; what a worker-side module's `createWorkerFunctions` returns. Each
 * function names its own Config (`never` here accepts them all); the worker hands it the config
 * its capability's `configure` made.
 */
export type WorkerFunctions = Readonly<Record<string, WorkerFunction<never>>>;

/**
 * The one export a worker-side module must have. `store()`: the worker's reads of the runner's
 * store over its one read-only connection, opened on the first call and shared by every side of
 * the worker (store/read-only-store.ts ReadOnlyStore — named by the side, as the contract imports
 * nothing); it throws when the runner has no store a worker can read (CapabilityHost.workerStore).
 */
export type CreateWorkerFunctions<StoreReads = unknown> = (init: unknown, store: () => StoreReads) => WorkerFunctions;

/**
 * Where the embedded store is, for the worker sides that read it (CapabilityHost.workerStore):
 * every worker opens one read-only connection to it. Structured-cloneable: it crosses to every worker.
 */
export interface WorkerStoreSpec {
  /** the SQLite file */
  readonly sqliteFile: string;
  /** RUNNER_SECRETS_KEY, to open secrets (null: none configured) */
  readonly secretsKey: Uint8Array | null;
}

/** One call a worker answered itself, as it reports it after the execution. */
export interface WorkerCallRecord {
  /** `iface#fn` */
  readonly key: string;
  readonly outcome: 'ok' | 'error' | 'failed';
  readonly seconds: number;
}

/**
 * Where a worker finds a capability's `in-worker` functions: a module it imports when it starts,
 * whose `createWorkerFunctions(init, store)` returns them.
 */
export interface WorkerSide {
  /** file URL of the module */
  readonly module: string;
  /** what the module needs besides the store (limits, which reads); structured-cloneable (it crosses to every worker) */
  readonly init: unknown;
}

/** A capability's worker side, as the pool hands it to every worker. */
export interface WorkerSideSpec extends WorkerSide {
  readonly capability: CapabilityName;
}

/** How the worker runs one in-worker function for an execution. */
export interface InWorkerCall {
  /** the capability's `configure(install)` */
  readonly config: unknown;
  /** the answer when the function throws; null: the execution ends with `host_error` */
  readonly onFailure: HostResult | null;
}

/**
 * What a worker may answer without a round trip for one execution (see `Delivery` in
 * capabilities/capability.ts): the per-execution answers by `iface#fn` (and the denied answers of
 * ungranted in-worker functions), the one-way functions, and the granted in-worker functions with
 * what the worker needs to run them.
 */
export interface LocalPlan {
  readonly answers: Readonly<Record<string, HostResult>>;
  readonly oneWay: readonly string[];
  readonly inWorker: Readonly<Record<string, InWorkerCall>>;
}

/** The plan of an execution whose every call is a round trip (a warm-up, say). */
export const NO_LOCAL_PLAN: LocalPlan = { answers: {}, oneWay: [], inWorker: {} };
