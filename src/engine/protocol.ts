/**
 * Messages between the main thread and guest workers. Kept in one place so both sides agree.
 *
 * Two channels per worker:
 *  - the worker's own port (`postMessage`) carries load/execute/unload requests to the worker;
 *  - a dedicated MessageChannel + SharedArrayBuffer carries everything the worker sends (host
 *    calls, stdio, results) and the answers to synchronous host calls: the worker posts a call and
 *    blocks in `Atomics.wait`; the main thread answers, then `Atomics.notify`s. One port for all
 *    the worker says keeps it in order, and lets the main thread watch a single port per worker
 *    while an execution runs (hot-wait.ts);
 *  - a SharedArrayBuffer per worker holds one-way messages (log records, stdio) the main thread
 *    reads before the worker's next message instead of being woken for each (one-way-ring.ts).
 */
import type { InstanceStateFacts } from './instance-state.js';
import type { FaultCode, GuestContextData, GuestHttpRequest, GuestResponse, HostCallAnswer, InWorkerCall, WorkerCallRecord, WorkerLogLevel } from '../contract/index.js';
import type { ReturnAreas } from './component-types.js';

export interface CoreModuleSpec {
  name: string;
  module: WebAssembly.Module;
  /** the code's key (module-split.ts): equal keys, equal compiled code (a Module posted twice arrives as two objects) */
  codeKey: string;
  /** exports that are mutable globals (reserved names added by the rewrite, plus existing ones) */
  mutableGlobals: string[];
  /** exports that are tables */
  tables: string[];
  /** whether the module defines, imports or has no linear memory */
  memory: 'defines' | 'imports' | 'none';
  /** the module marks its memory writes in the dirty map (write-tracking.ts) */
  tracksWrites: boolean;
  /** what instance state the module's code can change beyond memory and globals (instance-state.ts) */
  state: InstanceStateFacts;
  /**
   * The memory the module defines as instantiation leaves it: its active data segments over zeros,
   * as shared 16 KiB blocks (data-image.ts). null when unknown (a segment at a computed offset) or
   * not needed (the module keeps its segments and its writes are not tracked).
   */
  data: ModuleData | null;
  /** the compiled module carries no data segments: the host writes `data` into the memory right after instantiation (module-split.ts) */
  applyData: boolean;
  /** instantiating the compiled module writes data segments itself */
  placesData: boolean;
}

export interface ModuleData {
  /** bytes of the initial memory the image describes */
  byteLength: number;
  /** per 16 KiB block: its bytes (a view on shared memory), or null for zeros */
  blocks: (Uint8Array | null)[];
  /** per block: equal ids mean equal bytes, within the process (0: zeros) */
  ids: Int32Array;
}

export interface LoadMessage {
  type: 'load';
  artifactKey: string;
  /** the shape's glue: guests of one shape share it and their pristine instances (module-split.ts) */
  gluePath: string;
  /** guests with equal shape keys and caps run the same code with different initial memories */
  shapeKey: string;
  modules: CoreModuleSpec[];
  /** cap in pages, to tell a memory-limit trap from another trap */
  maxMemoryPages: number;
  /** interface → function names the glue imports (all forwarded to the host) */
  importedFunctions: Record<string, string[]>;
  /** the imports' return areas (component-types.ts); null: restore all of memory (unknown, or the operator turned write tracking off) */
  returnAreas: ReturnAreas | null;
}

export interface ExecuteMessage {
  type: 'execute';
  id: number;
  artifactKey: string;
  instanceMode: 'fresh' | 'reuse';
  context: GuestContextData;
  request: GuestHttpRequest;
  maxResponseBytes: number;
  /** the worker ends the execution with `host_call_limit` past this many calls, local ones included (the only place the cap is counted) */
  maxHostCalls: number;
  /**
   * One-way calls (log records) keep at most this many UTF-16 units of a string argument, plus one:
   * the main thread cuts a message to this many bytes of UTF-8 anyway (ExecutionSession.log), reading
   * no further than that, and the extra unit keeps a longer message marked truncated. A guest logging
   * a 15 MiB string (the most a host-call argument may be) then costs its own worker the copy, not the main thread every other tenant needs.
   */
  maxLogMessageBytes: number;
  /** calls the worker answers without a round trip (see `Delivery` in capability.ts) */
  local: { answers: Readonly<Record<string, HostCallAnswer>>; oneWay: readonly string[]; inWorker: Readonly<Record<string, InWorkerCall>> };
  /**
   * The guest's deadline (ms, set by the pool from PoolJob.timeoutMs), counted in the worker from
   * the execute (from `started` when it instantiates): a round-trip host call still unanswered
   * close to it ends the execution with `host_call_timeout` (limits.ts hostCallMarginMs).
   */
  timeoutMs: number;
  /** how long a host call watches for its answer before the worker sleeps (ms; set by the pool, see hot-wait.ts) */
  hostCallSpinMs: number;
  /** run `local.inWorker` functions here (true) or send them as round trips (set by the pool, see hot-wait.ts workerPlan) */
  runInWorker: boolean;
  /**
   * Warm-up only (Engine.warm): load the guest and leave a pristine instance ready, without calling
   * it — no guest code runs. Answered with a `prepared` result.
   */
  prepareOnly?: boolean;
}

