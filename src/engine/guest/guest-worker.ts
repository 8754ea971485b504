/**
 * Worker entry: hosts guest instances and runs one execution at a time.
 *
 * Guest import calls to `alga:extension/*` are forwarded to the main thread over the host channel
 * and answered synchronously (`Atomics.wait` until the main thread has run the async capability),
 * unless the execution's local plan lets the worker answer them itself (per-execution answers,
 * one-way calls, in-worker functions from the capabilities' worker sides). WASI is served locally
 * (see wasi.ts).
 */
import { parentPort, workerData, receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads';
import type { CreateWorkerFunctions, FaultCode, GuestResponse, HostCallAnswer, HostResult, InWorkerCall, WorkerCall, WorkerCallRecord, WorkerFunction, WorkerSideSpec } from '../../contract/index.js';
import {
  type ExecuteMessage,
  type ExecuteReply,
  type ExecutionStats,
  type FromWorker,
  type HostCallReply,
  type HostChannelMessage,
  type LoadMessage,
  type ToWorker,
  SIGNAL,
} from '../protocol.js';
import { GuestInstance, loadedGuest, type LoadedGuest } from './guest-instance.js';
import { loadGlue } from './glue.js';
import { GuestPointerOutOfBounds, GuestValueTooLarge, LiftBounds } from './lift-bounds.js';
import { GuestExit } from './wasi.js';
import { OneWayRing } from '../one-way-ring.js';
import { SpinDeadline } from '../spin.js';

interface WorkerInit {
  hostPort: MessagePort;
  signal: SharedArrayBuffer;
  /** one-way messages (log records, stdio) for the main thread to read (one-way-ring.ts) */
  oneWay: SharedArrayBuffer;
  /** longest a single host call may block the guest */
  hostCallTimeoutMs: number;
  /** the pool's count of messages posted by all its workers, for a hot-waiting main thread (protocol.ts) */
  posted: SharedArrayBuffer;
  /** capabilities' worker sides to open before serving (contract/worker-side.ts) */
  workerSides: WorkerSideSpec[];
}

/** Thrown into the guest to unwind it when the host ends the execution (limit reached). */
class HostAbort extends Error {
  override readonly name = 'HostAbort';
  constructor(
    readonly code: FaultCode,
    message: string,
  ) {
    super(message);
  }
}

const init = workerData as WorkerInit;
const port = parentPort!;
const signal = new Int32Array(init.signal);
const oneWay = new OneWayRing(init.oneWay);
const posted = new Int32Array(init.posted);

/** Every message to the main thread: posted, then counted, so a main thread waiting on the count wakes. */
function toMain(msg: unknown, transfer?: ArrayBuffer[]): void {
  init.hostPort.postMessage(msg, transfer);
  Atomics.add(posted, 0, 1);
  Atomics.notify(posted, 0);
}
const decoder = new TextDecoder();
/** What this worker's guests may hand the host, per execution (the glue of every guest reads it). */
const lift = new LiftBounds();

/**
 * A loaded guest and its instances. Fresh mode keeps one or two pristine instances (see
 * freshInstancesFor): with two, while one is being restored after a request, the other can serve
 * the next request at once. Reuse mode keeps one warm instance per install, never shared with
 * another install or with fresh-mode requests.
 */
interface Slot {
  guest: LoadedGuest;
  importedFunctions: Record<string, string[]>;
  /** pristine instances ready to serve (fresh mode) */
  ready: GuestInstance[];
  /** fresh-mode instances alive, ready or not */
  alive: number;
  /** the guest's instances restore by tracked writes (known once one exists) */
  tracksWrites: boolean;
  /** reuse mode: the warm instance of each install */
  warm: Map<string, GuestInstance>;
}
/**
 * Pristine instances kept per guest. With write tracking a restore takes ~0.1 ms and one instance
 * is best (its memory stays in cache; measured: +35 % throughput over two); a full-copy restore
 * takes a millisecond or more, and a second instance serves the requests that arrive meanwhile.
 */
function freshInstancesFor(slot: Slot): number {
  return slot.tracksWrites ? 1 : 2;
}
const slots = new Map<string, Slot>();
/** What a call of the guest ends with (a warm-up ends with `prepared` instead). */
type CallReply = Exclude<ExecuteReply, { kind: 'prepared' }>;
/** An execution as this worker runs it: its local plan, its counts, where its log goes; host calls made outside one are bugs. */
interface WorkerExecution {
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
}
let running: WorkerExecution | null = null;

let lastSeq = 0;

function spinUntilChanged(observed: number, spinMs: number): boolean {
  const deadline = SpinDeadline.after(spinMs);
  while (!deadline.passed()) if (Atomics.load(signal, SIGNAL.ANSWERED) !== observed) return true;
  return false;
}

function callHost(iface: string, fn: string, args: unknown[]): unknown {
  const execution = running;
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
    postOneWay({ type: 'host-call', id: execution.id, iface, fn, args: args.map((a) => (typeof a === 'string' ? cutLong(a, execution.maxLogMessageBytes) : ownBytes(a))) });
    return undefined;
  }
  const inWorker = execution.inWorker[key];
  if (inWorker) return callInWorker(execution, key, inWorker, args);
  const seq = (lastSeq = lastSeq >= 0x7ffffff0 ? 1 : lastSeq + 1);
  toMain({ type: 'call', seq, iface, fn, args: args.map(ownBytes) } satisfies HostChannelMessage);
  const deadline = performance.now() + init.hostCallTimeoutMs;
  for (;;) {
    const received = receiveMessageOnPort(init.hostPort);
    if (received) {
      const reply = received.message as HostCallReply;
      if (reply.seq === seq) return unwrap(reply.answer);
      continue; // a reply to an earlier call that no longer waits: drop it
    }
    const left = deadline - performance.now();
    if (left <= 0) throw new HostAbort('host_call_timeout', `host call ${iface}#${fn} did not answer within ${init.hostCallTimeoutMs} ms`);
    const observed = Atomics.load(signal, SIGNAL.ANSWERED);
    if (observed === seq) {
      // signalled but the reply is not readable yet: look again shortly instead of sleeping on a value nobody changes
      Atomics.wait(signal, SIGNAL.ANSWERED, observed, Math.min(left, 1));
      continue;
    }
    // Most capabilities answer within microseconds: watch the signal before sleeping (as long as
    // the pool allowed), which saves a futex sleep and wake-up on each fast call.
    if (spinUntilChanged(observed, execution.hostCallSpinMs)) continue;
    Atomics.wait(signal, SIGNAL.ANSWERED, observed, left);
  }
}

