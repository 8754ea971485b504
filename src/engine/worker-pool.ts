/**
 * A pool of guest workers (docs/architecture.md). Each worker runs one execution at a time; jobs go to
 * a worker that already has the guest warm when one is idle. When none is idle, jobs wait, and a
 * worker that frees takes the next one by fair share between tenants (fair-scheduler.ts), not in
 * arrival order. A worker that overruns its deadline is terminated and replaced; one that crashes
 * is replaced; the pool never takes the process down.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { OneWayRing, ONE_WAY_RING_BYTES } from './one-way-ring.js';
import { HotWait, type HotWaitStats } from './hot-wait.js';
import { DEFAULT_FAIRNESS, FairScheduler, type FairnessOptions, type Owner } from './fair-scheduler.js';
import type { FaultCode, HostCallAnswer, WorkerLogLevel, WorkerSideSpec, WorkerStoreSpec } from '../contract/index.js';
import { type ExecuteMessage, type HostCallReply, type ExecuteReply, type HostChannelMessage, type LoadMessage, type WorkerMessage, SIGNAL, SIGNAL_BYTES } from './protocol.js';

const COLD_LOAD_GRACE_MS = 10_000;
/**
 * Guests kept loaded per worker; past it the least recently used one is unloaded. A loaded guest
 * is cheap (its code and glue are its shape's, its memory image the process's blocks); what costs
 * memory is instances, which the worker bounds by `instanceMemoryMb`.
 */
export const MAX_GUESTS_PER_WORKER = 1024;
const WORKER_URL = new URL('./guest/guest-worker.js', import.meta.url);

/** What the pool needs of an execution's main-thread side (engine.ts ExecutionSession): its host traffic. */
export interface HostSession {
  call(iface: string, fn: string, args: unknown[]): Promise<HostCallAnswer>;
  /** a call the guest did not wait for (one-way delivery) */
  oneWay(iface: string, fn: string, args: unknown[]): void;
  /** a log line an in-worker function wrote (contract/worker-side.ts) */
  log(level: WorkerLogLevel, message: string, stream: 'log'): void;
  stdio(stream: 'stdout' | 'stderr', text: string): void;
}

export interface PoolJob {
  artifactKey: string;
  /** whose execution it is: workers are shared fairly between tenants; the penalty is per install (fair-scheduler.ts) */
  owner: Owner;
  /** reuse mode: the install whose warm instance lives in one worker — keep its jobs there when it is idle */
  affinity?: string;
  /** sent to the worker before the first execute of this artifact on it */
  load: () => LoadMessage;
  /**
   * Made for this job: the pool completes it in place when it dispatches the job. Not copied
   * with a leading object spread (`{ ...message, id }`): the copies V8 makes that way kept what
   * they point to alive through scavenges until the next full GC — a worker ping-pong posting
   * `{ ...payload, id }` had 14 % of the main thread's allocation promoted, 1.3 % posting the
   * object itself; `WorkerPool.run` alone went from 11-12 % to 2.7 % (BENCHMARKS.md).
   */
  message: Omit<ExecuteMessage, 'id' | 'type' | 'hostCallSpinMs' | 'runInWorker' | 'timeoutMs'>;
  session: HostSession;
  timeoutMs: number;
}

/** A job handed to the pool, waiting or not. */
interface Submitted {
  job: PoolJob;
  resolve: (r: JobResult) => void;
  /** see DispatchEvent.arrival */
  arrival: number;
}

export type JobResult = ExecuteReply | { type: 'result'; id: number; kind: 'fault'; code: FaultCode; message: string; stats: null };

interface Slot {
  worker: Worker;
  hostPort: MessagePort;
  /** log records and stdio the worker wrote without posting; read before each of its messages */
  oneWay: OneWayRing;
  /** shared with the worker: see SIGNAL in protocol.ts */
  signal: Int32Array;
  loaded: Set<string>;
  current: RunningJob | null;
  /** the worker has started (its `ready` message came): jobs are sent to it only then */
  booted: boolean;
  /** a replacement for a worker whose execution overran its deadline or crashed: counted as that owner's until it is ready */
  chargedTo: Owner | null;
  /** when the last execution ended here (performance.now()) */
  finishedAt: number;
  ready: Promise<void>;
  markReady: (sideErrors: readonly string[]) => void;
}

