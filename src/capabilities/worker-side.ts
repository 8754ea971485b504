/**
 * The contract of a capability's worker side (`Capability.worker`, delivery `in-worker`): a module
 * every guest worker imports when it starts. Its `createWorkerFunctions(init)` opens the backend
 * (a read-only SQLite connection, say) and returns the functions it serves by `iface#fn`.
 *
 * Worker functions run inside a guest's import call, so they are synchronous, and they see only
 * what crossed to the worker: the guest's arguments (as jco lowers them), the execution's identity,
 * the capability's per-install config (from `configure`) and a `log` that lands in the execution's log like
 * `services.log` on the main thread. Grants were checked at dispatch: a worker function is only
 * reached when its capability is granted. A throw is contained like a main-thread failure: logged,
 * answered with the interface's `onFailure`, or the execution ends with `host_error`.
 */
import type { HostResult } from './capability.js';
import type { GuestContextData } from '../engine/protocol.js';

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface WorkerCall<Config> {
  readonly args: readonly unknown[];
  /** the execution's identity, as the guest's get-context sees it */
  readonly ctx: Readonly<GuestContextData>;
  readonly config: Config;
  log(level: WorkerLogLevel, message: string): void;
}

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

/** The one export a worker-side module must have. */
export type CreateWorkerFunctions = (init: unknown) => WorkerFunctions;

/** One call a worker answered itself, as it reports it after the execution. */
export interface WorkerCallRecord {
  /** `iface#fn` */
  readonly key: string;
  readonly outcome: 'ok' | 'error' | 'failed';
  readonly seconds: number;
}
