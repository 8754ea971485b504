/**
 * What `storage.get` read or this process wrote, kept so the next `get` of the key costs no query
 * (on PostgreSQL: no round trip). Kept right by three rules:
 *
 * - **This process's writes go through the cache** (`begin` before the write is sent, `settle` with
 *   its answer): a put that committed becomes the cached entry, a delete that committed the cached
 *   absence. Writes of one key from this process that overlap are ordered by revision when all are
 *   puts; when a delete overlaps another write, or an answer is unknown (the batch failed), the key
 *   is forgotten and the next `get` asks the database.
 * - **Other processes' writes are heard on the change feed** (PostgreSQL: kv-postgres.ts sends a
 *   NOTIFY naming the install inside each batch's transaction, delivered at commit): the install's
 *   keys are forgotten, and a write of this process that overlapped the change is not cached.
 *   An install change (uninstall among them) and "everything changed" forget the same way. The cache
 *   is trusted only while the feed can hear other processes (`trusted`): while PostgreSQL's LISTEN
 *   connection is down every `get` asks the database.
 * - **A read fills the cache only if nothing touched the key meanwhile**: no write of this process
 *   in flight or answered since the read began, no change heard for the install.
 * - **A compare-and-swap that conflicts forgets the key**: the cached revision may be what misled
 *   the writer (e.g. a commit the database lost in a crash), so the next `get` asks.
 *
 * Bounded by bytes of values and by entries, least recently used first; a key with a write in
 * flight stays (its value may go).
 */
import type { ChangeFeed } from './change-feed.js';
import type { KvDeleteResult, KvEntry, KvGetResult, KvPutResult } from './kv-model.js';

export interface KvReadCacheOptions {
  /** total bytes of cached values (default 32 MiB) */
  readonly maxBytes?: number;
  /** keys kept (default 20 000) */
  readonly maxEntries?: number;
}

export interface KvReadCacheStats {
  hits: number;
  misses: number;
}

/** What the cache knows of one key. */
interface Slot {
  readonly installId: string;
  /** the entry, null for known absent, undefined for not known */
  known: KvEntry | null | undefined;
  /** writes of this key from this process not yet answered */
  pending: number;
  /** of those, deletes */
  pendingDeletes: number;
  /** the cache's clock when a write of this key last began or was answered */
  touched: number;
  /** a delete and another write of this key were in flight together */
  overlapped: boolean;
}

/** One install's keys, and how many changes of other processes were heard for it. */
interface Bucket {
  epoch: number;
  readonly keys: Set<string>;
}

/** Handed out by `begin`, given back to `settle`. */
export interface KvWriteTicket {
  readonly slot: Slot;
  readonly bucket: Bucket;
  readonly epoch: number;
  readonly op: 'put' | 'delete';
}

const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_ENTRIES = 20_000;

const slotKey = (installId: string, namespace: string, key: string) => `${installId}\u0000${namespace}\u0000${key}`;
const bytesOf = (known: KvEntry | null | undefined) => (known ? known.value.byteLength : 0);

export class KvReadCache {
  readonly stats: KvReadCacheStats = { hits: 0, misses: 0 };
  /** every slot, least recently used first */
  private readonly slots = new Map<string, Slot>();
  private readonly buckets = new Map<string, Bucket>();
  private clock = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxEntries: number;

  /** `trusted`: whether the feed hears every process's writes now (see above). */
  constructor(
    feed: Pick<ChangeFeed, 'subscribe'>,
    private readonly trusted: () => boolean = () => true,
    options: KvReadCacheOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    feed.subscribe((change) => {
      if (change.kind === 'everything') for (const bucket of this.buckets.values()) this.forgetBucket(bucket);
      else if (change.kind === 'storage' || change.kind === 'install') {
        const bucket = this.buckets.get(change.installId);
        if (bucket) this.forgetBucket(bucket);
      }
    });
  }

  /** The cached answer to `get`, or `load`'s — kept if nothing touched the key while it ran. */
  async get(installId: string, namespace: string, key: string, load: () => KvGetResult | Promise<KvGetResult>): Promise<KvGetResult> {
    if (!this.trusted()) return load();
    const id = slotKey(installId, namespace, key);
    const slot = this.slots.get(id);
    if (slot && slot.known !== undefined) {
      this.stats.hits++;
      this.slots.delete(id);
      this.slots.set(id, slot);
      return slot.known === null ? { kind: 'missing' } : { kind: 'ok', entry: slot.known };
    }
    this.stats.misses++;
    const began = this.clock;
    // the bucket is held across the read: a change heard meanwhile bumps its epoch (or it goes)
    const bucket = this.bucketOf(installId);
    const epoch = bucket.epoch;
    try {
      const result = await load();
      if (result.kind === 'denied' || !this.trusted()) return result;
      if (this.buckets.get(installId) !== bucket || bucket.epoch !== epoch) return result;
      const current = this.slots.get(id);
      if (current && (current.pending > 0 || current.touched > began)) return result;
      this.remember(id, installId, current, result.kind === 'ok' ? result.entry : null);
      return result;
    } finally {
      this.dropIfEmpty(installId, bucket);
    }
  }

