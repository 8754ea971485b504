/**
 * Backpressure: at most `perTenant` executions of one tenant are admitted at once;
 * up to `tenantQueue` more wait in order; past that a tenant gets 429. Across tenants at most
 * `globalQueue` wait; past that everyone gets 503. Admitted executions may still wait for a worker:
 * the pool shares its workers fairly between tenants (src/engine/fair-scheduler.ts), which is what
 * keeps one noisy tenant — `perTenant` is above the worker count — from starving the others.
 *
 * Two limiters keep these rules behind one interface (`AdmissionLimiter`): `AdmissionControl`
 * below counts in this process only (scope `replica`), `RedisAdmission` (redis-admission.ts) keeps
 * the per-tenant counts in Redis so they hold across every replica (scope `global`). The executor
 * does not know which one it has.
 */
export type Admission = { kind: 'admitted'; release: () => void } | { kind: 'rejected'; reason: 'tenant_busy' | 'overloaded' };

export interface AdmissionLimits {
  perTenant: number;
  tenantQueue: number;
  globalQueue: number;
}

/** Where the per-tenant limits hold: in this process only, or across every replica sharing the Redis. */
export type AdmissionScope = 'replica' | 'global';

export interface AdmitHooks {
  /** called once when the request has to wait for a slot (not when it is admitted or refused at once) */
  onQueued?: () => void;
}

export interface AdmissionLimiter {
  /** where the per-tenant limits hold right now (a Redis limiter that cannot reach Redis says `replica`) */
  readonly scope: AdmissionScope;
  /** executions of this process waiting for a slot */
  readonly queued: number;
  /** resolves once the execution may run (call `release` when it ends, whatever the outcome) or is refused */
  admit(tenant: string, hooks?: AdmitHooks): Promise<Admission>;
  close(): Promise<void>;
}

interface TenantState {
  running: number;
  waiting: (() => void)[];
}

/** The limits counted in this process: scope `replica`. */
export class AdmissionControl implements AdmissionLimiter {
  readonly scope = 'replica';
  private readonly tenants = new Map<string, TenantState>();
  private waitingTotal = 0;

  /** `othersWaiting`: waiters this process keeps elsewhere (a Redis limiter's), counted against the global queue too */
  constructor(
    private readonly limits: AdmissionLimits,
    private readonly othersWaiting: () => number = () => 0,
  ) {}

  get queued(): number {
    return this.waitingTotal;
  }

  async admit(tenant: string, hooks?: AdmitHooks): Promise<Admission> {
    let state = this.tenants.get(tenant);
    if (!state) {
      state = { running: 0, waiting: [] };
      this.tenants.set(tenant, state);
    }
    if (state.running < this.limits.perTenant) {
      state.running++;
      return { kind: 'admitted', release: this.releaser(tenant, state) };
    }
    if (state.waiting.length >= this.limits.tenantQueue) return { kind: 'rejected', reason: 'tenant_busy' };
    if (this.waitingTotal + this.othersWaiting() >= this.limits.globalQueue) return { kind: 'rejected', reason: 'overloaded' };
    this.waitingTotal++;
    const s = state;
    const waited = new Promise<void>((resolve) => s.waiting.push(resolve));
    hooks?.onQueued?.();
    await waited;
    this.waitingTotal--;
    return { kind: 'admitted', release: this.releaser(tenant, s) };
  }

  async close(): Promise<void> {}

  private releaser(tenant: string, state: TenantState): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = state.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else {
        state.running--;
        if (state.running === 0) this.tenants.delete(tenant);
      }
    };
  }
}
