/**
 * Backpressure: at most `perTenant` executions of one tenant are admitted at once;
 * up to `tenantQueue` more wait in order; past that a tenant gets 429. Across tenants at most
 * `globalQueue` wait; past that everyone gets 503. Admitted executions may still wait for a worker:
 * the pool shares its workers fairly between tenants (src/engine/fair-scheduler.ts), which is what
 * keeps one noisy tenant — `perTenant` is above the worker count — from starving the others.
 */
export type Admission = { kind: 'admitted'; release: () => void } | { kind: 'rejected'; reason: 'tenant_busy' | 'overloaded' };

interface TenantState {
  running: number;
  waiting: (() => void)[];
}

export class AdmissionControl {
  private readonly tenants = new Map<string, TenantState>();
  private waitingTotal = 0;

  constructor(private readonly limits: { perTenant: number; tenantQueue: number; globalQueue: number }) {}

  get queued(): number {
    return this.waitingTotal;
  }

  async admit(tenant: string): Promise<Admission> {
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
    if (this.waitingTotal >= this.limits.globalQueue) return { kind: 'rejected', reason: 'overloaded' };
    this.waitingTotal++;
    const s = state;
    await new Promise<void>((resolve) => s.waiting.push(resolve));
    this.waitingTotal--;
    return { kind: 'admitted', release: this.releaser(tenant, s) };
  }

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
