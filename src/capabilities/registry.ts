/**
 * The capability registry: which module serves which WIT function, and the one place where grants
 * are checked, denials counted and failures contained (DESIGN.md §2, §4).
 */
import type { Capability, CapabilityName, DeniedAnswer, ExecutionServices, HostResult, InstallView, InterfaceImpl } from './capability.js';
import type { ExecutionContext } from '../engine/execution-context.js';

export type CallOutcome = 'ok' | 'error' | 'denied' | 'dropped' | 'failed';

/** Metrics hook (issue #4 item 10): every call, by capability, function and outcome, with latency. */
export interface CapabilityCallObserver {
  onCall(capability: CapabilityName, fn: string, outcome: CallOutcome, seconds: number): void;
}

interface Entry {
  capability: Capability<unknown, unknown>;
  impl: InterfaceImpl<unknown, unknown>;
  fn: NonNullable<InterfaceImpl<unknown, unknown>['functions'][string]>;
  denied: DeniedAnswer | undefined;
}

/** Per-execution view the registry needs: who is calling, what is granted, where to log. */
export interface CallScope {
  readonly ctx: ExecutionContext;
  readonly install: InstallView;
  readonly grants: ReadonlySet<CapabilityName>;
  readonly services: ExecutionServices;
  /** per-capability state for this execution, built on first use */
  readonly states: Map<CapabilityName, { config: unknown; state: unknown }>;
}

export type InvokeResult = HostResult | { kind: 'dropped' } | { kind: 'failed'; message: string };

export class CapabilityRegistry {
  private readonly byFunction = new Map<string, Entry>();
  private readonly capabilities = new Map<CapabilityName, Capability<unknown, unknown>>();

  constructor(private readonly observer?: CapabilityCallObserver) {}

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

  async invoke(scope: CallScope, iface: string, fnName: string, args: readonly unknown[]): Promise<InvokeResult> {
    const entry = this.byFunction.get(`${iface}#${fnName}`);
    if (!entry) return { kind: 'failed', message: `no capability serves ${iface}#${fnName}` };
    const { capability } = entry;
    const started = performance.now();
    const observe = (outcome: CallOutcome) => this.observer?.onCall(capability.name, fnName, outcome, (performance.now() - started) / 1000);

    if (!scope.grants.has(capability.name)) {
      scope.services.noteDenied(capability.name, `${iface}#${fnName}`, `${capability.name} is not granted`);
      const answer = entry.denied;
      if (answer === undefined || answer === 'drop') {
        observe('dropped');
        return { kind: 'dropped' };
      }
      observe('denied');
      return typeof answer === 'function' ? answer(scope.ctx) : answer;
    }

    try {
      let prepared = scope.states.get(capability.name);
      if (!prepared) {
        const config = capability.configure(scope.install);
        prepared = { config, state: capability.prepare(scope.ctx, config) };
        scope.states.set(capability.name, prepared);
      }
      const result = await entry.fn({ args, ctx: scope.ctx, config: prepared.config, state: prepared.state, services: scope.services });
      observe(result.kind === 'err' ? 'error' : 'ok');
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      scope.services.log('error', `${iface}#${fnName} failed: ${message}`);
      observe('failed');
      if (entry.impl.onFailure) return entry.impl.onFailure;
      return { kind: 'failed', message: `${iface}#${fnName} failed` };
    }
  }
}
