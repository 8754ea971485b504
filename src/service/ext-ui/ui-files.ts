/**
 * Which file answers `GET /ext-ui/{extensionId}/{contentHash}/{path}`: the version must belong to
 * the extension and be run by at least one enabled install (UI assets need no token, so a version
 * nobody runs, or only disabled installs run, is not served); the bundle is extracted on demand
 * from the component store (shared by every replica); the path is checked like a bundle entry, only allowlisted file types are
 * served, and extension-less paths fall back to the UI entry (single-page apps route client-side).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { checkEntryPath, isContentHash, type BundleError, type CachedBundle, type ContentHash } from '../../bundle/index.js';
import type { RegistryStore } from '../../store/registry.js';
import type { BundleAcceptance } from '../bundles.js';
import { COMPONENT_RETRY_AFTER_S, REGISTRY_TENANT } from '../component-store.js';
import { componentHashOf, isUiOnly } from '../runtime.js';
import { ServiceError } from '../errors.js';

/** Served file types: extension → content type. Anything else is 404, whatever the bundle holds. */
export const SERVED_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  wasm: 'application/wasm',
};

/** Types worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = new Set(['html', 'js', 'mjs', 'css', 'json', 'map', 'txt', 'svg', 'ico', 'wasm']);

const DEFAULT_ENTRY = 'ui/index.html';

export interface UiFile {
  readonly contentHash: ContentHash;
  /** the bundle path actually served (`ui/index.html` for a fallback) */
  readonly bundlePath: string;
  /** absolute path of the extracted file */
  readonly file: string;
  readonly size: number;
  readonly contentType: string;
  readonly compressible: boolean;
}

/** The extension of the last path segment, lower-cased; '' when it has none. */
function typeOf(path: string): string {
  const last = path.slice(path.lastIndexOf('/') + 1);
  const dot = last.lastIndexOf('.');
  return dot > 0 ? last.slice(dot + 1).toLowerCase() : '';
}

/**
 * The request path below `/ext-ui/{id}/{hash}/`, percent-decoded, as a path under `ui/`, or the
 * reason it is refused. '' (the UI's root) is allowed and means "the entry".
 */
export function uiRequestPath(encoded: string): { kind: 'ok'; path: string } | { kind: 'err'; reason: string } {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { kind: 'err', reason: 'malformed percent-encoding' };
  }
  if (decoded === '') return { kind: 'ok', path: '' };
  // a `./` prefix is harmless in a tar entry but has no business in a URL
  if (decoded.startsWith('./')) return { kind: 'err', reason: "'.' segment" };
  const checked = checkEntryPath(decoded);
  return checked.kind === 'ok' ? { kind: 'ok', path: checked.path } : checked;
}

export class UiFiles {
  constructor(
    private readonly registry: RegistryStore,
    private readonly bundles: BundleAcceptance,
    private readonly log: FastifyBaseLogger,
    /** the Alga-managed mode (RUNNER_REGISTRY=alga): ids are Alga's, bundles are in Alga's bundle store */
    private readonly managed = false,
  ) {}

  /** The file to serve, or a ServiceError to answer with. `tenant`: the caller's (the managed mode's bundle key needs it). */
  async find(extensionId: string, contentHash: string, encodedPath: string, tenant?: string): Promise<UiFile> {
    const requested = uiRequestPath(encodedPath);
    if (requested.kind === 'err') throw new ServiceError('invalid_request', `unsafe UI path: ${requested.reason}`);
    const type = typeOf(requested.path);
    if (type !== '' && SERVED_TYPES[type] === undefined) throw new ServiceError('not_found', `files of type .${type} are not served`);
    if (this.managed) return this.findManaged(extensionId, contentHash, requested.path, type, tenant);

    const extension = await this.registry.getExtension(extensionId);
    if (!extension) throw new ServiceError('extension_not_found', extensionId);
    if (!isContentHash(contentHash)) throw new ServiceError('version_not_found', `'${contentHash}' is not sha256:<64 hex>`);
    const version = (await this.registry.findVersionsByContentHash(contentHash)).find((v) => v.extensionId === extension.id);
    if (!version) throw new ServiceError('version_not_found', `${contentHash} is not a version of ${extensionId}`);
    const installs = await this.registry.listInstalls({ extensionId: extension.id });
    if (!installs.some((i) => i.enabled && i.versionId === version.id)) throw new ServiceError('version_not_found', `no enabled install runs ${contentHash}`);

    // a version registered as a bare component has no bundle, hence no UI (its hash is its component's)
    if (!isUiOnly(version) && componentHashOf(version) === version.contentHash) throw new ServiceError('not_found', `version ${version.version} has no UI`);
    const cached = await this.bundles.extracted.ensure(contentHash, () => this.bundles.store.getBundle(REGISTRY_TENANT, extension.id, contentHash));
    if (cached.kind === 'err') throw this.refusal(cached.error, contentHash, new ServiceError('component_missing', `${cached.error.message} (version ${version.id})`));
    return this.fileOf(cached.value, contentHash as ContentHash, requested.path, type);
  }

