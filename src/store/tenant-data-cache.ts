/**
 * Answers of the embedded tenant-data backend (lists and reads by id of clients and services),
 * kept per tenant until the change feed says the tenant's data was replaced — by this process or,
 * on PostgreSQL, any other (a replace is published like an install change: change-feed.ts, with
 * the counter's re-check as the backstop for a lost notification) — or that everything changed.
 * A read during which a change was heard is answered but not kept. Only successful answers are
 * kept; the most recently used `maxEntries` of them.
 */
import type { ChangeFeed } from './change-feed.js';
import type { TenantDataResult } from './tenant-data-model.js';

const DEFAULT_MAX_ENTRIES = 2_048;

/** One tenant's kept answers. A read holds its tenant's bucket: a replace heard meanwhile removes the bucket, and the read keeps nothing. */
interface Bucket {
  readonly keys: Set<string>;
}

export interface TenantDataCacheStats {
  hits: number;
  misses: number;
}

export class TenantDataReadCache {
  readonly stats: TenantDataCacheStats = { hits: 0, misses: 0 };
  /** every kept answer by tenant and question, least recently used first */
  private readonly answers = new Map<string, { readonly tenantId: string; readonly result: TenantDataResult<unknown> }>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    feed: Pick<ChangeFeed, 'subscribe'>,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {
    feed.subscribe((change) => {
      if (change.kind === 'everything') for (const [tenantId, bucket] of this.buckets) this.forget(tenantId, bucket);
      else if (change.kind === 'tenant-data') {
        const bucket = this.buckets.get(change.tenantId);
        if (bucket) this.forget(change.tenantId, bucket);
      }
    });
  }

  /** `question` names what is asked (which list, its filters and page; or which record), the same words for the same question. */
  async read<T>(tenantId: string, question: string, load: () => Promise<TenantDataResult<T>>): Promise<TenantDataResult<T>> {
    const id = `${tenantId}\u0000${question}`;
    const kept = this.answers.get(id);
    if (kept) {
      this.stats.hits++;
      this.answers.delete(id);
      this.answers.set(id, kept);
      return kept.result as TenantDataResult<T>;
    }
    this.stats.misses++;
    let bucket = this.buckets.get(tenantId);
    if (!bucket) {
      bucket = { keys: new Set() };
      this.buckets.set(tenantId, bucket);
    }
    try {
      const result = await load();
      if (result.ok && this.buckets.get(tenantId) === bucket) {
        this.answers.set(id, { tenantId, result });
        bucket.keys.add(id);
        this.evict();
      }
      return result;
    } finally {
      if (bucket.keys.size === 0 && this.buckets.get(tenantId) === bucket) this.buckets.delete(tenantId);
    }
  }

  private forget(tenantId: string, bucket: Bucket): void {
    for (const id of bucket.keys) this.answers.delete(id);
    bucket.keys.clear();
    this.buckets.delete(tenantId);
  }

  private evict(): void {
    for (const [id, { tenantId }] of this.answers) {
      if (this.answers.size <= this.maxEntries) return;
      this.answers.delete(id);
      const bucket = this.buckets.get(tenantId);
      bucket?.keys.delete(id);
      if (bucket && bucket.keys.size === 0) this.buckets.delete(tenantId);
    }
  }
}
