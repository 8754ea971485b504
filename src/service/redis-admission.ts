/**
 * Per-tenant admission shared by every replica through Redis (`RUNNER_REDIS_URL`): at most
 * `perTenant` executions of a tenant run across all replicas, `tenantQueue` more wait, in arrival
 * order across replicas; past that 429. The global queue (503) stays per replica: it protects this
 * process's memory, not a tenant's share.
 *
 * Each admitted execution and each waiter is a token in Redis with a lease
 * (`RUNNER_LIMITER_LEASE_MS`), renewed by its process every `tickMs`: a replica that dies holding
 * slots or queue places gives them back when the lease runs out — nothing is leaked for longer.
 * A slot freed is announced on a pub/sub channel, and the replicas with waiters of that tenant
 * claim it at once; every `tickMs` they also check without being told (a missed message, a dead
 * holder's lease running out). Decisions are Lua scripts (redis-admission-scripts.ts).
 *
 * Redis unreachable (down, or a command not answered within `commandTimeoutMs`): this replica
 * falls back to its own per-replica limits (`AdmissionControl`) until Redis answers again, and
 * says so (scope `replica` in /metrics, a warning in the log, the fallback counter). Requests never
 * wait on Redis for longer than the command timeout; waiters move to the local limiter within a tick.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AdmissionControl, type Admission, type AdmissionLimiter, type AdmissionLimits, type AdmissionScope, type AdmitHooks } from './admission.js';
import { ACQUIRE, CLAIM, LEAVE, RENEW } from './redis-admission-scripts.js';

export interface RedisAdmissionOptions {
  url: string;
  /** prefix of every key and of the channel: replicas sharing limits share it; deployments sharing a Redis do not */
  prefix: string;
  limits: AdmissionLimits;
  /** how long a slot or queue place outlives its process's last renewal */
  leaseMs: number;
  /** how often leases are renewed and waiters check without a wake-up (default: a third of the lease, at most 1 s) */
  tickMs?: number;
  /** a Redis command not answered by then counts as Redis unreachable (default 1 s) */
  commandTimeoutMs?: number;
}

export type RedisAdmissionEvent =
  | { kind: 'redis_down'; cause: string }
  | { kind: 'redis_up' }
  /** a slot or queue place of this process expired before it was renewed (the process stalled past the lease) */
  | { kind: 'lease_lost'; tenant: string; holding: boolean };

/** How long after a failed command admissions go to the local limiter without trying Redis. */
const RETRY_AFTER_FAILURE_MS = 1000;

interface Waiter {
  token: string;
  resolve: (admission: Admission) => void;
}

interface AdmissionCommands {
  admissionAcquire(slots: string, queue: string, qexp: string, ...args: (string | number)[]): Promise<string>;
  admissionClaim(slots: string, queue: string, qexp: string, ...args: (string | number)[]): Promise<[string[], string[], string[]]>;
  admissionLeave(slots: string, queue: string, qexp: string, ...args: (string | number)[]): Promise<number>;
  admissionRenew(slots: string, qexp: string, ...args: (string | number)[]): Promise<string[]>;
}

export class RedisAdmission implements AdmissionLimiter {
  /** told about Redis becoming unreachable or reachable again, and about lost leases (the app logs them) */
  onEvent: ((event: RedisAdmissionEvent) => void) | null = null;
  /** admissions this replica decided alone because Redis could not be reached */
  fallbacks = 0;

  private readonly commands: Redis & AdmissionCommands;
  private readonly subscriber: Redis;
  private readonly fallback: AdmissionControl;
  private readonly channel: string;
  private readonly leaseMs: number;
  private readonly timer: NodeJS.Timeout;
  /** slots held by this process: token → tenant */
  private readonly held = new Map<string, string>();
  /** this process's waiters in Redis queues, per tenant, in arrival order */
  private readonly waiting = new Map<string, Waiter[]>();
  private waitingCount = 0;
  /** admissions between deciding they may queue and Redis's answer (counted against the global queue) */
  private reserved = 0;
  /** tenants with a claim in flight, and whether another was asked for meanwhile */
  private readonly claiming = new Map<string, { again: boolean }>();
  private reachable = false;
  private failedAt = -Infinity;
  private closed = false;