/** The in-worker functions of the worker sides this worker opened, by `iface#fn`, and why any failed to open. */
const workerFunctions = new Map<string, WorkerFunction<never>>();
const sideErrors: string[] = [];

async function openWorkerSides(): Promise<void> {
  for (const side of init.workerSides) {
    try {
      const module = (await import(side.module)) as { createWorkerFunctions?: CreateWorkerFunctions };
      if (typeof module.createWorkerFunctions !== 'function') throw new Error(`${side.module} has no createWorkerFunctions export`);
      for (const [key, fn] of Object.entries(module.createWorkerFunctions(side.init))) workerFunctions.set(key, fn);
    } catch (e) {
      sideErrors.push(`the worker side of ${side.capability} could not open: ${describe(e)}`);
    }
  }
}

/** Runs an in-worker function: its outcome and latency are reported with the result, a throw is contained as on the main thread. */
function callInWorker(execution: WorkerExecution, key: string, call: InWorkerCall, args: unknown[]): unknown {
  const fn = workerFunctions.get(key);
  if (!fn) throw new HostAbort('host_error', `${key} has no worker side in this worker${sideErrors.length > 0 ? ` (${sideErrors.join('; ')})` : ''}`);
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

/** `imports['alga:extension/x']` objects whose functions forward to the host; jco destructures them once. */
function algaImports(importedFunctions: Record<string, string[]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [iface, names] of Object.entries(importedFunctions)) {
    if (!iface.startsWith('alga:extension/')) continue;
    const fns: Record<string, (...args: unknown[]) => unknown> = {};
    for (const fn of names) fns[fn] = (...args: unknown[]) => callHost(iface, fn, args);
    out[iface] = fns;
  }
  return out;
}

function writeStdio(stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
  if (!running) return;
  postOneWay({ type: 'stdio', id: running.id, stream, text: decoder.decode(bytes) });
}

function load(msg: LoadMessage): void {
  try {
    slots.set(msg.artifactKey, {
      guest: loadedGuest(loadGlue(msg.gluePath, lift), msg.modules, msg.maxMemoryPages, msg.returnAreas),
      importedFunctions: msg.importedFunctions,
      ready: [],
      alive: 0,
      tracksWrites: false,
      warm: new Map(),
    });
  } catch (e) {
    post({ type: 'load-failed', artifactKey: msg.artifactKey, message: e instanceof Error ? e.message : String(e) });
  }
}

// The glue reads `imports` once per instantiation; the same forwarding functions serve every request.
const importCache = new Map<string, Record<string, unknown>>();

