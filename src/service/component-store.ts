/**
 * The component store: where an upload keeps what it registered (a bare component's bytes, or a
 * bundle's), addressed by content hash, so any replica can run any version. Chosen by
 * RUNNER_COMPONENT_STORE (config.ts): `postgres` (a table of the runner's own database, the
 * default with DATABASE_URL), `s3`, `http` (a read-only mirror) or `local` (`<dataDir>/bundles`,
 * one process). Keys follow Alga's layout (src/bundle/stores/key-layout.ts) under the tenant
 * segment `registry` and the extension's registry id.
 */
import { join } from 'node:path';
import { BUNDLE_FILE, COMPONENT_FILE, HttpBundleStore, LocalBundleStore, S3BundleStore, TableBundleStore, type BundleError, type BundleStore, type StoredFile } from '../bundle/index.js';
import type { ExtensionVersion, Store } from '../store/index.js';
import type { ServiceConfig } from './config.js';
import { ServiceError } from './errors.js';

/**
 * The tenant segment of Alga's key layout for what is uploaded to this runner: extensions here are
 * the runner's registry's, not a tenant's. The extension segment is the registry id (a UUID), so
 * any publisher or name (spaces and all) maps to a usable key.
 */
export const REGISTRY_TENANT = 'registry';

/** How long a readiness probe of the store may take. */
export const STORE_PROBE_TIMEOUT_MS = 2_000;

/** Seconds a client is told to wait after `component_unavailable`. */
export const COMPONENT_RETRY_AFTER_S = 5;

export function createComponentStore(config: ServiceConfig, store: Store): BundleStore {
  const shared = sharedStore(config, store);
  // the Alga-managed mode reads Alga's bundle store alone
  if (config.registry === 'alga') return shared;
  // bundles uploaded before there was a shared store are in this process's `<dataDir>/bundles`
  return shared.kind === 'local' ? shared : new WithLegacyBundles(shared, new LocalBundleStore(join(config.dataDir, 'bundles')));
}

function sharedStore(config: ServiceConfig, store: Store): BundleStore {
  const c = config.componentStore;
  switch (c.kind) {
    case 'postgres':
      return new TableBundleStore({ read: (hash) => store.blobs.read(hash), write: (hash, file, bytes) => store.blobs.write(hash, file, bytes), ping: () => store.blobs.ping() }, 'postgres');
    case 'local':
      return new LocalBundleStore(join(config.dataDir, 'bundles'));
    case 's3':
      return new S3BundleStore({
        bucket: c.bucket,
        // `alga` and `alga/` mean the same folder
        prefix: c.prefix && !c.prefix.endsWith('/') ? `${c.prefix}/` : c.prefix,
        // an S3-compatible server (MinIO, s3rver) is addressed by path, not by bucket subdomain
        clientConfig: { region: c.region, ...(c.endpoint ? { endpoint: c.endpoint, forcePathStyle: true } : {}) },
      });
    case 'http':
      // a waiting request gives up at the fetch timeout (component-source.ts); the download itself
      // may take longer and still serve the requests after it, but a server that hangs is let go
      return new HttpBundleStore({ baseUrl: c.baseUrl, timeoutMs: 2 * config.componentFetchTimeoutMs });
  }
}

/**
 * The shared store, with a fallback for what a runner kept before it had one: a bundle the shared
 * store does not have but this process's old local directory does is served from there and copied
 * into the shared store (so other replicas find it too). Everything else is the shared store's.
 */
export class WithLegacyBundles implements BundleStore {
  constructor(
    private readonly shared: BundleStore,
    private readonly legacy: BundleStore,
  ) {}

  get kind(): string {
    return this.shared.kind;
  }

  async getBundle(tenant: string, extension: string, contentHash: string, file?: StoredFile): ReturnType<BundleStore['getBundle']> {
    const found = await this.shared.getBundle(tenant, extension, contentHash, file);
    if (found.kind === 'ok' || found.error.code !== 'BUNDLE_NOT_FOUND' || (file ?? BUNDLE_FILE) !== BUNDLE_FILE) return found;
    const old = await this.legacy.getBundle(tenant, extension, contentHash, file);
    if (old.kind === 'err') return found;
    // best effort: a store that cannot take it now is asked again on the next miss
    await this.shared.putBundle(tenant, extension, old.value, file);
    return old;
  }

  putBundle(...args: Parameters<BundleStore['putBundle']>): ReturnType<BundleStore['putBundle']> {
    return this.shared.putBundle(...args);
  }

  probe(timeoutMs: number): ReturnType<BundleStore['probe']> {
    return this.shared.probe(timeoutMs);
  }
}

/** What the store holds for a version: its bundle, or (registered bare) its component. */
export interface StoredVersion {
  readonly extensionId: string;
  /** the hash the store holds the bytes under: the bundle's, or the component's */
  readonly contentHash: string;
  readonly file: StoredFile;
}

/** A version's object in the store: a version whose hash is not its component's is a bundle. */
export function storedVersionOf(version: ExtensionVersion, componentHash: string): StoredVersion {
  return { extensionId: version.extensionId, contentHash: version.contentHash, file: version.contentHash === componentHash ? COMPONENT_FILE : BUNDLE_FILE };
}

/** An upload the store would not keep, as the service answers it. */
export function uploadRefusal(kind: string, error: BundleError): ServiceError {
  switch (error.code) {
    case 'BUNDLE_STORE_READ_ONLY':
      return new ServiceError('component_store_read_only', `RUNNER_COMPONENT_STORE=${kind}: ${error.message}`);
    case 'BUNDLE_TOO_LARGE':
      return new ServiceError('bundle_too_large', error.message, { bundle_error: error.code });
    case 'BUNDLE_STORE_UNAVAILABLE':
      return new ServiceError('component_unavailable', `storing the upload: ${error.message}`, { retry_after_s: COMPONENT_RETRY_AFTER_S, reason: 'store_unreachable' });
    default:
      return new ServiceError('internal', `storing the upload in the ${kind} component store: ${error.message}`);
  }
}
