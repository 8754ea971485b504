/**
 * The capability registry: which module serves which WIT function, and the one place where grants
 * are checked, denials counted and failures contained.
 */
import type { Capability, DeniedAnswer, InterfaceImpl } from './capability.js';
import {
  DROPPED_ANSWER,
  type CapabilityHost,
  type CapabilityName,
  type ExecutionView,
  type HostResult,
  type InWorkerCall,
  type InvokeResult,
  type LocalPlan,
  type WorkerCallRecord,
  type WorkerSideSpec,
  type WorkerStoreSpec,
} from '../contract/index.js';

export type CallOutcome = 'ok' | 'error' | 'denied' | 'dropped' | 'failed';

/** Metrics hook: every call, by capability, function and outcome, with latency. */
export interface CapabilityCallObserver {
  onCall(capability: CapabilityName, fn: string, outcome: CallOutcome, seconds: number): void;
}

interface Entry {
  capability: Capability<unknown, unknown>;
  impl: InterfaceImpl<unknown, unknown>;
  fn: NonNullable<InterfaceImpl<unknown, unknown>['functions'][string]>;
  denied: DeniedAnswer | undefined;
}

/** An ungranted call with no denied answer (or `drop`) is dropped: no effect, it returns nothing. */
function isDropped(denied: DeniedAnswer | undefined): denied is 'drop' | undefined {
  return denied === undefined || denied === 'drop';
}

/** How an ungranted call of `entry` is counted. */
function deniedOutcome(entry: Entry): 'denied' | 'dropped' {
  return isDropped(entry.denied) ? 'dropped' : 'denied';
}

interface Deliveries {
  perExecution: [string, Entry][];
  oneWay: string[];
  inWorker: [string, Entry][];
}

export class CapabilityRegistry implements CapabilityHost {
  private readonly byFunction = new Map<string, Entry>();
  private readonly capabilities = new Map<CapabilityName, Capability<unknown, unknown>>();

  /** `store`: the embedded store the worker sides read (createCapabilityRegistry; null: no worker may read one) */
  constructor(
    private readonly observer?: CapabilityCallObserver,
    private readonly store: WorkerStoreSpec | null = null,
  ) {}

  register<C, S>(capability: Capability<C, S>): this {
    const cap = capability as unknown as Capability<unknown, unknown>;
    if (this.capabilities.has(cap.name)) throw new Error(`capability ${cap.name} registered twice`);
    this.capabilities.set(cap.name, cap);
    for (const impl of cap.interfaces) {
      for (const [fnName, fn] of Object.entries(impl.functions)) {
        const key = `${impl.name}#${fnName}`;
        if (this.byFunction.has(key)) throw new Error(`${key} is served by two capabilities`);
        this.byFunction.set(key, { capability: cap, impl, fn, denied: impl.denied[fnName] });
      }
    }
    return this;
  }

  /** Every capability name known to this runner (for manifest and grant validation). */
  names(): CapabilityName[] {
    return [...this.capabilities.keys()];
  }

  /** `iface#fn` pairs a component imports that no capability serves. */
  unserved(importedFunctions: Record<string, string[]>): string[] {
    const missing: string[] = [];
    for (const [iface, fns] of Object.entries(importedFunctions)) {
      if (!iface.startsWith('alga:extension/')) continue;
      for (const fn of fns) if (!this.byFunction.has(`${iface}#${fn}`)) missing.push(`${iface}#${fn}`);
    }
    return missing;
  }

  /** The worker sides every guest worker opens when it starts (capabilities with `worker`). */
  workerSides(): WorkerSideSpec[] {
    const sides: WorkerSideSpec[] = [];
    for (const cap of this.capabilities.values()) if (cap.worker) sides.push({ capability: cap.name, module: cap.worker.module, init: cap.worker.init });
    return sides;
  }

  /** The store every guest worker opens once, read-only, for the worker sides to read (null: none may). */
  workerStore(): WorkerStoreSpec | null {
    return this.store;
  }

  /** The local plan of an execution, for the functions its component imports. */
  localPlan(execution: ExecutionView, importedFunctions: Readonly<Record<string, readonly string[]>>): LocalPlan {
    const { perExecution, oneWay, inWorker } = this.deliveries(importedFunctions);
    const answers: Record<string, HostResult> = {};
    for (const [key, entry] of perExecution) {
      const answer = this.answerOnce(execution, entry);
      if (answer) answers[key] = answer;
    }
    const workerCalls: Record<string, InWorkerCall> = {};
    for (const [key, entry] of inWorker) {
      if (!execution.grants.has(entry.capability.name)) answers[key] = this.deniedAnswer(execution, entry);
      else workerCalls[key] = { config: this.prepared(execution, entry.capability).config, onFailure: entry.impl.onFailure ?? null };
    }
    return { answers, oneWay, inWorker: workerCalls };
  }

  /** The imported functions that skip round trips, worked out once per component (its import list object). */
  private readonly deliveryCache = new WeakMap<object, Deliveries>();

