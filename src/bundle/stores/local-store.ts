/** Bundles as files under a directory, in Alga's key layout. Writes are atomic (temp + rename). */
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { contentHashOf, type ContentHash } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';
import { DEFAULT_BUNDLE_LIMITS } from '../limits.js';
import { probeWithin, verifyFetched, type BundleStore, type StoreProbe, type StoredBundle } from './bundle-store.js';
import { bundleKey, type StoredFile } from './key-layout.js';

export class LocalBundleStore implements BundleStore {
  readonly kind = 'local';

  constructor(
    private readonly root: string,
    private readonly maxBytes = DEFAULT_BUNDLE_LIMITS.maxCompressedBytes,
  ) {}

  async getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): Promise<BundleResult<Uint8Array>> {
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.root, key.value));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'err', error: bundleError('BUNDLE_NOT_FOUND', key.value) };
      throw error;
    }
    // A file on disk can still have been damaged or swapped: check it like a download.
    return verifyFetched(bytes, contentHash, `local store file ${key.value}`);
  }

  async putBundle(tenant: string, extension: string, bytes: Uint8Array, file?: StoredFile, known?: ContentHash): Promise<BundleResult<StoredBundle>> {
    if (bytes.byteLength > this.maxBytes) return { kind: 'err', error: bundleError('BUNDLE_TOO_LARGE', `${bytes.byteLength} bytes (limit ${this.maxBytes})`) };
    const contentHash = known ?? contentHashOf(bytes);
    const key = bundleKey(tenant, extension, contentHash, file);
    if (key.kind === 'err') return key;
    const path = join(this.root, key.value);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temp, bytes, { mode: 0o644 });
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
    return { kind: 'ok', value: { contentHash, key: key.value } };
  }

  /** The directory exists (or can be made) and is writable. */
  probe(timeoutMs: number): Promise<StoreProbe> {
    return probeWithin(timeoutMs, `local store ${this.root}`, async () => {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.R_OK | constants.W_OK);
      return { ok: true };
    });
  }
}
