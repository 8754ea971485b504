/**
 * Alga's object key layout for bundles:
 *   tenants/{tenant}/extensions/{extension}/sha256/{hex}/bundle.tar.zst
 * Every store (local directory, HTTP, S3) uses it, so one bucket or directory can be shared with
 * Alga's registry. Tenant and extension ids become path segments, so they are checked first.
 */
import { contentHashHex } from '../content-hash.js';
import { bundleError, type BundleResult } from '../errors.js';

const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function bundleKey(tenant: string, extension: string, contentHash: string): BundleResult<string> {
  if (!KEY_SEGMENT.test(tenant) || tenant.includes('..')) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `tenant '${tenant}'`) };
  if (!KEY_SEGMENT.test(extension) || extension.includes('..')) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `extension '${extension}'`) };
  const hex = contentHashHex(contentHash);
  if (hex === undefined) return { kind: 'err', error: bundleError('BUNDLE_INVALID_KEY', `content hash '${contentHash}' (expected sha256:<64 hex>)`) };
  return { kind: 'ok', value: `tenants/${tenant}/extensions/${extension}/sha256/${hex}/bundle.tar.zst` };
}
