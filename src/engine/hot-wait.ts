/**
 * The main thread's hot wait (docs/architecture.md, "Hot wait"): the policy for when the main
 * thread watches the running workers' ports instead of sleeping in its event loop, and how long a
 * worker watches for a host call's answer. The pool (worker-pool.ts) calls `watch` when a job
 * starts on a warm worker and when a host call's answer is posted, and `workerPlan` for each job
 * it starts.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { SpinDeadline } from './spin.js';
import { SIGNAL, type WorkerMessage } from './protocol.js';

/** What the hot wait did: worker messages it took off the ports, and main-thread time it spent. */
export interface HotWaitStats {
  taken: number;
  spentMs: number;
}

/**
 * Hot wait: how long the main thread watches a running worker's port for its next message (a host
 * call, the result) before letting the event loop run one turn and watching again. An idle vCPU
 * here is put to sleep after ~200 µs and takes ~70 µs (often several hundred) to wake; a host-call
 * round trip is ~20 µs when both threads are awake.
 */
export const HOT_WAIT_MS = 0.5;
/** Most the main thread hot-waits per event-loop turn, so timers and I/O always get their turn. */
const HOT_WAIT_BUDGET_PER_TURN_MS = 2;
/**
 * Most the main thread hot-waits on one execution in vain (windows that end with no message).
 * Past it (a guest computing for long stretches) the main thread sleeps until the worker's next
 * message, as it would with hot waiting off: a long computation gains little from a faster
 * wake-up. A guest busy calling the host keeps the watch, which takes its calls at once.
 */
export const HOT_WAIT_IDLE_PER_EXECUTION_MS = 20;
/**
 * How long a worker watches for a host call's answer before it sleeps: long enough to cover a
 * fast capability's round trip when the worker has a core of its own (the main thread hot-waits
 * then too), and briefly otherwise, when a spinning worker would take CPU from the main thread
 * that is to answer it.
 */
const HOST_CALL_SPIN_MS = { coreFree: 0.3, crowded: 0.02 } as const;

/** A worker as the hot wait sees it (the pool's slot). */
export interface WatchedWorker {
  readonly hostPort: MessagePort;
  /** shared with the worker: see SIGNAL in protocol.ts */
  readonly signal: Int32Array;
  /** its running execution: time hot-waited on it in vain so far (ms), host calls of it the main thread is working on */
  readonly current: { hotWaitIdleMs: number; pendingHostCalls: number } | null;
}

/** What the hot wait needs of the pool. */
export interface HotWaitHost<W extends WatchedWorker> {
  /** every worker, running or not */
  workers(): readonly W[];
  /** the pool may give the main thread to a watch: not closed, no job queued */
  mayWatch(): boolean;
  /** a message the watch took off a worker's port, handled as the port's listener would */
  deliver(worker: W, msg: WorkerMessage): void;
}

/** How a job the pool starts should behave in its worker (ExecuteMessage fields). */
export interface WorkerPlan {
  hostCallSpinMs: number;
  runInWorker: boolean;
}

export class HotWait<W extends WatchedWorker> {
  readonly stats: HotWaitStats = { taken: 0, spentMs: 0 };
  /** messages posted by all workers, counted: the hot wait sleeps on it (a futex) between looks at the ports; shared with every worker */
  readonly posted = new Int32Array(new SharedArrayBuffer(4));
  private readonly windowMs: number;
  private watching = false;
  private spentThisTurnMs = 0;
  private turnReset = false;
  /** a watch is scheduled for the next event-loop turn */
  private rearmed = false;

  /** `windowMs`: longest a watch lasts (0: never watch); `cores`: CPU cores the process may use */
  constructor(
    private readonly host: HotWaitHost<W>,
    windowMs: number | undefined,
    private readonly cores: number,
  ) {
    this.windowMs = windowMs ?? HOT_WAIT_MS;
  }

  /**
   * For a job starting now: whether the main thread will watch its worker (a core is free), which
   * decides how long the worker spins for a host call's answer and whether it runs its in-worker
   * reads itself.
   */
  workerPlan(): WorkerPlan {
    const hotWaiting = this.windowMs > 0 && this.working() + 1 <= this.cores;
    const hostCallSpinMs = hotWaiting ? HOST_CALL_SPIN_MS.coreFree : HOST_CALL_SPIN_MS.crowded;
    // A main thread watching this worker answers a round trip in ~20 µs with its store connection
    // warm; a worker's own read costs more than that (its first read after another connection's
    // write re-reads pages, and the guest has just evicted its caches). With every core busy, a
    // round trip means waking threads and queueing behind other executions' calls: then the worker
    // reads itself. Measured in BENCHMARKS.md (SQLite /seven, sequential and 2 in flight).
    return { hostCallSpinMs, runInWorker: !hotWaiting };
  }