  /**
   * The managed mode: the bundle Alga's runner would serve, from Alga's bundle store under
   * `tenants/{tenant}/extensions/{extension id}/sha256/{hex}/bundle.tar.zst` (ee/runner/src/http/ext_ui.rs;
   * the tenant from `?tenant=` or `x-tenant-id`, as there). There is no registry to ask whether an
   * install runs it: the URL's ids and hash are the whole check (docs/security.md).
   */
  private async findManaged(extensionId: string, contentHash: string, path: string, type: string, tenant: string | undefined): Promise<UiFile> {
    if (!tenant) throw new ServiceError('invalid_request', "RUNNER_REGISTRY=alga: the tenant is needed to find the bundle (the query's ?tenant= or the x-tenant-id header)");
    if (!isContentHash(contentHash)) throw new ServiceError('invalid_request', `'${contentHash}' is not sha256:<64 hex>`);
    const cached = await this.bundles.extracted.ensure(contentHash, () => this.bundles.store.getBundle(tenant, extensionId, contentHash));
    if (cached.kind === 'err') {
      const missing = new ServiceError('bundle_not_found', `${cached.error.message} (tenant ${tenant}, extension ${extensionId})`);
      throw this.refusal(cached.error, contentHash, cached.error.code === 'BUNDLE_INVALID_KEY' ? new ServiceError('invalid_request', cached.error.message) : missing);
    }
    return this.fileOf(cached.value, contentHash, path, type);
  }

  /** A bundle that could not be fetched, as the answer; `missing` for one the store does not have (or a key it refuses). */
  private refusal(error: BundleError, contentHash: string, missing: ServiceError): ServiceError {
    const { code, message } = error;
    if (code === 'BUNDLE_NOT_FOUND' || code === 'BUNDLE_INVALID_KEY') return missing;
    if (code === 'BUNDLE_STORE_UNAVAILABLE') {
      this.log.warn({ bundleError: code, contentHash }, message);
      return new ServiceError('component_unavailable', message, { retry_after_s: COMPONENT_RETRY_AFTER_S, reason: 'store_unreachable' });
    }
    this.log.error({ bundleError: code, contentHash }, message);
    if (code === 'BUNDLE_HASH_MISMATCH') return new ServiceError('component_hash_mismatch', message);
    return new ServiceError('internal', 'the bundle cannot be read');
  }

  /** The file of an extracted bundle that answers `path` (extension-less: the UI entry). */
  private async fileOf(extracted: CachedBundle, contentHash: ContentHash, path: string, type: string): Promise<UiFile> {
    const bundlePath = type === '' ? (extracted.manifest.ui?.entry ?? DEFAULT_ENTRY) : `ui/${path}`;
    const servedType = typeOf(bundlePath);
    const contentType = SERVED_TYPES[servedType];
    const file = join(extracted.dir, bundlePath);
    const info = contentType === undefined ? undefined : await stat(file).catch(() => undefined);
    if (!info?.isFile() || contentType === undefined) throw new ServiceError('not_found', `${bundlePath} is not in ${contentHash}`);
    return { contentHash, bundlePath, file, size: info.size, contentType, compressible: COMPRESSIBLE.has(servedType) };
  }
}
