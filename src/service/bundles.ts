/**
 * What the service does with an uploaded bundle before registering it: verify its signature when
 * the operator requires signatures (never accepting one unverified), and keep the bytes in the
 * local bundle store so its UI can be served later.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { LocalBundleStore, loadTrustBundle, parseSignature, verifyBundleSignature, type BundleContents, type TrustBundle } from '../bundle/index.js';
import { ServiceError } from './errors.js';
import type { ServiceConfig } from './config.js';

export interface BundleAcceptance {
  accept(bundle: BundleContents, bytes: Uint8Array, headers: IncomingHttpHeaders): Promise<void>;
  readonly store: LocalBundleStore;
}

import { SIGNATURE_HEADER } from '../bundle/signature.js';

export async function createBundleAcceptance(config: ServiceConfig): Promise<BundleAcceptance> {
  let trust: TrustBundle | null = null;
  if (config.requireSignatures) {
    const loaded = await loadTrustBundle(config.trustFile!);
    if (loaded.kind === 'err') throw new Error(`RUNNER_TRUST_FILE ${config.trustFile}: ${loaded.problems.join('; ')}`);
    trust = loaded.trust;
  }
  const store = new LocalBundleStore(join(config.dataDir, 'bundles'));
  return {
    store,
    async accept(bundle, bytes, headers) {
      if (trust) {
        const header = headers[SIGNATURE_HEADER];
        let signature;
        if (typeof header === 'string' && header.length > 0) {
          const parsed = parseSignature(Buffer.from(header, 'base64').toString('utf8'));
          if (parsed.kind === 'err') throw new ServiceError('signature_required', parsed.message);
          signature = parsed.signature;
        }
        const verdict = verifyBundleSignature(bundle.contentHash, signature, trust);
        if (verdict.kind === 'err') throw new ServiceError('signature_required', `${verdict.code}: ${verdict.message}`, { reason: verdict.code });
        // the key's trust entry, not the signature file, says whose it is: it must be the manifest's publisher
        if (verdict.publisher !== undefined && verdict.publisher !== bundle.manifest.publisher) {
          throw new ServiceError('signature_required', `signed by ${verdict.publisher}, but the manifest names ${bundle.manifest.publisher}`, { reason: 'publisher-mismatch' });
        }
      }
      const stored = await store.putBundle(bundle.manifest.publisher, bundle.manifest.name, bytes);
      if (stored.kind === 'err') throw new Error(`storing bundle ${bundle.contentHash} failed: ${stored.error.message}`);
    },
  };
}
