/**
 * Which waiting execution gets the next free worker (worker-pool.ts). Executions are not
 * preempted: a guest holds its worker until it answers or its deadline ends it, so the order in
 * which waiting work is started is the only lever — and it decides whether one tenant can starve
 * the others.
 *
 * - **Least-running tenant first.** A free worker goes to the waiting tenant that has the fewest
 *   executions running; ties go to the tenant whose oldest waiting execution is oldest (FIFO among
 *   equals). A tenant flooding the pool is therefore never given a worker beyond its share while
 *   another tenant waits (what it already runs keeps its workers until each execution ends). Within
 *   a tenant, executions start in arrival order (a warm guest near the head may go first, see
 *   `take`).
 * - **Work-conserving.** A tenant alone may use every worker: a free worker is never left idle
 *   while an eligible execution waits, whatever its tenant already holds.
 * - **Penalty.** An install whose executions keep ending in a costly way — the deadline (the worker
 *   is terminated and replaced), a crashed worker, the memory limit — `strikes` times within
 *   `penaltyMs` is on probation until `penaltyMs` after its latest such fault: at most one of its
 *   executions runs at a time — one for all of its tenant's installs on probation together, so a
 *   tenant cannot get around it with several hostile installs — even alone (so the other workers
 *   stay free for whoever comes next, with no deadline to wait out), and its executions start only
 *   when no other eligible execution waits.
 * - **Replacement is charged.** A worker terminated at a deadline (or crashed) takes time to start
 *   again; until it is ready the new worker counts as running for the tenant and install that
 *   caused it.
 *
 * Pure accounting, no timers: `now` is injected (tests drive it), and the pool calls
 * `started`/`finished`/`charge`/`discharge` as executions and workers come and go.
 */

export interface FairnessOptions {
  /** costly faults within `penaltyMs` that put an install on probation (0: never) */
  strikes: number;
  /** how long a costly fault counts, and how long probation lasts after the latest one (ms) */
  penaltyMs: number;
}

export const DEFAULT_FAIRNESS: Readonly<FairnessOptions> = { strikes: 2, penaltyMs: 60_000 };

/** Executions that may run at once of a tenant's installs on probation, all of them together. */
export const PENALISED_CONCURRENCY = 1;

/** How far into a tenant's queue `take` looks for an execution whose guest is warm on the worker. */
export const WARM_LOOKAHEAD = 8;

/** Who an execution belongs to: fairness is between tenants, the penalty is per install. */
export interface Owner {
  tenant: string;
  install: string;
}

interface Waiting<T> {
  item: T;
  owner: Owner;
  /** arrival order across all tenants */
  seq: number;
  /** `dispatched` when it arrived, and its own tenant's count then: see `Taken.overtakenBy` */
  dispatchedBefore: number;
  ownDispatchedBefore: number;
}

interface TenantState {
  running: number;
  waiting: Waiting<unknown>[];
  /** executions of this tenant started so far */
  dispatched: number;
}

interface InstallState {
  tenant: string;
  running: number;
  /** when its recent costly faults happened (`now()` ms), oldest first */
  strikes: number[];
  /** on probation until then (`now()` ms) */
  probationUntil: number;
}

export interface Taken<T> {
  item: T;
  owner: Owner;
  /** executions of other tenants started while this one waited */
  overtakenBy: number;
  /** the install was on probation when it started */
  penalised: boolean;
}

export class FairScheduler<T> {
  private readonly tenants = new Map<string, TenantState>();
  private readonly installs = new Map<string, InstallState>();
  private seq = 0;
  /** executions started so far, all tenants */
  private dispatched = 0;
  private waitingCount = 0;