function newInstance(key: string, slot: Slot): GuestInstance {
  let imports = importCache.get(key);
  if (!imports) {
    imports = algaImports(slot.importedFunctions);
    importCache.set(key, imports);
  }
  const instance = new GuestInstance(slot.guest, imports, { write: writeStdio });
  slot.tracksWrites = instance.tracksWrites;
  return instance;
}

function execute(msg: ExecuteMessage): void {
  oneWay.startExecution();
  const slot = slots.get(msg.artifactKey);
  const started = performance.now();
  const stats: ExecutionStats = { instance: 'reused', guestMs: 0, memoryBytes: 0, hostCalls: 0, localCalls: {}, workerCalls: [], worker: threadId };
  if (!slot) {
    post({ type: 'result', id: msg.id, kind: 'fault', code: 'instantiate_failed', message: `artifact ${msg.artifactKey} is not loaded in this worker`, stats });
    return;
  }
  const fresh = msg.instanceMode === 'fresh';
  const owner = msg.context.installId ?? `tenant:${msg.context.tenantId}`;
  let instance: GuestInstance | undefined;
  if (fresh) instance = slot.ready.pop();
  else {
    instance = slot.warm.get(owner);
    slot.warm.delete(owner);
  }
  if (instance) {
    stats.instance = fresh ? 'restored' : 'reused';
  } else {
    // the guest's deadline starts here: instantiation runs its modules' start functions
    post({ type: 'started', id: msg.id });
    try {
      instance = newInstance(msg.artifactKey, slot);
      if (fresh) instance.takeSnapshot();
    } catch (e) {
      post({ type: 'result', id: msg.id, kind: 'fault', code: 'instantiate_failed', message: `instantiation failed: ${describe(e)}`, stats });
      return;
    }
    if (fresh) slot.alive++;
    stats.instance = 'new';
  }
  if (msg.prepareOnly) {
    // a warm-up: the instance has never been called, so it goes back as pristine as it came
    if (fresh) slot.ready.push(instance);
    else slot.warm.set(owner, instance);
    stats.guestMs = performance.now() - started;
    post({ type: 'result', id: msg.id, kind: 'prepared', stats });
    return;
  }

  let reply: CallReply;
  // A request served during a restore nests inside another's execute(), whose guest has returned.
  const execution: WorkerExecution = {
    id: msg.id,
    context: msg.context,
    answers: msg.local.answers,
    oneWay: new Set(msg.local.oneWay),
    inWorker: msg.runInWorker ? msg.local.inWorker : {},
    workerCalls: stats.workerCalls,
    log: (level, message) => postOneWay({ type: 'log', id: msg.id, level, message }),
    maxHostCalls: msg.maxHostCalls,
    maxLogMessageBytes: msg.maxLogMessageBytes,
    hostCalls: 0,
    localCalls: stats.localCalls,
    hostCallSpinMs: msg.hostCallSpinMs,
  };
  running = execution;
  lift.begin(msg.maxResponseBytes);
  try {
    const response = instance.call(msg.context, msg.request);
    stats.guestMs = performance.now() - started;
    stats.memoryBytes = instance.memoryBytes();
    reply = checkResponse(msg, ownResponse(response, instance), stats);
  } catch (e) {
    stats.guestMs = performance.now() - started;
    stats.memoryBytes = instance.memoryBytes();
    const { code, message } = classifyFault(e, instance, slot.guest.maxMemoryPages);
    reply = { type: 'result', id: msg.id, kind: 'fault', code, message, stats };
  } finally {
    running = null;
    stats.hostCalls = execution.hostCalls;
  }
  post(reply);

  // After the answer is out: make the instance pristine again (serving arrivals meanwhile), or drop it.
  const keep = reply.kind === 'ok' || reply.code === 'response_too_large' || reply.code === 'invalid_response';
  if (!fresh) {
    if (keep) slot.warm.set(owner, instance);
    return;
  }
  // a count, not a flag: a restore may serve a request whose own restore nests inside it
  Atomics.add(signal, SIGNAL.TIDYING, 1);
  try {
    if (keep && instance.restore(serveArrivals)) slot.ready.push(instance);
    else slot.alive--;
  } finally {
    Atomics.sub(signal, SIGNAL.TIDYING, 1);
  }
  if (slot.alive < freshInstancesFor(slot)) scheduleSpare(msg.artifactKey);
}

/** In idle time, bring a fresh slot up to its instance count (instantiation takes ~15-30 ms). */
function scheduleSpare(key: string): void {
  setImmediate(() => {
    const slot = slots.get(key);
    if (!slot || slot.alive >= freshInstancesFor(slot) || inChain > 0) return;
    try {
      const spare = newInstance(key, slot);
      spare.takeSnapshot();
      slot.ready.push(spare);
      slot.alive++;
    } catch {
      // the next request instantiates and reports the failure itself
    }
  });
}

