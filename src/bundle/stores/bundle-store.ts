/**
 * Where bundles live, behind one interface: a local directory (the default), any HTTP(S) server
 * that answers GET on Alga's key layout, S3-compatible object storage, or a database table. Every
 * `getBundle` checks the downloaded bytes against the content hash it asked for and refuses a
 * mismatch, so a caller never has to remember to. The same stores keep bare components
 * (`file` = `component.wasm`, key-layout.ts): the runner's component store.
 */
import { contentHashOf, type ContentHash } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';
import type { StoredFile } from './key-layout.js';

export interface StoredBundle {
  readonly contentHash: ContentHash;
  readonly key: string;
}

export interface BundleStore {
  /** `local`, `http`, `s3` or `postgres`: for logs and health output */
  readonly kind: string;
  /** `file`: a bundle (the default) or a bare component's bytes, under the same prefix */
  getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): Promise<BundleResult<Uint8Array>>;
  /**
   * Store bytes under their own content hash. Idempotent: the same bytes again succeed.
   * `contentHash`: the caller has just hashed these very bytes (an upload is hashed once, not per step).
   */
  putBundle(tenant: string, extension: string, bytes: Uint8Array, file?: StoredFile, contentHash?: ContentHash): Promise<BundleResult<StoredBundle>>;
  /** Whether the store answers now, within `timeoutMs`: cheap enough for a readiness probe. */
  probe(timeoutMs: number): Promise<StoreProbe>;
}

/** A store's answer to a readiness probe; `detail` says why it is not reachable. */
export type StoreProbe = { readonly ok: true } | { readonly ok: false; readonly detail: string };

/** Runs a probe with a deadline: a store that does not answer in time is unreachable. */
export async function probeWithin(timeoutMs: number, what: string, probe: (signal: AbortSignal) => Promise<StoreProbe>): Promise<StoreProbe> {
  const signal = AbortSignal.timeout(timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<StoreProbe>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `${what} did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([probe(signal).catch((e: unknown) => ({ ok: false as const, detail: `${what}: ${e instanceof Error ? e.message : String(e)}` })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Bytes fetched for `contentHash`, or a BUNDLE_HASH_MISMATCH refusal. */
export function verifyFetched(bytes: Uint8Array, contentHash: string, where: string): BundleResult<Uint8Array> {
  const actual = contentHashOf(bytes);
  if (actual !== contentHash) return { kind: 'err', error: bundleError('BUNDLE_HASH_MISMATCH', `${where} returned ${actual} for ${contentHash}`) };
  return { kind: 'ok', value: bytes };
}