/** A job a worker is running now, with its deadline timer and hot-wait accounting. */
interface RunningJob {
  id: number;
  job: PoolJob;
  resolve: (r: JobResult) => void;
  timer: NodeJS.Timeout;
  /** time the main thread has hot-waited on this execution in vain so far (ms) */
  hotWaitIdleMs: number;
  /** host calls of this execution the main thread is working on */
  pendingHostCalls: number;
}

export interface PoolOptions {
  size: number;
  /** guests kept loaded per worker (default MAX_GUESTS_PER_WORKER) */
  maxGuestsPerWorker?: number;
  /** linear memory each worker's idle guest instances may hold (MiB); default: no bound */
  instanceMemoryMb?: number;
  /** V8 heap cap per worker (MiB); wasm linear memory is capped separately */
  maxOldGenerationSizeMb?: number;
  /** longest the main thread watches for a worker's next message before sleeping (ms; 0: never; see hot-wait.ts) */
  hotWaitMs?: number;
  /** CPU cores the process may use, which decides when a core is free to hot-wait on (default: availableParallelism()) */
  cores?: number;
  /** capabilities' worker sides every worker opens when it starts (registry.workerSides()) */
  workerSides?: readonly WorkerSideSpec[];
  /** the store every worker opens once for its worker sides (registry.workerStore()) */
  workerStore?: WorkerStoreSpec | null;
  /** when an install is put on probation (fair-scheduler.ts; default DEFAULT_FAIRNESS) */
  fairness?: FairnessOptions;
}

/** A job leaving the queue for a worker (the pool's 'dispatch' event): who, and how it was chosen. */
export interface DispatchEvent {
  owner: Owner;
  requestId: string | undefined;
  /** the pool's count of jobs before this one came (arrival order) */
  arrival: number;
  /** it waited in the queue (false: a worker was idle when it came) */
  queued: boolean;
  /** jobs of other tenants that started while it waited */
  overtakenBy: number;
  /** its tenant's executions running, this one included (replacement workers charged to it too) */
  tenantRunning: number;
  /** its install's, likewise */
  installRunning: number;
  /** its install was on probation */
  penalised: boolean;
}

/** A worker side a worker could not open: the pool's first start fails with it (Engine.create). */
export class WorkerSideError extends Error {
  override readonly name = 'WorkerSideError';
}

export class WorkerPool extends EventEmitter {
  private readonly slots: Slot[] = [];
  private readonly queue: FairScheduler<Submitted>;
  /** jobs submitted so far */
  private arrivals = 0;
  /** reuse-mode install → the worker holding its warm instance */
  private readonly affinity = new Map<string, Slot>();
  private nextId = 1;
  private closed = false;
  /** workers replaced after a timeout or crash, for metrics */
  restarts = 0;
  /** the main thread's hot wait (hot-wait.ts) */
  private readonly hotWait: HotWait<Slot>;

