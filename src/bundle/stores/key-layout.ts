/**
 * Alga's object key layout for bundles:
 *   tenants/{tenant}/extensions/{extension}/sha256/{hex}/bundle.tar.zst
 * Every store (local directory, HTTP, S3) uses it, so one bucket or directory can be shared with
 * Alga's registry. Tenant and extension ids become path segments, so they are checked first.
 *
 * The runner's component store keeps a version registered as a bare component beside where its
 * bundle would be, under the same prefix and hash, with the file name `component.wasm`:
 *   tenants/{tenant}/extensions/{extension}/sha256/{hex}/component.wasm
 * (the hash is the component's own). One listing of an extension's prefix then shows every version
 * it has, bundle or not, and a mirror of Alga's layout serves both.
 */
import { contentHashHex } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';

const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** What a stored object is: a bundle (`.tar.zst`), or a bare component's bytes. */
export type StoredFile = 'bundle.tar.zst' | 'component.wasm';
export const BUNDLE_FILE: StoredFile = 'bundle.tar.zst';
export const COMPONENT_FILE: StoredFile = 'component.wasm';

export function bundleKey(tenant: string, extension: string, contentHash: string, file: StoredFile = BUNDLE_FILE): BundleResult<string> {
  if (!KEY_SEGMENT.test(tenant) || tenant.includes('..')) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `tenant '${tenant}'`) };
  if (!KEY_SEGMENT.test(extension) || extension.includes('..')) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `extension '${extension}'`) };
  const hex = contentHashHex(contentHash);
  if (hex === undefined) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `content hash '${contentHash}' (expected sha256:<64 hex>)`) };
  return { kind: 'ok', value: `tenants/${tenant}/extensions/${extension}/sha256/${hex}/${file}` };
}