/**
 * Called between restore chunks: takes messages that arrived meanwhile straight off the port and
 * runs an execute at once when its guest has a ready instance. Anything else — or anything after a
 * message that had to wait — is kept, in order, for when the restore is done.
 */
function serveArrivals(): void {
  if (deferred.length > 0 || inChain > 1) return;
  for (;;) {
    const received = receiveMessageOnPort(port as unknown as MessagePort);
    if (!received) return;
    const msg = received.message as ToWorker;
    if (msg.type === 'execute' && msg.instanceMode === 'fresh' && (slots.get(msg.artifactKey)?.ready.length ?? 0) > 0) execute(msg);
    else {
      deferred.push(msg);
      return;
    }
  }
}

function checkResponse(msg: ExecuteMessage, response: GuestResponse, stats: ExecutionStats): CallReply {
  const bodyBytes = response.body?.byteLength ?? 0;
  const headerBytes = response.headers.reduce((n, h) => n + h.name.length + h.value.length, 0);
  if (bodyBytes + headerBytes > msg.maxResponseBytes) {
    return { type: 'result', id: msg.id, kind: 'fault', code: 'response_too_large', message: `the response is ${bodyBytes + headerBytes} bytes, above the limit of ${msg.maxResponseBytes}`, stats };
  }
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 599) {
    return { type: 'result', id: msg.id, kind: 'fault', code: 'invalid_response', message: `the guest returned HTTP status ${response.status}`, stats };
  }
  return { type: 'result', id: msg.id, kind: 'ok', response: { status: response.status, headers: response.headers, body: response.body }, stats };
}


/** The body is transferred to the main thread: it must not be a view into guest memory. */
function ownResponse(response: GuestResponse, instance: GuestInstance): GuestResponse {
  const body = response.body;
  if (!body || !instance.memories.some((m) => m.buffer === body.buffer)) return response;
  return { ...response, body: body.slice() };
}

function classifyFault(e: unknown, instance: GuestInstance, maxPages: number): { code: FaultCode; message: string } {
  if (e instanceof HostAbort) return { code: e.code, message: e.message };
  if (e instanceof GuestExit) return { code: 'guest_exit', message: e.message };
  if (e instanceof GuestValueTooLarge) return { code: e.phase === 'response' ? 'response_too_large' : 'guest_trap', message: e.message };
  if (e instanceof GuestPointerOutOfBounds) return { code: 'guest_trap', message: e.message };
  const message = describe(e);
  const pages = instance.memoryBytes() / 65536;
  // Growth past the declared maximum fails inside the guest, which then traps or reports OOM.
  // Treat a fault with memory at (or within a few pages of) the cap, or an OOM message, as the limit.
  if (pages >= maxPages - 16 || /out of memory/i.test(message)) {
    return { code: 'memory_limit', message: `the guest reached its memory limit of ${(maxPages * 65536) / 2 ** 20} MiB (${message})` };
  }
  return { code: 'guest_trap', message };
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 2000);
  if (e && typeof e === 'object' && 'payload' in e) return `guest error: ${JSON.stringify((e as { payload: unknown }).payload)}`.slice(0, 2000);
  return String(e).slice(0, 2000);
}

/** Written for the main thread to read with the next message, or posted when it does not fit. */
function postOneWay(msg: Extract<FromWorker, { type: 'stdio' | 'host-call' | 'log' }>): void {
  if (!oneWay.append(msg)) post(msg);
}

/** Everything for the main thread goes on the host channel, in order (see protocol.ts). */
function post(msg: FromWorker): void {
  if (msg.type === 'result' && msg.kind === 'ok' && msg.response.body) {
    toMain(msg, [msg.response.body.buffer as ArrayBuffer]);
  } else {
    toMain(msg);
  }
}

// Messages are handled strictly in order: a load must finish before the execute that follows it.
// `inChain` counts messages taken by the listener and not yet handled; `deferred` holds messages
// taken off the port during a restore that must wait their turn.
// the worker sides open first: nothing is served before they are
let queue: Promise<void> = openWorkerSides();
let inChain = 0;
const deferred: ToWorker[] = [];

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'load':
      load(msg);
      break;
    case 'execute':
      execute(msg);
      break;
    case 'unload':
      slots.delete(msg.artifactKey);
      importCache.delete(msg.artifactKey);
      break;
  }
  while (deferred.length > 0) await handle(deferred.shift()!);
}

port.on('message', (msg: ToWorker) => {
  inChain++;
  queue = queue.then(() => handle(msg)).finally(() => inChain--);
});
void queue.then(() => post({ type: 'ready', sideErrors }));