  constructor(private readonly options: PoolOptions) {
    super();
    this.hotWait = new HotWait<Slot>(
      { workers: () => this.slots, mayWatch: () => !this.closed && this.queue.length === 0, deliver: (slot, msg) => this.onWorkerMessage(slot, msg) },
      options.hotWaitMs,
      options.cores ?? availableParallelism(),
    );
    this.queue = new FairScheduler(options.fairness ?? DEFAULT_FAIRNESS);
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  /** What the main thread's hot wait did so far (hot-wait.ts): a live object. */
  get hotWaitStats(): Readonly<HotWaitStats> {
    return this.hotWait.stats;
  }

  get queued(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.slots.filter((s) => s.current).length;
  }

  /**
   * An install was removed or stopped reusing an instance: its kept instances go in every worker,
   * and (removed) so does what the scheduler remembers of it.
   */
  forgetInstall(installId: string, removed: boolean): void {
    for (const slot of this.slots) slot.worker.postMessage({ type: 'forget', owner: installId });
    const suffix = `\u0000${installId}`;
    for (const key of [...this.affinity.keys()]) if (key.endsWith(suffix)) this.affinity.delete(key);
    if (removed) this.queue.pardon(installId);
  }

  /** Installs on probation now (fair-scheduler.ts). */
  penalisedInstalls(): string[] {
    return this.queue.penalisedInstalls();
  }

  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  run(job: PoolJob): Promise<JobResult> {
    if (this.closed) throw new Error('worker pool is closed');
    return new Promise((resolve) => {
      // an idle worker means nothing eligible waits: the pool starts waiting work as soon as one frees
      const submitted: Submitted = { job, resolve, arrival: this.arrivals++ };
      const slot = this.queue.mayStart(job.owner) ? this.pickIdle(job) : undefined;
      if (slot) {
        // a worker loading the guest first takes far longer than a hot wait lasts
        const warm = slot.loaded.has(job.artifactKey);
        this.start(slot, submitted, null);
        if (warm) this.hotWait.watch();
      } else this.queue.push(job.owner, submitted);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.drainAll()) q.resolve(fault(0, 'worker_crashed', 'the engine is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /**
   * An idle worker that has the guest warm, the one that finished last first — even while it is
   * still restoring its instance after that answer: it serves a request arriving during a restore
   * between restore chunks (guest-worker.ts serveArrivals), its thread is awake and its caches hold
   * the guest, where a worker idle for longer sleeps and must be woken. Sequential requests on 2
   * workers, A/B in one process against the longest-idle choice (two runs): /noop p50 0.41 / 0.28 →
   * 0.26 / 0.17 ms, /seven 1.45 / 1.03 → 0.78 / 0.57 ms, p99 lower too; throughput unchanged.
   */
  private pickIdle(job: PoolJob): Slot | undefined {
    const { artifactKey } = job;
    if (job.affinity) {
      const home = this.affinity.get(job.affinity);
      if (home && !home.current && home.booted && this.slots.includes(home)) return home;
    }
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.current || !s.booted) continue;
      const better = !best || (s.loaded.has(artifactKey) && !best.loaded.has(artifactKey)) || (s.loaded.has(artifactKey) === best.loaded.has(artifactKey) && s.finishedAt > best.finishedAt);
      if (better) best = s;
    }
    return best;
  }

  private spawn(): Slot {
    const signalBuffer = new SharedArrayBuffer(SIGNAL_BYTES);
    const oneWay = new OneWayRing(new SharedArrayBuffer(ONE_WAY_RING_BYTES));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_URL, {
      workerData: {
        hostPort: port2,
        signal: signalBuffer,
        oneWay: oneWay.buffer,
        posted: this.hotWait.posted.buffer,
        workerSides: this.options.workerSides ?? [],
        workerStore: this.options.workerStore ?? null,
        instanceMemoryBytes: this.options.instanceMemoryMb ? this.options.instanceMemoryMb * 2 ** 20 : null,
      },
      transferList: [port2],
      resourceLimits: this.options.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: this.options.maxOldGenerationSizeMb } : undefined,
      stdout: false,
      stderr: false,
    });
    let markReady!: (sideErrors: readonly string[]) => void;
    // a worker that could not open a worker side still serves (those calls fail with host_error);
    // only the pool's first start refuses, so a misconfigured runner does not come up
    const ready = new Promise<void>((resolve, reject) => (markReady = (errors) => (errors.length === 0 ? resolve() : reject(new WorkerSideError(errors.join('; '))))));
    ready.catch(() => {});
    const slot: Slot = { worker, hostPort: port1, oneWay, signal: new Int32Array(signalBuffer), loaded: new Set(), current: null, booted: false, chargedTo: null, finishedAt: 0, ready, markReady };
    worker.on('error', (e) => this.replace(slot, 'worker_crashed', `the worker crashed: ${e.message}`));
    worker.on('exit', () => this.replace(slot, 'worker_crashed', 'the worker exited'));
    port1.on('message', (msg: WorkerMessage) => this.onWorkerMessage(slot, msg));
    return slot;
  }

  private onWorkerMessage(slot: Slot, msg: WorkerMessage): void {
    // what the worker wrote before this message comes first
    this.handleOneWay(slot);
    this.handle(slot, msg);
  }

  /**
   * The one-way records written so far, in order. Each is handled without reading the ring again:
   * the worker may still be writing, and records read while an earlier one is handled would
   * overtake the rest of their batch.
   */
  private handleOneWay(slot: Slot): void {
    for (const earlier of slot.oneWay.drain()) this.handle(slot, earlier as WorkerMessage);
  }

  private handle(slot: Slot, msg: WorkerMessage): void {
    switch (msg.type) {
      case 'call':
        this.onHostCall(slot, msg);
        break;
      case 'ready':
        slot.markReady(msg.sideErrors);
        this.booted(slot);
        break;
      case 'started':
        this.restartDeadline(slot, msg.id);
        break;
      case 'stdio':
        if (slot.current?.id === msg.id) slot.current.job.session.stdio(msg.stream, msg.text);
        break;
      case 'host-call':
        if (slot.current?.id === msg.id) slot.current.job.session.oneWay(msg.iface, msg.fn, msg.args);
        break;
      case 'log':
        if (slot.current?.id === msg.id) slot.current.job.session.log(msg.level, msg.message, 'log');
        break;
      case 'result':
        this.finish(slot, msg);
        break;
      case 'load-failed':
        slot.loaded.delete(msg.artifactKey);
        if (slot.current?.job.artifactKey === msg.artifactKey) this.finish(slot, fault(slot.current.id, 'instantiate_failed', `loading the guest failed: ${msg.message}`));
        break;
    }
  }

  private onHostCall(slot: Slot, msg: HostChannelMessage): void {
    const running = slot.current;
    const answer = (a: HostCallAnswer) => {
      if (slot.current !== running) return; // the execution ended (timeout) while the call ran
      slot.hostPort.postMessage({ seq: msg.seq, answer: a } satisfies HostCallReply);
      Atomics.store(slot.signal, SIGNAL.ANSWERED, msg.seq);
      Atomics.notify(slot.signal, SIGNAL.ANSWERED);
    };
    if (!running) {
      answer({ kind: 'abort', code: 'worker_crashed', message: 'host call outside an execution' });
      return;
    }
    running.pendingHostCalls++;
    const settle = (a: HostCallAnswer) => {
      running.pendingHostCalls--;
      answer(a);
      this.hotWait.watch();
    };
    running.job.session
      .call(msg.iface, msg.fn, msg.args)
      .then(settle, (e: unknown) => settle({ kind: 'abort', code: 'worker_crashed', message: `host call failed: ${e instanceof Error ? e.message : String(e)}` }));
  }

  /** `from`: how the scheduler handed it over, when it waited (null: a worker was idle when it came). */
  private start(slot: Slot, { job, resolve, arrival }: Submitted, from: { overtakenBy: number; penalised: boolean } | null): void {
    const id = this.nextId++;
    this.queue.started(job.owner);
    if (this.listenerCount('dispatch') > 0) {
      this.emit('dispatch', {
        owner: job.owner,
        requestId: job.message.context.requestId,
        arrival,
        queued: from !== null,
        overtakenBy: from?.overtakenBy ?? 0,
        tenantRunning: this.queue.running(job.owner.tenant),
        installRunning: this.queue.runningOf(job.owner.install),
        penalised: from?.penalised ?? this.queue.penalised(job.owner.install),
      } satisfies DispatchEvent);
    }
    // Loading a guest into a worker (import the glue, first instantiation) is the runner's cost,
    // not the guest's: it gets a grace period on top of the guest's deadline.
    const cold = !slot.loaded.has(job.artifactKey);
    const deadline = job.timeoutMs + (cold ? COLD_LOAD_GRACE_MS : 0);
    const timer = this.deadlineTimer(slot, job, deadline);
    slot.current = { id, job, resolve, timer, hotWaitIdleMs: 0, pendingHostCalls: 0 };
    if (job.affinity) this.affinity.set(job.affinity, slot);
    if (cold) {
      slot.worker.postMessage(job.load());
      slot.loaded.add(job.artifactKey);
      // a worker keeps a bounded number of guests loaded (their instances are bounded by memory in the worker)
      if (slot.loaded.size > (this.options.maxGuestsPerWorker ?? MAX_GUESTS_PER_WORKER)) {
        const oldest = slot.loaded.values().next().value!;
        slot.loaded.delete(oldest);
        slot.worker.postMessage({ type: 'unload', artifactKey: oldest });
      }
    } else {
      // keep `loaded` in least-recently-used order
      slot.loaded.delete(job.artifactKey);
      slot.loaded.add(job.artifactKey);
    }
    // how long the worker spins for an answer, and whether it runs its in-worker reads (hot-wait.ts)
    const { hostCallSpinMs, runInWorker } = this.hotWait.workerPlan();
    slot.worker.postMessage(Object.assign(job.message, { type: 'execute' as const, id, hostCallSpinMs, runInWorker, timeoutMs: job.timeoutMs }) satisfies ExecuteMessage);
  }

  private deadlineTimer(slot: Slot, job: PoolJob, ms: number): NodeJS.Timeout {
    return setTimeout(() => this.replace(slot, 'timeout', `the execution exceeded its ${job.timeoutMs} ms deadline`), ms);
  }

  /** The worker finished loading/instantiating: the guest's own deadline starts now. */
  private restartDeadline(slot: Slot, id: number): void {
    const running = slot.current;
    if (!running || running.id !== id) return;
    clearTimeout(running.timer);
    running.timer = this.deadlineTimer(slot, running.job, running.job.timeoutMs);
  }

  private finish(slot: Slot, reply: JobResult): void {
    const running = slot.current;
    if (!running || running.id !== reply.id) return;
    clearTimeout(running.timer);
    slot.current = null;
    slot.finishedAt = performance.now();
    this.ended(running.job.owner, reply.kind === 'fault' && reply.code === 'memory_limit');
    running.resolve(reply);
    this.drain(slot);
  }

  /** An execution ended; a costly end may put its install on probation (the pool's 'probation' event). */
  private ended(owner: Owner, costly: boolean): void {
    if (this.queue.finished(owner, costly)) this.emit('probation', owner);
  }

  /** A worker has started: a replacement stops counting against whoever caused it, and takes work. */
  private booted(slot: Slot): void {
    if (slot.booted || !this.slots.includes(slot)) return;
    slot.booted = true;
    if (slot.chargedTo) this.queue.discharge(slot.chargedTo);
    slot.chargedTo = null;
    this.drain(slot);
  }

  /** Terminate a worker (deadline or crash), fail its execution, and put a new worker in its place. */
  private replace(slot: Slot, code: FaultCode, message: string): void {
    const index = this.slots.indexOf(slot);
    if (index === -1 || this.closed) return;
    // the log lines of a guest that hung or crashed are kept
    this.handleOneWay(slot);
    const running = slot.current;
    slot.current = null;
    if (running) clearTimeout(running.timer);
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('error');
    slot.worker.on('error', () => {});
    void slot.worker.terminate();
    slot.hostPort.close();
    this.restarts++;
    const fresh = this.spawn();
    this.slots[index] = fresh;
    // The new worker takes a while to start (and then to load its guests): until it is ready it
    // counts as running for the owner whose execution overran (or crashed) — as does the one it
    // replaces, if that had not started yet either.
    if (running) {
      this.ended(running.job.owner, true);
      fresh.chargedTo = running.job.owner;
      this.queue.charge(running.job.owner);
    } else fresh.chargedTo = slot.chargedTo;
    slot.chargedTo = null;
    this.emit('restart', code);
    if (running) running.resolve(fault(running.id, code, message));
    this.drain(fresh);
  }

  /** A worker is free: it takes the job the scheduler picks, preferring one whose guest it has warm. */
  private drain(slot: Slot): void {
    if (slot.current || !slot.booted || this.closed || this.queue.length === 0) return;
    const next = this.queue.take((q) => slot.loaded.has(q.job.artifactKey));
    if (next) this.start(slot, next.item, next);
  }
}

function fault(id: number, code: FaultCode, message: string): JobResult {
  return { type: 'result', id, kind: 'fault', code, message, stats: null };
}
