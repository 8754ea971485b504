/**
 * Answers kept per scope (an install, a tenant) until the change feed names that scope or says
 * everything changed — the rule of the store's read caches (secrets.ts, tenant-data-cache.ts;
 * docs/architecture.md, "Reads on PostgreSQL"). A read during which its scope changed is answered
 * but not kept. The most recently used `maxEntries` answers are kept.
 */
import type { Change, ChangeFeed } from './change-feed.js';

/** One scope's kept answers. A read holds its scope's bucket: a change heard meanwhile removes the bucket, and the read keeps nothing. */
interface Bucket {
  readonly keys: Set<string>;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
}

export interface ScopedReadCacheOptions<V> {
  /** answers kept (default 2 048) */
  readonly maxEntries?: number;
  /** which answers are kept (default all) */
  readonly keep?: (value: V) => boolean;
}

export class ScopedReadCache<V> {
  readonly stats: ReadCacheStats = { hits: 0, misses: 0 };
  /** every kept answer by scope and question, least recently used first */
  private readonly answers = new Map<string, { readonly scope: string; readonly value: V }>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxEntries: number;
  private readonly keep: (value: V) => boolean;

  /** `scopeOf`: the scope a change names, or null when the change is not about what this cache keeps. */
  constructor(feed: Pick<ChangeFeed, 'subscribe'>, scopeOf: (change: Change) => string | null, options: ScopedReadCacheOptions<V> = {}) {
    this.maxEntries = options.maxEntries ?? 2_048;
    this.keep = options.keep ?? (() => true);
    feed.subscribe((change) => {
      if (change.kind === 'everything') for (const [scope, bucket] of this.buckets) this.forget(scope, bucket);
      else {
        const scope = scopeOf(change);
        const bucket = scope === null ? undefined : this.buckets.get(scope);
        if (bucket) this.forget(scope!, bucket);
      }
    });
  }

  /** `question` names what is asked within the scope, the same words for the same question. */
  async read(scope: string, question: string, load: () => Promise<V>): Promise<V> {
    const id = `${scope}\u0000${question}`;
    const kept = this.answers.get(id);
    if (kept) {
      this.stats.hits++;
      this.answers.delete(id);
      this.answers.set(id, kept);
      return kept.value;
    }
    this.stats.misses++;
    let bucket = this.buckets.get(scope);
    if (!bucket) {
      bucket = { keys: new Set() };
      this.buckets.set(scope, bucket);
    }
    try {
      const value = await load();
      if (this.keep(value) && this.buckets.get(scope) === bucket) {
        this.answers.set(id, { scope, value });
        bucket.keys.add(id);
        this.evict();
      }
      return value;
    } finally {
      if (bucket.keys.size === 0 && this.buckets.get(scope) === bucket) this.buckets.delete(scope);
    }
  }

  private forget(scope: string, bucket: Bucket): void {
    for (const id of bucket.keys) this.answers.delete(id);
    bucket.keys.clear();
    this.buckets.delete(scope);
  }

  private evict(): void {
    for (const [id, { scope }] of this.answers) {
      if (this.answers.size <= this.maxEntries) return;
      this.answers.delete(id);
      const bucket = this.buckets.get(scope);
      bucket?.keys.delete(id);
      if (bucket && bucket.keys.size === 0) this.buckets.delete(scope);
    }
  }
}