  constructor(
    private readonly options: FairnessOptions = DEFAULT_FAIRNESS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Executions waiting, eligible or not. */
  get length(): number {
    return this.waitingCount;
  }

  /** Running executions (and charged replacement workers) of a tenant. */
  running(tenant: string): number {
    return this.tenants.get(tenant)?.running ?? 0;
  }

  /** Running executions (and charged replacement workers) of an install. */
  runningOf(install: string): number {
    return this.installs.get(install)?.running ?? 0;
  }

  /** The install is on probation now. */
  penalised(install: string): boolean {
    const state = this.installs.get(install);
    return state !== undefined && this.now() < state.probationUntil;
  }

  /** Installs on probation now. */
  penalisedInstalls(): string[] {
    return [...this.installs.keys()].filter((i) => this.penalised(i));
  }

  /**
   * Whether an execution of `owner` may start on a free worker now, without queueing: always,
   * unless its install is on probation and already has its one execution running. (A free worker
   * while something eligible waits does not happen: the pool starts waiting work as soon as a
   * worker frees.)
   */
  mayStart(owner: Owner): boolean {
    return !this.penalised(owner.install) || this.penalisedRunning(owner.tenant) < PENALISED_CONCURRENCY;
  }

  /** Running executions of a tenant's installs on probation (one install each, usually: few to count). */
  private penalisedRunning(tenant: string): number {
    let n = 0;
    for (const [name, install] of this.installs) if (install.tenant === tenant && install.running > 0 && this.penalised(name)) n += install.running;
    return n;
  }

  push(owner: Owner, item: T): void {
    const tenant = this.tenant(owner.tenant);
    tenant.waiting.push({ item, owner, seq: this.seq++, dispatchedBefore: this.dispatched, ownDispatchedBefore: tenant.dispatched } satisfies Waiting<T>);
    this.waitingCount++;
  }

  /**
   * The execution to start on a free worker, taken off the queue, or undefined when none may start
   * now (nothing waits, or only installs on probation that have their one execution running).
   * `warm`: the guest of an item is loaded on that worker — among the chosen tenant's first
   * WARM_LOOKAHEAD eligible executions, a warm one goes first. The caller then calls `started`.
   */
  take(warm?: (item: T) => boolean): Taken<T> | undefined {
    let best: { tenant: TenantState; head: Waiting<unknown>; penalised: boolean } | undefined;
    for (const tenant of this.tenants.values()) {
      // its oldest execution that may start, one of an install not on probation if there is one
      let head = tenant.waiting.find((w) => !this.penalised(w.owner.install));
      const penalised = !head;
      head ??= tenant.waiting.find((w) => this.mayStart(w.owner));
      if (!head) continue;
      // an unpenalised tenant's work first; then fewest running; then the oldest waiting
      const better = !best || (penalised !== best.penalised ? !penalised : tenant.running !== best.tenant.running ? tenant.running < best.tenant.running : head.seq < best.head.seq);
      if (better) best = { tenant, head, penalised };
    }
    if (!best) return undefined;
    const { tenant } = best;
    let chosen = best.head as Waiting<T>;
    if (warm) {
      let looked = 0;
      for (const w of tenant.waiting as Waiting<T>[]) {
        if (!this.mayStart(w.owner)) continue;
        if (this.penalised(w.owner.install) !== best.penalised) continue;
        if (warm(w.item)) {
          chosen = w;
          break;
        }
        if (++looked >= WARM_LOOKAHEAD) break;
      }
    }
    tenant.waiting.splice(tenant.waiting.indexOf(chosen), 1);
    this.waitingCount--;
    const overtakenBy = this.dispatched - chosen.dispatchedBefore - (tenant.dispatched - chosen.ownDispatchedBefore);
    return { item: chosen.item, owner: chosen.owner, overtakenBy, penalised: best.penalised };
  }

  /** An execution of `owner` started on a worker (from the queue or straight away). */
  started(owner: Owner): void {
    this.dispatched++;
    const tenant = this.tenant(owner.tenant);
    tenant.dispatched++;
    this.charge(owner);
  }

  /**
   * It ended; `costly`: by its deadline, a worker crash or the memory limit (a strike). True when
   * that strike put its install on probation (it was not before).
   */
  finished(owner: Owner, costly: boolean): boolean {
    this.discharge(owner);
    let probation = false;
    if (costly && this.options.strikes > 0) {
      const install = this.install(owner);
      install.strikes.push(this.now());
      this.forgetOldStrikes(install);
      if (install.strikes.length >= this.options.strikes) {
        probation = !this.penalised(owner.install);
        install.probationUntil = this.now() + this.options.penaltyMs;
      }
    }
    this.forget(owner);
    return probation;
  }

  /** A worker held for `owner` (a replacement starting after its execution's deadline) counts as running. */
  charge(owner: Owner): void {
    this.tenant(owner.tenant).running++;
    this.install(owner).running++;
  }

  discharge(owner: Owner): void {
    const tenant = this.tenants.get(owner.tenant);
    if (tenant) tenant.running--;
    const install = this.installs.get(owner.install);
    if (install) install.running--;
    this.forget(owner);
  }

  /** Everything waiting, taken off the queue (the pool is closing). */
  drainAll(): T[] {
    const out: T[] = [];
    for (const tenant of this.tenants.values()) for (const w of tenant.waiting.splice(0)) out.push(w.item as T);
    this.waitingCount = 0;
    return out;
  }

  private tenant(name: string): TenantState {
    let state = this.tenants.get(name);
    if (!state) {
      state = { running: 0, waiting: [], dispatched: 0 };
      this.tenants.set(name, state);
    }
    return state;
  }

  private install(owner: Owner): InstallState {
    const name = owner.install;
    let state = this.installs.get(name);
    if (!state) {
      state = { tenant: owner.tenant, running: 0, strikes: [], probationUntil: 0 };
      this.installs.set(name, state);
    }
    return state;
  }

  private forgetOldStrikes(state: InstallState): void {
    const since = this.now() - this.options.penaltyMs;
    while (state.strikes.length > 0 && state.strikes[0]! <= since) state.strikes.shift();
    // only the latest `strikes` matter
    while (state.strikes.length > this.options.strikes) state.strikes.shift();
  }

  /** An install that is gone: its strikes and probation with it (executions still running finish as they are). */
  pardon(install: string): void {
    const state = this.installs.get(install);
    if (!state) return;
    state.strikes = [];
    state.probationUntil = 0;
    if (state.running <= 0) this.installs.delete(install);
  }

  /** Drops the state of a tenant or install with nothing running, waiting or remembered. */
  private forget(owner: Owner): void {
    const tenant = this.tenants.get(owner.tenant);
    if (tenant && tenant.running <= 0 && tenant.waiting.length === 0) this.tenants.delete(owner.tenant);
    const install = this.installs.get(owner.install);
    if (install && install.running <= 0 && !this.penalised(owner.install)) {
      this.forgetOldStrikes(install);
      if (install.strikes.length === 0) this.installs.delete(owner.install);
    }
  }
}