  private deliveries(importedFunctions: Readonly<Record<string, readonly string[]>>): Deliveries {
    let found = this.deliveryCache.get(importedFunctions);
    if (found) return found;
    found = { perExecution: [], oneWay: [], inWorker: [] };
    for (const [iface, fns] of Object.entries(importedFunctions)) {
      for (const fnName of fns) {
        const key = `${iface}#${fnName}`;
        const entry = this.byFunction.get(key);
        const delivery = entry?.impl.delivery?.[fnName];
        if (!entry || !delivery || delivery === 'round-trip') continue;
        if (delivery === 'one-way') found.oneWay.push(key);
        else if (delivery === 'per-execution') found.perExecution.push([key, entry]);
        // without a worker side for this runner's backend, an in-worker function is a round trip
        else if (entry.capability.worker) found.inWorker.push([key, entry]);
      }
    }
    this.deliveryCache.set(importedFunctions, found);
    return found;
  }

  /**
   * Accounts for calls a worker answered from the plan: counted, observed and denials noted
   * exactly as if each had made the round trip. `workerCalls`: the in-worker functions it ran.
   */
  recordLocal(execution: ExecutionView, plan: LocalPlan, counts: Readonly<Record<string, number>>, workerCalls: readonly WorkerCallRecord[]): void {
    for (const call of workerCalls) {
      const entry = this.byFunction.get(call.key);
      if (!entry || !plan.inWorker[call.key]) continue;
      this.observer?.onCall(entry.capability.name, call.key.slice(call.key.indexOf('#') + 1), call.outcome, call.seconds);
    }
    for (const [key, n] of Object.entries(counts)) {
      const entry = this.byFunction.get(key);
      const answer = plan.answers[key];
      if (!entry || !answer) continue;
      const fnName = key.slice(key.indexOf('#') + 1);
      const granted = execution.grants.has(entry.capability.name);
      const outcome: CallOutcome = !granted ? deniedOutcome(entry) : answer.kind === 'err' ? 'error' : 'ok';
      for (let i = 0; i < n; i++) {
        if (!granted) execution.services.noteDenied(entry.capability.name, key, `${entry.capability.name} is not granted`);
        this.observer?.onCall(entry.capability.name, fnName, outcome, 0);
      }
    }
  }

  /** A per-execution answer, or null to leave the function to round trips (which report failures). */
  private answerOnce(execution: ExecutionView, entry: Entry): HostResult | null {
    if (!execution.grants.has(entry.capability.name)) return this.deniedAnswer(execution, entry);
    try {
      const prepared = this.prepared(execution, entry.capability);
      const result = entry.fn({ args: [], ctx: execution.ctx, config: prepared.config, state: prepared.state, services: execution.services });
      if (result instanceof Promise) {
        // declared per-execution but async: a mistake in the module; round trips still serve it
        result.catch(() => {});
        return null;
      }
      return result;
    } catch {
      return null; // the round trip runs it again and reports the failure as usual
    }
  }

  /**
   * What an ungranted function answers — the one place a denied answer is made, for round trips
   * (invoke) and for the worker's plan (localPlan) alike. A dropped call returns nothing.
   */
  private deniedAnswer(execution: ExecutionView, entry: Entry): HostResult {
    const answer = entry.denied;
    if (isDropped(answer)) return DROPPED_ANSWER;
    return typeof answer === 'function' ? answer(execution.ctx) : answer;
  }

  private prepared(execution: ExecutionView, capability: Capability<unknown, unknown>): { config: unknown; state: unknown } {
    let prepared = execution.states.get(capability.name);
    if (!prepared) {
      const config = capability.configure(execution.install);
      prepared = { config, state: capability.prepare(execution.ctx, config) };
      execution.states.set(capability.name, prepared);
    }
    return prepared;
  }

  async invoke(execution: ExecutionView, iface: string, fnName: string, args: readonly unknown[]): Promise<InvokeResult> {
    const entry = this.byFunction.get(`${iface}#${fnName}`);
    if (!entry) return { kind: 'failed', message: `no capability serves ${iface}#${fnName}` };
    const { capability } = entry;
    const started = performance.now();
    const observe = (outcome: CallOutcome) => this.observer?.onCall(capability.name, fnName, outcome, (performance.now() - started) / 1000);

    if (!execution.grants.has(capability.name)) {
      execution.services.noteDenied(capability.name, `${iface}#${fnName}`, `${capability.name} is not granted`);
      const outcome = deniedOutcome(entry);
      observe(outcome);
      return outcome === 'dropped' ? { kind: 'dropped' } : this.deniedAnswer(execution, entry);
    }

    try {
      if (capability.leavesRunner) await execution.services.durable?.();
      const prepared = this.prepared(execution, capability);
      const result = await entry.fn({ args, ctx: execution.ctx, config: prepared.config, state: prepared.state, services: execution.services });
      observe(result.kind === 'err' ? 'error' : 'ok');
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      execution.services.log('error', `${iface}#${fnName} failed: ${message}`);
      observe('failed');
      if (entry.impl.onFailure) return entry.impl.onFailure;
      return { kind: 'failed', message: `${iface}#${fnName} failed` };
    }
  }
}
