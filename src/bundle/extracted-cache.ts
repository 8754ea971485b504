/**
 * A disk cache of extracted bundles, `{dir}/sha256-{hex}/`, bounded in bytes and evicting the
 * least recently used bundles first. Extraction goes through `extractBundle` (atomic, one per
 * content hash at a time), so a directory in the cache is always complete and valid.
 *
 * Each process keeps its own index, built from a scan at open. Use is persisted as the
 * directory's mtime (at most once a minute per bundle), so the order survives restarts. Another
 * process may evict a bundle this one indexed: `ensure` notices the missing directory and
 * extracts again. Eviction renames a directory away before deleting it, so a reader sees a whole
 * bundle or none.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleSource } from './archive-reader.js';
import { contentHashHex, type ContentHash } from './content-hash.js';
import { bundleError, type BundleResult } from './errors.js';
import { directorySize, extractBundle, readExtracted } from './extract.js';
import type { BundleLimits } from './limits.js';
import type { Manifest } from './manifest.js';

export interface CachedBundle {
  readonly contentHash: ContentHash;
  readonly dir: string;
  readonly manifest: Manifest;
  readonly bytes: number;
}

export interface ExtractedBundleCacheOptions {
  readonly dir: string;
  /** evict least recently used bundles once the extracted total passes this */
  readonly maxBytes: number;
  readonly limits?: Partial<BundleLimits>;
}

interface Entry {
  readonly dir: string;
  bytes: number;
  lastUsed: number;
  lastPersisted: number;
  manifest?: Manifest;
}

const ENTRY_PREFIX = 'sha256-';
const TOUCH_INTERVAL_MS = 60_000;
const STALE_TEMP_MS = 60 * 60 * 1000;

export class ExtractedBundleCache {
  private readonly entries = new Map<ContentHash, Entry>();
  /** misses being filled: concurrent callers for one hash share the load and the extraction */
  private readonly filling = new Map<ContentHash, Promise<BundleResult<CachedBundle>>>();

  private constructor(private readonly options: ExtractedBundleCacheOptions) {}

  /** Open (and create) the cache directory, index what is there, and drop stale temp dirs. */
  static async open(options: ExtractedBundleCacheOptions): Promise<ExtractedBundleCache> {
    if (!(options.maxBytes > 0)) throw new RangeError(`cache maxBytes must be positive, got ${options.maxBytes}`);
    const cache = new ExtractedBundleCache(options);
    await mkdir(options.dir, { recursive: true });
    const now = Date.now();
    for (const name of await readdir(options.dir)) {
      const path = join(options.dir, name);
      if (name.startsWith('.')) {
        // temp or half-evicted directories left by a crash; young ones may belong to a live process
        const info = await stat(path).catch(() => undefined);
        if (info && now - info.mtimeMs > STALE_TEMP_MS) await rm(path, { recursive: true, force: true });
        continue;
      }
      const hex = name.startsWith(ENTRY_PREFIX) ? name.slice(ENTRY_PREFIX.length) : '';
      if (contentHashHex(`sha256:${hex}`) === undefined) continue;
      const info = await stat(path);
      cache.entries.set(`sha256:${hex}`, { dir: path, bytes: await directorySize(path), lastUsed: info.mtimeMs, lastPersisted: info.mtimeMs });
    }
    return cache;
  }

  /** Extracted bytes currently indexed, and how many bundles. */
  usage(): { bytes: number; bundles: number } {
    let bytes = 0;
    for (const entry of this.entries.values()) bytes += entry.bytes;
    return { bytes, bundles: this.entries.size };
  }

  has(contentHash: string): boolean {
    return this.entries.has(contentHash as ContentHash);
  }

  /**
   * The extracted directory of `contentHash`, extracting it from `load()` when it is not cached.
   * `load` is called only on a miss; its bytes must hash to `contentHash`.
   */
  async ensure(contentHash: string, load: () => Promise<BundleResult<BundleSource>>): Promise<BundleResult<CachedBundle>> {
    const hex = contentHashHex(contentHash);
    if (hex === undefined) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `content hash '${contentHash}'`) };
    const hash = contentHash as ContentHash;
    const dir = join(this.options.dir, `${ENTRY_PREFIX}${hex}`);

    const known = this.entries.get(hash);
    if (known) {
      const present = known.manifest
        ? await stat(dir).then(
            () => true,
            () => false,
          )
        : false;
      if (present && known.manifest) return { kind: 'ok', value: this.touch(hash, known, known.manifest) };
      const onDisk = await readExtracted(dir);
      if (onDisk) {
        known.manifest = onDisk.manifest;
        known.bytes = onDisk.bytes;
        return { kind: 'ok', value: this.touch(hash, known, onDisk.manifest) };
      }
      this.entries.delete(hash);
    }

    const running = this.filling.get(hash);
    if (running) return running;
    const job = this.fill(hash, dir, load).finally(() => this.filling.delete(hash));
    this.filling.set(hash, job);
    return job;
  }

  private async fill(hash: ContentHash, dir: string, load: () => Promise<BundleResult<BundleSource>>): Promise<BundleResult<CachedBundle>> {
    const source = await load();
    if (source.kind === 'err') return source;
    const extracted = await extractBundle(source.value, dir, { limits: this.options.limits, expectedContentHash: hash });
    if (extracted.kind === 'err') return extracted;
    const now = Date.now();
    const entry: Entry = { dir, bytes: extracted.value.bytes, lastUsed: now, lastPersisted: 0, manifest: extracted.value.manifest };
    this.entries.set(hash, entry);
    const cached = this.touch(hash, entry, extracted.value.manifest);
    await this.evict(hash);
    return { kind: 'ok', value: cached };
  }

  private touch(hash: ContentHash, entry: Entry, manifest: Manifest): CachedBundle {
    const now = Date.now();
    entry.lastUsed = now;
    // uses within one millisecond tie on lastUsed: keep the index in use order too, so the
    // (stable) eviction sort still puts the least recently used first
    this.entries.delete(hash);
    this.entries.set(hash, entry);
    if (now - entry.lastPersisted > TOUCH_INTERVAL_MS) {
      entry.lastPersisted = now;
      const seconds = now / 1000;
      utimes(entry.dir, seconds, seconds).catch(() => undefined);
    }
    return { contentHash: hash, dir: entry.dir, manifest, bytes: entry.bytes };
  }

  /** Drop least recently used bundles until the total fits; never the one just ensured. */
  private async evict(keep: ContentHash): Promise<void> {
    let total = this.usage().bytes;
    if (total <= this.options.maxBytes) return;
    const order = [...this.entries.entries()].filter(([hash]) => hash !== keep).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [hash, entry] of order) {
      if (total <= this.options.maxBytes) break;
      this.entries.delete(hash);
      total -= entry.bytes;
      const doomed = join(this.options.dir, `.evict-${randomBytes(6).toString('hex')}`);
      try {
        await rename(entry.dir, doomed);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process evicted it
        throw error;
      }
      await rm(doomed, { recursive: true, force: true });
    }
  }
}
