/**
 * The engine as the service uses it: prepare a component, run an execution, warm a component,
 * watch the load, close. src/service holds an EngineApi and never reaches past it (Engine
 * implements it; the worker pool stays the engine's own).
 */
import type { CapabilityName, ExecutionContext, FaultCode, GuestHttpRequest, GuestResponse, InstallView } from '../contract/index.js';
import type { LogFields } from '../store/logs.js';
import type { PrepareResult } from './artifact-store.js';
import type { Owner } from './fair-scheduler.js';
import type { ExecutionLimits } from './limits.js';
import type { ExecutionStats } from './protocol.js';
import type { DispatchEvent } from './worker-pool.js';
import type { HotWaitStats } from './hot-wait.js';

/** A log record as the engine emits it: the store's fields, before the store gives it an id. */
export interface LogRecord extends Omit<LogFields, 'install' | 'request_id'> {
  ts: string;
  truncated: boolean;
  /** null when the execution has no install (alga-runner run without one) */
  install: string | null;
  request_id: string;
}

/** One execution for the engine to run: the component, who runs it, what it may do, the request. */
export interface ExecuteInput {
  contentHash: string;
  ctx: ExecutionContext;
  install: InstallView;
  grants: ReadonlySet<CapabilityName>;
  request: GuestHttpRequest;
  limits?: Partial<ExecutionLimits>;
  instanceMode?: 'fresh' | 'reuse';
  /** receives every log record of the execution (guest logging, stdout/stderr, host notes) */
  onLog?: (record: LogRecord) => void;
}

/** What an execution cost: calls, log records, time, and the worker's stats (null when the worker did not report: deadline, crash). */
export interface ExecutionReport {
  hostCalls: number;
  deniedCalls: number;
  logRecords: number;
  droppedLogRecords: number;
  durationMs: number;
  stats: ExecutionStats | null;
}

/** How an execution ended: the guest's response, or a fault. */
export type ExecuteOutcome =
  | { kind: 'ok'; response: GuestResponse; report: ExecutionReport }
  | {
      kind: 'fault';
      code: FaultCode | 'not_prepared';
      message: string;
      report: ExecutionReport;
      /** a committed write of the execution could not be made durable (ExecutionServices.awaitDurable): why — the caller may answer it as the store's outage */
      notDurable?: unknown;
    };

/** A component to get ready to serve without running it (Engine.warm). */
export interface WarmInput {
  contentHash: string;
  /** the install's limits: the memory cap picks the compiled variant to warm */
  limits?: Partial<ExecutionLimits>;
  /** reuse mode: the install whose own warm instance to make (absent: a fresh-mode instance) */
  reuseFor?: { tenantId: string; installId: string };
}

/** Whether the warm-up left an instance ready. */
export type WarmOutcome =
  | { kind: 'ok'; /** `new`: instantiated now; otherwise it was warm already */ instance: ExecutionStats['instance']; durationMs: number }
  | { kind: 'fault'; code: FaultCode | 'not_prepared'; message: string };

/** The install-time pipeline's answer: the prepared artifact, or why the component is refused. */
export type EnginePrepareResult = PrepareResult | { kind: 'err'; problem: { code: 'unserved_import'; message: string; import: string } };

/** What the engine reports as it runs, by event name (EngineApi.on). */
export interface EngineEvents {
  /** a worker was replaced: its execution overran its deadline (`timeout`) or it crashed (`worker_crashed`) */
  restart: FaultCode;
  /** an install whose executions keep ending costly was put on probation (fair-scheduler.ts) */
  probation: Owner;
  /** a job left the queue for a worker; made only while someone listens */
  dispatch: DispatchEvent;
}

/** The engine's surface to the service. */
export interface EngineApi {
  /** Install-time pipeline: validate, transpile and cache; refuse imports no capability serves. */
  prepare(bytes: Uint8Array): Promise<EnginePrepareResult>;
  /** Whether the component is prepared on this machine (by this or an earlier process): if not, an execution of it is refused `not_prepared`. */
  isPrepared(contentHash: string): Promise<boolean>;
  /** Runs one execution to its response or fault. */
  execute(input: ExecuteInput): Promise<ExecuteOutcome>;
  /** Gets a component ready to serve (compiled, loaded, instantiated) without running it. */
  warm(input: WarmInput): Promise<WarmOutcome>;
  /**
   * Drops what the engine keeps for an install: its reuse-mode instances (in every worker), and —
   * `removed`: the install is gone — its strikes and probation. Running executions end as they are.
   */
  forgetInstall(installId: string, removed: boolean): void;
  /** Executions waiting for a free worker now. */
  readonly queueDepth: number;
  /** Guest workers the engine runs executions on. */
  readonly workers: number;
  /** Installs on probation now (fair-scheduler.ts). */
  readonly installsOnProbation: number;
  /** The main thread's hot wait so far (hot-wait.ts): a live object, read it when needed. */
  readonly hotWaitStats: Readonly<HotWaitStats>;
  /** Listens to an engine event (EngineEvents). */
  on<E extends keyof EngineEvents>(event: E, listener: (payload: EngineEvents[E]) => void): void;
  /** Stops the workers; executions still waiting end with `worker_crashed`. */
  close(): Promise<void>;
}
