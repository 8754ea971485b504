/**
 * What the service does with bundles: verify an uploaded bundle's signature when the operator
 * requires signatures (never accepting one unverified, and refusing bare components then), and
 * extract bundles from the component store on demand (bounded LRU disk cache) so their UI can be
 * served on any replica. Registration (registration.ts) puts the bytes in the store.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { ExtractedBundleCache, loadTrustBundle, parseSignature, verifyBundleSignature, type BundleContents, type BundleStore, type TrustBundle } from '../bundle/index.js';
import { SIGNATURE_HEADER } from '../bundle/signature.js';
import { ServiceError } from './errors.js';
import type { ServiceConfig } from './config.js';

/**
 * Extracted bundles kept on disk for UI serving. UI files are small; the bound keeps a runner
 * that has seen many versions from filling its disk (least recently served go first).
 */
export const EXTRACTED_CACHE_MAX_BYTES = 512 * 2 ** 20;

export interface BundleAcceptance {
  /** Throws `signature_required` unless the bundle may be accepted under the signature policy. */
  verify(bundle: BundleContents, headers: IncomingHttpHeaders): void;
  /**
   * Throws `signature_required` when signatures are required: a bare component has no manifest,
   * so no signature could cover what it would be registered as (name, publisher, capabilities,
   * endpoints all come from the query) — only a signed bundle can be accepted then.
   */
  verifyBareComponent(): void;
  /** the component store (component-store.ts), where every replica finds an uploaded bundle */
  readonly store: BundleStore;
  /** Stored bundles extracted on demand, `<dataDir>/extracted/sha256-<hex>/`. */
  readonly extracted: ExtractedBundleCache;
}

export async function createBundleAcceptance(config: ServiceConfig, store: BundleStore): Promise<BundleAcceptance> {
  let trust: TrustBundle | null = null;
  if (config.requireSignatures) {
    const loaded = await loadTrustBundle(config.trustFile!);
    if (loaded.kind === 'err') throw new Error(`RUNNER_TRUST_FILE ${config.trustFile}: ${loaded.problems.join('; ')}`);
    trust = loaded.trust;
  }
  const extracted = await ExtractedBundleCache.open({ dir: join(config.dataDir, 'extracted'), maxBytes: EXTRACTED_CACHE_MAX_BYTES });
  return {
    store,
    extracted,
    verify(bundle, headers) {
      if (!trust) return;
      const header = headers[SIGNATURE_HEADER];
      let signature;
      if (typeof header === 'string' && header.length > 0) {
        const parsed = parseSignature(Buffer.from(header, 'base64').toString('utf8'));
        if (parsed.kind === 'err') throw new ServiceError('signature_required', parsed.message, { reason: 'malformed' });
        signature = parsed.signature;
      }
      const verdict = verifyBundleSignature(bundle.contentHash, signature, trust);
      if (verdict.kind === 'err') throw new ServiceError('signature_required', `${verdict.code}: ${verdict.message}`, { reason: verdict.code });
      // the key's trust entry, not the signature file, says whose it is: it must be the manifest's publisher
      if (verdict.publisher !== bundle.manifest.publisher) {
        throw new ServiceError('signature_required', `signed by ${verdict.publisher}, but the manifest names ${bundle.manifest.publisher}`, { reason: 'publisher-mismatch' });
      }
    },
    verifyBareComponent() {
      if (!trust) return;
      throw new ServiceError('signature_required', 'RUNNER_REQUIRE_SIGNATURES=1 and a bare component cannot carry a signature: upload it as a signed bundle (alga-runner pack, sign, publish)', {
        reason: 'bare-component',
      });
    },
  };
}
