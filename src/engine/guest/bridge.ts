/**
 * The host-call bridge (guest worker): everything the worker says to the main thread, and how a
 * guest's import of `alga:extension/*` is answered — from the execution's per-execution answers,
 * as a one-way record, by an in-worker function, or as a round trip on the host channel that
 * blocks in `Atomics.wait` until the main thread has run the async capability.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { ExecuteMessage, FromWorker, HostCallReply, HostChannelMessage } from '../protocol.js';
import { SIGNAL } from '../protocol.js';
import type { HostCallAnswer, HostResult, InWorkerCall, WorkerCall, WorkerCallRecord } from '../../contract/index.js';
import { OneWayRing } from '../one-way-ring.js';
import { SpinDeadline } from '../spin.js';
import { HostAbort } from './faults.js';
import type { OpenedWorkerSides } from './worker-sides.js';

/** What the bridge is given by the worker's entry (its workerData). */
export interface BridgeChannel {
  hostPort: MessagePort;
  signal: SharedArrayBuffer;
  /** one-way messages (log records, stdio) for the main thread to read (one-way-ring.ts) */
  oneWay: SharedArrayBuffer;
  /** the pool's count of messages posted by all its workers, for a hot-waiting main thread (protocol.ts) */
  posted: SharedArrayBuffer;
}

/** An execution as this worker runs it: its local plan, its counts, where its log goes; host calls made outside one are bugs. */
export interface WorkerExecution {
  id: number;
  context: ExecuteMessage['context'];
  answers: ExecuteMessage['local']['answers'];
  oneWay: ReadonlySet<string>;
  inWorker: ExecuteMessage['local']['inWorker'];
  workerCalls: WorkerCallRecord[];
  /** where in-worker functions write log lines: the one-way ring, as this execution's */
  log: WorkerCall<unknown>['log'];
  maxHostCalls: number;
  /** see ExecuteMessage.maxLogMessageBytes */
  maxLogMessageBytes: number;
  hostCalls: number;
  localCalls: Record<string, number>;
  hostCallSpinMs: number;
  /** when the execution's deadline passes (this worker's performance.now()) */
  deadline: number;
  /** see limits.ts hostCallMarginMs */
  hostCallMarginMs: number;
}

const decoder = new TextDecoder();

export class HostBridge {
  /** shared with the pool: see SIGNAL in protocol.ts */
  readonly signal: Int32Array;
  private readonly oneWayRing: OneWayRing;
  private readonly posted: Int32Array;
  private readonly hostPort: MessagePort;
  /** the execution whose guest is running now */
  running: WorkerExecution | null = null;
  private lastSeq = 0;
  private sides: OpenedWorkerSides = { functions: new Map(), errors: [] };

  constructor(channel: BridgeChannel) {
    this.hostPort = channel.hostPort;
    this.signal = new Int32Array(channel.signal);
    this.oneWayRing = new OneWayRing(channel.oneWay);
    this.posted = new Int32Array(channel.posted);
  }

  /** The worker sides this worker opened (worker-sides.ts), for in-worker calls. */
  useWorkerSides(sides: OpenedWorkerSides): void {
    this.sides = sides;
  }

  /** A new execution's one-way records start here (one-way-ring.ts). */
  startExecution(): void {
    this.oneWayRing.startExecution();
  }

  /** Everything for the main thread goes on the host channel, in order (see protocol.ts). */
  post(msg: FromWorker): void {
    if (msg.type === 'result' && msg.kind === 'ok' && msg.response.body) {
      this.toMain(msg, [msg.response.body.buffer as ArrayBuffer]);
    } else {
      this.toMain(msg);
    }
  }

  /** Written for the main thread to read with the next message, or posted when it does not fit. */
  postOneWay(msg: Extract<FromWorker, { type: 'stdio' | 'host-call' | 'log' }>): void {
    if (!this.oneWayRing.append(msg)) this.post(msg);
  }

  /** Every message to the main thread: posted, then counted, so a main thread waiting on the count wakes. */
  private toMain(msg: unknown, transfer?: ArrayBuffer[]): void {
    this.hostPort.postMessage(msg, transfer);
    Atomics.add(this.posted, 0, 1);
    Atomics.notify(this.posted, 0);
  }

