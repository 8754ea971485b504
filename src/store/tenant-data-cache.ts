/**
 * Answers of the embedded tenant-data backend (lists and reads by id of clients and services),
 * kept per tenant until the change feed says the tenant's data was replaced — by this process or,
 * on PostgreSQL, any other (a replace is published like an install change: change-feed.ts, with
 * the counter's re-check as the backstop for a lost notification) — or that everything changed
 * (read-cache.ts). Only successful answers are kept.
 */
import type { ChangeFeed } from './change-feed.js';
import { ScopedReadCache } from './read-cache.js';
import type { TenantDataResult } from './tenant-data-model.js';

export class TenantDataReadCache {
  private readonly cache: ScopedReadCache<TenantDataResult<unknown>>;

  constructor(feed: Pick<ChangeFeed, 'subscribe'>, maxEntries = 2_048) {
    this.cache = new ScopedReadCache(feed, (c) => (c.kind === 'tenant-data' ? c.tenantId : null), { maxEntries, keep: (r) => r.ok });
  }

  get stats() {
    return this.cache.stats;
  }

  read<T>(tenantId: string, question: string, load: () => Promise<TenantDataResult<T>>): Promise<TenantDataResult<T>> {
    return this.cache.read(tenantId, question, load) as Promise<TenantDataResult<T>>;
  }
}