  /**
   * Watches the running workers' ports instead of sleeping in the event loop, so the next host call
   * or the result is taken at once rather than after the main thread's CPU has gone to sleep and
   * been woken again. Only when it costs no worker a core (fewer workers busy than cores, nothing
   * queued) and when no host call is in progress on the main thread (its I/O needs the event loop).
   * A watch lasts one window at most, and all watches of a turn share a budget; then the event loop
   * runs a turn (timers, I/O — it does not sleep, an immediate is pending) and the watch resumes,
   * until it has watched the execution in vain for HOT_WAIT_IDLE_PER_EXECUTION_MS.
   */
  watch(resumed = false): void {
    const windowMs = this.windowMs;
    if (windowMs <= 0 || this.watching || !this.host.mayWatch() || this.hostCallsInProgress()) return;
    const busy = this.host.workers().filter((s) => s.current);
    if (busy.length === 0 || this.working() + 1 > this.cores) return;
    const watched = busy.filter((s) => s.current!.hotWaitIdleMs < HOT_WAIT_IDLE_PER_EXECUTION_MS);
    if (watched.length === 0) return;
    const budget = HOT_WAIT_BUDGET_PER_TURN_MS - this.spentThisTurnMs;
    if (budget <= 0) {
      this.rearm();
      return;
    }
    if (!this.turnReset) {
      this.turnReset = true;
      setImmediate(() => {
        this.spentThisTurnMs = 0;
        this.turnReset = false;
      });
    }
    this.watching = true;
    const started = performance.now();
    const deadline = new SpinDeadline(started + Math.min(windowMs, budget));
    let taken = false;
    try {
      for (;;) {
        const seen = Atomics.load(this.posted, 0);
        for (const slot of watched) {
          const received = receiveMessageOnPort(slot.hostPort);
          if (!received) continue;
          const msg = received.message as WorkerMessage;
          this.host.deliver(slot, msg);
          // a call is answered asynchronously (its answer hot-waits again); a result ends the watch
          if (msg.type === 'call' || msg.type === 'result' || msg.type === 'load-failed') {
            taken = true;
            this.stats.taken++;
            return;
          }
        }
        if (!resumed) {
          // watch the count of posted messages, not the ports: a look at a port takes the lock a
          // worker's postMessage needs too
          while (Atomics.load(this.posted, 0) === seen) if (deadline.passed()) return;
          continue;
        }
        // A resumed watch serves the slow executions, where another thread (a restore, V8's
        // helpers) may be waiting for a core: it sleeps until a worker posts — on a futex, whose
        // wake-up is far quicker than the event loop's — instead of spinning.
        const left = deadline.until - performance.now();
        if (left <= 0) return;
        Atomics.wait(this.posted, 0, seen, left);
      }
    } finally {
      this.watching = false;
      const spent = performance.now() - started;
      this.spentThisTurnMs += spent;
      this.stats.spentMs += spent;
      if (!taken) {
        for (const slot of watched) if (slot.current) slot.current.hotWaitIdleMs += spent;
        this.rearm();
      }
    }
  }

  /**
   * Whether the main thread is working on a host call of a running execution: it must not
   * hot-wait while one needs the event loop. Counted per execution, so a call whose promise never
   * settles stops counting when its execution ends (at its deadline, say).
   */
  private hostCallsInProgress(): boolean {
    for (const s of this.host.workers()) if (s.current && s.current.pendingHostCalls > 0) return true;
    return false;
  }

  /** Workers using a core now: running an execution, or still restoring after one. */
  private working(): number {
    let n = 0;
    for (const s of this.host.workers()) if (s.current || Atomics.load(s.signal, SIGNAL.TIDYING) !== 0) n++;
    return n;
  }

  /** Resume watching after the event loop has had its turn (see watch). */
  private rearm(): void {
    if (this.rearmed) return;
    this.rearmed = true;
    setImmediate(() => {
      this.rearmed = false;
      this.watch(true);
    });
  }
}
