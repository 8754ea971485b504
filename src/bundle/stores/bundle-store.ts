/**
 * Where bundles live, behind one interface: a local directory (the default), any HTTP(S) server
 * that answers GET on Alga's key layout, or S3-compatible object storage. Every `getBundle`
 * checks the downloaded bytes against the content hash it asked for and refuses a mismatch, so
 * a caller never has to remember to.
 */
import { contentHashOf, type ContentHash } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';

export interface StoredBundle {
  readonly contentHash: ContentHash;
  readonly key: string;
}

export interface BundleStore {
  /** `local`, `http` or `s3`: for logs and health output */
  readonly kind: string;
  getBundle(tenant: string, extension: string, contentHash: string): Promise<BundleResult<Uint8Array>>;
  /** Store bytes under their own content hash. Idempotent: the same bytes again succeed. */
  putBundle(tenant: string, extension: string, bytes: Uint8Array): Promise<BundleResult<StoredBundle>>;
}

/** Bytes fetched for `contentHash`, or a BUNDLE_HASH_MISMATCH refusal. */
export function verifyFetched(bytes: Uint8Array, contentHash: string, where: string): BundleResult<Uint8Array> {
  const actual = contentHashOf(bytes);
  if (actual !== contentHash) return { kind: 'err', error: bundleError('BUNDLE_HASH_MISMATCH', `${where} returned ${actual} for ${contentHash}`) };
  return { kind: 'ok', value: bytes };
}