  /** A write of this process is about to be sent. */
  begin(installId: string, namespace: string, key: string, op: 'put' | 'delete'): KvWriteTicket {
    const id = slotKey(installId, namespace, key);
    const bucket = this.bucketOf(installId);
    let slot = this.slots.get(id);
    if (!slot) {
      slot = { installId, known: undefined, pending: 0, pendingDeletes: 0, touched: 0, overlapped: false };
      this.slots.set(id, slot);
      bucket.keys.add(id);
    }
    slot.pending++;
    if (op === 'delete') slot.pendingDeletes++;
    slot.touched = ++this.clock;
    return { slot, bucket, epoch: bucket.epoch, op };
  }

  /** The write's answer; undefined when it is not known whether it committed (the batch failed). */
  settle(ticket: KvWriteTicket, answer: KvPutResult | KvDeleteResult | undefined): void {
    const { slot, bucket, op } = ticket;
    slot.pending--;
    if (op === 'delete') slot.pendingDeletes--;
    slot.touched = ++this.clock;
    // a delete overlapped another write of the key: answers may come out of commit order, so none is kept until all are in
    if (op === 'delete' ? slot.pending > 0 : slot.pendingDeletes > 0) slot.overlapped = true;
    const overlapped = slot.overlapped;
    if (slot.pending === 0) slot.overlapped = false;
    if (answer === undefined) return this.setKnown(slot, undefined);
    if (answer.kind === 'denied') return;
    // the database holds another revision than the writer expected: whatever is cached may be what misled it
    if (answer.kind === 'conflict') return this.setKnown(slot, undefined);
    // another process changed the install while this write was in flight: which came last is not known
    const changed = bucket.epoch !== ticket.epoch || this.buckets.get(slot.installId) !== bucket;
    if (changed || overlapped) return this.setKnown(slot, undefined);
    if (answer.kind === 'missing' || !('entry' in answer)) return this.setKnown(slot, null);
    const known = slot.known;
    // overlapping puts answer in any order: the higher revision is the later write
    if (known && known.revision >= answer.entry.revision) return;
    // the writer's buffer stays the writer's
    this.setKnown(slot, { ...answer.entry, value: answer.entry.value.slice() });
  }

  /** The install's storage is being removed here (uninstall): nothing of it is kept. */
  forgetInstall(installId: string): void {
    const bucket = this.buckets.get(installId);
    if (bucket) this.forgetBucket(bucket);
  }

  private bucketOf(installId: string): Bucket {
    let bucket = this.buckets.get(installId);
    if (!bucket) {
      bucket = { epoch: 0, keys: new Set() };
      this.buckets.set(installId, bucket);
    }
    return bucket;
  }

  private forgetBucket(bucket: Bucket): void {
    bucket.epoch++;
    for (const id of bucket.keys) {
      const slot = this.slots.get(id)!;
      this.setKnown(slot, undefined);
      if (slot.pending === 0) this.drop(id, slot);
    }
  }

  private remember(id: string, installId: string, slot: Slot | undefined, known: KvEntry | null): void {
    if (slot) {
      this.slots.delete(id);
      this.slots.set(id, slot);
      this.setKnown(slot, known);
      return;
    }
    const fresh: Slot = { installId, known: undefined, pending: 0, pendingDeletes: 0, touched: this.clock, overlapped: false };
    this.slots.set(id, fresh);
    this.bucketOf(installId).keys.add(id);
    this.setKnown(fresh, known);
  }

  private setKnown(slot: Slot, known: KvEntry | null | undefined): void {
    this.bytes += bytesOf(known) - bytesOf(slot.known);
    slot.known = known;
    if (known !== undefined) this.evict();
  }

  private drop(id: string, slot: Slot): void {
    this.bytes -= bytesOf(slot.known);
    this.slots.delete(id);
    const bucket = this.buckets.get(slot.installId);
    if (!bucket) return;
    bucket.keys.delete(id);
    this.dropIfEmpty(slot.installId, bucket);
  }

  /** An empty bucket goes, and with it its epoch: a read begun before compares against the bucket itself. */
  private dropIfEmpty(installId: string, bucket: Bucket): void {
    if (bucket.keys.size === 0 && this.buckets.get(installId) === bucket) this.buckets.delete(installId);
  }

  /** Least recently used first; a key with a write in flight keeps its slot (the write settles it). */
  private evict(): void {
    if (this.bytes <= this.maxBytes && this.slots.size <= this.maxEntries) return;
    for (const [id, slot] of this.slots) {
      if (this.bytes <= this.maxBytes && this.slots.size <= this.maxEntries) return;
      if (slot.pending > 0) {
        this.bytes -= bytesOf(slot.known);
        slot.known = undefined;
      } else this.drop(id, slot);
    }
  }
}