  /** `imports['alga:extension/x']` objects whose functions forward to the host; jco destructures them once. */
  algaImports(importedFunctions: Record<string, string[]>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [iface, names] of Object.entries(importedFunctions)) {
      if (!iface.startsWith('alga:extension/')) continue;
      const fns: Record<string, (...args: unknown[]) => unknown> = {};
      for (const fn of names) fns[fn] = (...args: unknown[]) => this.callHost(iface, fn, args);
      out[iface] = fns;
    }
    return out;
  }

  /** The guest's stdout/stderr, as the running execution's. */
  readonly writeStdio = (stream: 'stdout' | 'stderr', bytes: Uint8Array): void => {
    if (!this.running) return;
    this.postOneWay({ type: 'stdio', id: this.running.id, stream, text: decoder.decode(bytes) });
  };

  private spinUntilChanged(observed: number, spinMs: number): boolean {
    const deadline = SpinDeadline.after(spinMs);
    while (!deadline.passed()) if (Atomics.load(this.signal, SIGNAL.ANSWERED) !== observed) return true;
    return false;
  }

  callHost(iface: string, fn: string, args: unknown[]): unknown {
    const execution = this.running;
    if (!execution) throw new Error(`host call ${iface}#${fn} outside an execution`);
    // the one place the host-call cap is counted: every call, whichever way it is delivered
    if (++execution.hostCalls > execution.maxHostCalls) {
      throw new HostAbort('host_call_limit', `the guest made more than ${execution.maxHostCalls} host calls`);
    }
    const key = `${iface}#${fn}`;
    const local = execution.answers[key];
    if (local) {
      execution.localCalls[key] = (execution.localCalls[key] ?? 0) + 1;
      return unwrap(local);
    }
    if (execution.oneWay.has(key)) {
      this.postOneWay({ type: 'host-call', id: execution.id, iface, fn, args: args.map((a) => (typeof a === 'string' ? cutLong(a, execution.maxLogMessageBytes) : ownBytes(a))) });
      return undefined;
    }
    const inWorker = execution.inWorker[key];
    if (inWorker) return this.callInWorker(execution, key, inWorker, args);
    const seq = (this.lastSeq = this.lastSeq >= 0x7ffffff0 ? 1 : this.lastSeq + 1);
    this.toMain({ type: 'call', seq, iface, fn, args: args.map(ownBytes) } satisfies HostChannelMessage);
    // A capability that never answers must not hold the guest until the deadline terminates the
    // worker: the call is given up a margin before the deadline (having waited at least the margin,
    // so a call made in the guest's last moments is left to the deadline itself).
    const posted = performance.now();
    const deadline = Math.max(execution.deadline - execution.hostCallMarginMs, posted + execution.hostCallMarginMs);
    for (;;) {
      const received = receiveMessageOnPort(this.hostPort);
      if (received) {
        const reply = received.message as HostCallReply;
        if (reply.seq === seq) return unwrap(reply.answer);
        continue; // a reply to an earlier call that no longer waits: drop it
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new HostAbort('host_call_timeout', `host call ${iface}#${fn} did not answer within ${Math.round(performance.now() - posted)} ms, before the execution's deadline`);
      const observed = Atomics.load(this.signal, SIGNAL.ANSWERED);
      if (observed === seq) {
        // signalled but the reply is not readable yet: look again shortly instead of sleeping on a value nobody changes
        Atomics.wait(this.signal, SIGNAL.ANSWERED, observed, Math.min(left, 1));
        continue;
      }
      // Most capabilities answer within microseconds: watch the signal before sleeping (as long as
      // the pool allowed), which saves a futex sleep and wake-up on each fast call.
      if (this.spinUntilChanged(observed, execution.hostCallSpinMs)) continue;
      Atomics.wait(this.signal, SIGNAL.ANSWERED, observed, left);
    }
  }

  /** Runs an in-worker function: its outcome and latency are reported with the result, a throw is contained as on the main thread. */
  private callInWorker(execution: WorkerExecution, key: string, call: InWorkerCall, args: unknown[]): unknown {
    const fn = this.sides.functions.get(key);
    if (!fn) throw new HostAbort('host_error', `${key} has no worker side in this worker${this.sides.errors.length > 0 ? ` (${this.sides.errors.join('; ')})` : ''}`);
    const log = execution.log;
    const started = performance.now();
    let result: HostResult;
    try {
      result = fn({ args, ctx: execution.context, config: call.config as never, log });
    } catch (e) {
      execution.workerCalls.push({ key, outcome: 'failed', seconds: (performance.now() - started) / 1000 });
      log('error', `${key} failed: ${e instanceof Error ? e.message : String(e)}`);
      if (call.onFailure) return unwrap(call.onFailure);
      throw new HostAbort('host_error', `${key} failed`);
    }
    execution.workerCalls.push({ key, outcome: result.kind === 'err' ? 'error' : 'ok', seconds: (performance.now() - started) / 1000 });
    return unwrap(result);
  }
}

/** A one-way call's string argument as far as the main thread will read it (ExecuteMessage.maxLogMessageBytes). */
function cutLong(text: string, maxBytes: number): string {
  return text.length > maxBytes + 1 ? text.slice(0, maxBytes + 1) : text;
}

/**
 * Structured clone copies the whole ArrayBuffer behind a view: a `list<u8>` argument that is a view
 * into guest memory would ship all of linear memory. Give every byte view its own buffer first.
 */
function ownBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return value.byteLength === value.buffer.byteLength ? value : value.slice();
  if (Array.isArray(value)) return value.map(ownBytes);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = ownBytes(v);
    return out;
  }
  return value;
}

function unwrap(answer: HostCallAnswer): unknown {
  switch (answer.kind) {
    case 'ok':
    case 'value':
      return (answer as Extract<HostResult, { kind: 'ok' | 'value' }>).value;
    case 'err':
      // jco lowers a thrown object with `payload` as the `err` case of a WIT result
      throw { payload: answer.code };
    case 'abort':
      throw new HostAbort(answer.code, answer.message);
  }
}
