/**
 * Bundles and components as rows of a database table keyed by content hash (the runner's own
 * PostgreSQL: `component_blobs`, src/store/blobs.ts). Every replica on the database reads what any
 * of them stored, with no other service to run. The table holds bytes by hash and says what they
 * are (bundle or component), so asking for a bundle under a component's hash finds nothing, as in
 * the other stores; tenant and extension only name the key in the other stores' layout, and are
 * checked the same way here so a key that one store refuses every store refuses.
 */
import { contentHashOf, type ContentHash } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';
import { DEFAULT_BUNDLE_LIMITS } from '../limits.js';
import { probeWithin, verifyFetched, type BundleStore, type StoreProbe, type StoredBundle } from './bundle-store.js';
import { BUNDLE_FILE, bundleKey, type StoredFile } from './key-layout.js';

/** The table as this store needs it; the store layer implements it over kysely. */
export interface BlobTable {
  /** what is stored under `contentHash` (its file name in the key layout, and its bytes), or null */
  read(contentHash: string): Promise<{ file: string; bytes: Uint8Array } | null>;
  /** stores `bytes` under `contentHash`; the same hash again is a no-op */
  write(contentHash: string, file: StoredFile, bytes: Uint8Array): Promise<void>;
  /** a cheap query that proves the table answers */
  ping(signal: AbortSignal): Promise<void>;
}

export class TableBundleStore implements BundleStore {
  constructor(
    private readonly table: BlobTable,
    readonly kind = 'postgres',
    private readonly maxBytes = DEFAULT_BUNDLE_LIMITS.maxCompressedBytes,
  ) {}

  async getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): Promise<BundleResult<Uint8Array>> {
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    let row: { file: string; bytes: Uint8Array } | null;
    try {
      row = await this.table.read(contentHash);
    } catch (error) {
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `reading ${contentHash} from the ${this.kind} store: ${(error as Error).message}`) };
    }
    if (row === null || row.file !== (file ?? BUNDLE_FILE)) return { kind: 'err', error: bundleError('BUNDLE_NOT_FOUND', `${key.value} in the ${this.kind} store`) };
    return verifyFetched(row.bytes, contentHash, `the ${this.kind} store`);
  }

  async putBundle(tenant: string, extension: string, bytes: Uint8Array, file?: StoredFile, known?: ContentHash): Promise<BundleResult<StoredBundle>> {
    if (bytes.byteLength > this.maxBytes) return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `${bytes.byteLength} bytes (limit ${this.maxBytes})`) };
    const contentHash = known ?? contentHashOf(bytes);
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    try {
      await this.table.write(contentHash, file ?? BUNDLE_FILE, bytes);
    } catch (error) {
      return { kind: 'err', error: bundleError('BUNDLE_STORE_UNAVAILABLE', `writing ${contentHash} to the ${this.kind} store: ${(error as Error).message}`) };
    }
    return { kind: 'ok', value: { contentHash, key: key.value } };
  }

  probe(timeoutMs: number): Promise<StoreProbe> {
    return probeWithin(timeoutMs, `the ${this.kind} store`, async (signal) => {
      await this.table.ping(signal);
      return { ok: true };
    });
  }
}