/**
 * The Int32 cells of the SharedArrayBuffer each worker shares with the pool (besides its ports).
 * ANSWERED: the `seq` of the latest answered host call, written by the pool — the worker waits
 * until it shows its own call's `seq` and takes only the reply carrying it, so a late reply is
 * never mistaken for the current one. TIDYING: above 0 while the worker, its result posted, still
 * works (restoring the instance it served) — the pool counts it busy when it judges whether a core
 * is free.
 */
export const SIGNAL = { ANSWERED: 0, TIDYING: 1 } as const;
export const SIGNAL_BYTES = 8;

export interface UnloadMessage {
  type: 'unload';
  artifactKey: string;
}

/** Drop the reuse-mode instances kept for an install (it was removed, or no longer reuses one). */
export interface ForgetMessage {
  type: 'forget';
  owner: string;
}

export type ToWorker = LoadMessage | ExecuteMessage | UnloadMessage | ForgetMessage;

export interface ExecutionStats {
  /** how the instance was obtained: a new instantiation, a snapshot restore, or a kept warm instance */
  /** new: instantiated for this request; restored: a pristine instance of the guest; switched: a pristine instance of another guest of the same shape, turned into this one's; reused: reuse mode's warm instance */
  instance: 'new' | 'restored' | 'switched' | 'reused';
  guestMs: number;
  memoryBytes: number;
  /** host calls the guest made, all deliveries (the worker's count) */
  hostCalls: number;
  /** per `iface#fn`: calls answered from the execution's per-execution answers */
  localCalls: Record<string, number>;
  /** calls of in-worker functions the worker ran, in order */
  workerCalls: WorkerCallRecord[];
  /** the worker thread that ran it (worker_threads threadId) */
  worker: number;
}

export type ExecuteReply =
  | { type: 'result'; id: number; kind: 'ok'; response: GuestResponse; stats: ExecutionStats }
  /** the answer to a `prepareOnly` execute: the guest is loaded and an instance is ready */
  | { type: 'result'; id: number; kind: 'prepared'; stats: ExecutionStats }
  | { type: 'result'; id: number; kind: 'fault'; code: FaultCode; message: string; stats: ExecutionStats };

/**
 * `started`: the worker has the guest loaded and is about to instantiate it — which runs its core
 * modules' start functions — and then run it; the main thread starts the guest's deadline from
 * here, so loading (the runner's own setup) is not charged to the guest, but instantiation is.
 */
export type FromWorker =
  | ExecuteReply
  /** the worker is up; `sideErrors`: worker sides it could not open (their calls fail with host_error) */
  | { type: 'ready'; sideErrors: string[] }
  | { type: 'started'; id: number }
  /** guest stdout/stderr of execution `id`; written to the one-way ring (or posted), read before its result */
  | { type: 'stdio'; id: number; stream: 'stdout' | 'stderr'; text: string }
  /** a one-way host call of execution `id` (nothing is answered); like stdio, read before the result */
  | { type: 'host-call'; id: number; iface: string; fn: string; args: unknown[] }
  /** a log line of execution `id` written by an in-worker function (contract/worker-side.ts); like stdio */
  | { type: 'log'; id: number; level: WorkerLogLevel; message: string }
  | { type: 'load-failed'; artifactKey: string; message: string };

/** Host-call channel: worker → main, a round-trip host call. */
export type HostChannelMessage = { type: 'call'; seq: number; iface: string; fn: string; args: unknown[] };

/** All the worker sends, on the host channel. */
export type WorkerMessage = FromWorker | HostChannelMessage;

/** Main → worker on the host channel: the answer to call `seq`. */
export interface HostCallReply {
  seq: number;
  answer: HostCallAnswer;
}