  constructor(private readonly options: RedisAdmissionOptions) {
    this.leaseMs = options.leaseMs;
    this.channel = `${options.prefix}wake`;
    this.fallback = new AdmissionControl(options.limits, () => this.waitingCount + this.reserved);
    const common = { connectTimeout: 2000, retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000), lazyConnect: false };
    // no offline queue: while Redis is away a command fails at once instead of waiting for a reconnect
    this.commands = new Redis(options.url, { ...common, enableOfflineQueue: false, commandTimeout: options.commandTimeoutMs ?? 1000, maxRetriesPerRequest: 0 }) as Redis & AdmissionCommands;
    this.commands.defineCommand('admissionAcquire', { numberOfKeys: 3, lua: ACQUIRE });
    this.commands.defineCommand('admissionClaim', { numberOfKeys: 3, lua: CLAIM });
    this.commands.defineCommand('admissionLeave', { numberOfKeys: 3, lua: LEAVE });
    this.commands.defineCommand('admissionRenew', { numberOfKeys: 2, lua: RENEW });
    this.commands.on('ready', () => this.markReachable());
    this.commands.on('error', (e: Error) => this.markUnreachable(e));
    this.commands.on('close', () => this.markUnreachable(new Error('connection closed')));
    // a subscriber connection subscribes again by itself after a reconnect
    this.subscriber = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined); // reported through the command connection
    this.subscriber.on('message', (_channel: string, tenant: string) => this.claim(tenant));
    this.subscriber.subscribe(this.channel).catch(() => undefined);
    const tickMs = options.tickMs ?? Math.min(1000, Math.floor(options.leaseMs / 3));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  get scope(): AdmissionScope {
    return this.usable() ? 'global' : 'replica';
  }

  get queued(): number {
    return this.waitingCount + this.reserved + this.fallback.queued;
  }

  /** Resolves when both connections are up (true), or after `timeoutMs` (false): a start does not wait longer for Redis. */
  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.commands.status === 'ready' && this.subscriber.status === 'ready') return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  async admit(tenant: string, hooks?: AdmitHooks): Promise<Admission> {
    if (!this.usable()) return this.admitLocally(tenant, hooks);
    const token = randomUUID();
    const mayQueue = this.queued < this.options.limits.globalQueue;
    if (mayQueue) this.reserved++;
    let answer: string;
    try {
      answer = await this.commands.admissionAcquire(...this.keys(tenant), token, this.leaseMs, this.options.limits.perTenant, this.options.limits.tenantQueue, mayQueue ? 1 : 0, this.channel, tenant);
    } catch (e) {
      this.markUnreachable(e);
      // the script may have run with its answer lost: take the token back when Redis answers again, else its lease ends it
      this.leave(tenant, token);
      return this.admitLocally(tenant, hooks);
    } finally {
      if (mayQueue) this.reserved--;
    }
    this.markReachable();
    switch (answer) {
      case 'admitted':
        this.held.set(token, tenant);
        return { kind: 'admitted', release: this.releaser(tenant, token) };
      case 'busy':
        return { kind: 'rejected', reason: 'tenant_busy' };
      case 'overloaded':
        return { kind: 'rejected', reason: 'overloaded' };
      default: {
        const admitted = new Promise<Admission>((resolve) => this.addWaiter(tenant, { token, resolve }));
        hooks?.onQueued?.();
        // slots are free with waiters ahead that have not taken them: ours may be among them
        if (answer === 'queued_free') this.claim(tenant);
        return admitted;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    // waiters left (none after a drain) go on under the local limits
    for (const tenant of [...this.waiting.keys()]) this.moveToLocal(tenant);
    const tokens = [...this.held].map(([token, tenant]) => this.commands.admissionLeave(...this.keys(tenant), token, this.channel, tenant).catch(() => undefined));
    await Promise.race([Promise.all(tokens), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  private keys(tenant: string): [string, string, string] {
    const base = `${this.options.prefix}tenant:${tenant}:`;
    return [`${base}slots`, `${base}queue`, `${base}qexp`];
  }

  private usable(): boolean {
    return !this.closed && this.commands.status === 'ready' && Date.now() - this.failedAt >= RETRY_AFTER_FAILURE_MS;
  }

  private admitLocally(tenant: string, hooks?: AdmitHooks): Promise<Admission> {
    this.fallbacks++;
    return this.fallback.admit(tenant, hooks);
  }

  private releaser(tenant: string, token: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(token);
      this.leave(tenant, token);
    };
  }

  /** Gives a slot or queue place back (best effort: when Redis cannot be reached, the lease ends it). */
  private leave(tenant: string, token: string): void {
    this.commands.admissionLeave(...this.keys(tenant), token, this.channel, tenant).then(
      () => this.markReachable(),
      (e: unknown) => this.markUnreachable(e),
    );
  }

  private addWaiter(tenant: string, waiter: Waiter): void {
    let list = this.waiting.get(tenant);
    if (!list) this.waiting.set(tenant, (list = []));
    list.push(waiter);
    this.waitingCount++;
  }

  private takeWaiter(tenant: string, token: string): Waiter | undefined {
    const list = this.waiting.get(tenant);
    const at = list?.findIndex((w) => w.token === token) ?? -1;
    if (!list || at < 0) return undefined;
    const [waiter] = list.splice(at, 1);
    this.waitingCount--;
    if (list.length === 0) this.waiting.delete(tenant);
    return waiter;
  }

  /** This process's waiters of a tenant try to take free slots; one claim per tenant at a time, repeated when asked again meanwhile. */
  private claim(tenant: string): void {
    if (!this.waiting.has(tenant)) return;
    const running = this.claiming.get(tenant);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.claiming.set(tenant, state);
    void (async () => {
      try {
        do {
          state.again = false;
          await this.claimOnce(tenant);
        } while (state.again && this.waiting.has(tenant));
      } finally {
        this.claiming.delete(tenant);
      }
    })();
  }

  private async claimOnce(tenant: string): Promise<void> {
    const tokens = (this.waiting.get(tenant) ?? []).map((w) => w.token);
    if (tokens.length === 0) return;
    if (!this.usable()) return this.moveToLocal(tenant);
    let answer: [string[], string[], string[]];
    try {
      answer = await this.commands.admissionClaim(...this.keys(tenant), this.leaseMs, this.options.limits.perTenant, this.options.limits.tenantQueue, ...tokens);
    } catch (e) {
      this.markUnreachable(e);
      return this.moveToLocal(tenant);
    }
    this.markReachable();
    const [admitted, requeued, lost] = answer;
    for (const token of admitted) {
      const waiter = this.takeWaiter(tenant, token);
      if (waiter) {
        this.held.set(token, tenant);
        waiter.resolve({ kind: 'admitted', release: this.releaser(tenant, token) });
      } else this.leave(tenant, token); // its waiter moved to the local limiter meanwhile
    }
    for (const _ of requeued) this.onEvent?.({ kind: 'lease_lost', tenant, holding: false });
    for (const token of lost) {
      this.onEvent?.({ kind: 'lease_lost', tenant, holding: false });
      this.takeWaiter(tenant, token)?.resolve({ kind: 'rejected', reason: 'tenant_busy' });
    }
  }

  /** Redis went away with waiters in its queues: they wait under the local limits instead. */
  private moveToLocal(tenant: string): void {
    for (const waiter of [...(this.waiting.get(tenant) ?? [])]) {
      this.takeWaiter(tenant, waiter.token);
      this.leave(tenant, waiter.token);
      this.fallbacks++;
      void this.fallback.admit(tenant).then(waiter.resolve);
    }
  }

  /** Renews this process's leases and lets every waiter check for a slot (a backstop for missed wake-ups and expired holders). */
  private tick(): void {
    if (!this.usable()) {
      for (const tenant of [...this.waiting.keys()]) this.moveToLocal(tenant);
      return;
    }
    const byTenant = new Map<string, { tokens: string[]; holding: Set<string> }>();
    const entry = (tenant: string) => {
      let e = byTenant.get(tenant);
      if (!e) byTenant.set(tenant, (e = { tokens: [], holding: new Set() }));
      return e;
    };
    for (const [token, tenant] of this.held) {
      const e = entry(tenant);
      e.tokens.push(token);
      e.holding.add(token);
    }
    for (const [tenant, list] of this.waiting) for (const w of list) entry(tenant).tokens.push(w.token);
    for (const [tenant, { tokens, holding }] of byTenant) {
      const [slots, , qexp] = this.keys(tenant);
      this.commands.admissionRenew(slots, qexp, this.leaseMs, ...tokens).then(
        (lost) => {
          for (const token of lost) if (holding.has(token) && this.held.has(token)) this.onEvent?.({ kind: 'lease_lost', tenant, holding: true });
        },
        (e: unknown) => this.markUnreachable(e),
      );
    }
    for (const tenant of [...this.waiting.keys()]) this.claim(tenant);
  }

  private markReachable(): void {
    if (this.reachable || this.closed) return;
    this.reachable = true;
    this.onEvent?.({ kind: 'redis_up' });
  }

  private markUnreachable(e: unknown): void {
    this.failedAt = Date.now();
    if (!this.reachable || this.closed) return;
    this.reachable = false;
    this.onEvent?.({ kind: 'redis_down', cause: e instanceof Error ? e.message : String(e) });
  }
}
