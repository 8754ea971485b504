/**
 * A version's component on a replica that has not prepared it: fetched from the component store
 * by content hash, verified, prepared (transpiled) once, kept on disk by the engine. Concurrent
 * requests for one component wait for the same fetch and preparation (one per hash and process);
 * each waits at most RUNNER_COMPONENT_FETCH_TIMEOUT_MS, while the work itself goes on, so a later
 * request finds it done. Requests and warm-ups (admin, start-up) all come through here.
 */
import { BUNDLE_FILE, contentHashOf, readBundle, type BundleError, type BundleStore } from '../bundle/index.js';
import type { EngineApi } from '../engine/api.js';
import type { ExtensionVersion } from '../store/index.js';
import { COMPONENT_RETRY_AFTER_S, REGISTRY_TENANT, storedVersionOf } from './component-store.js';
import { ServiceError } from './errors.js';
import type { ServiceMetrics } from './metrics.js';

/** Where the source reports what it did (the app points it at the service log). */
export interface ComponentSourceLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const SILENT_LOG: ComponentSourceLog = { info() {}, warn() {}, error() {} };

/** What the Alga-managed mode needs of a bundle named by its hash. */
export interface ManagedComponent {
  /** the hash the engine knows the bundle's component by */
  readonly componentHash: string;
  readonly manifestCapabilities: readonly string[];
}

/** Bundles of the Alga-managed mode whose component hash and capabilities are remembered. */
const MANAGED_BUNDLES_KEPT = 10_000;

type Failure = (outcome: string, error: ServiceError, level?: 'warn' | 'error') => ServiceError;

/** A store's refusal to give a bundle, as the service answers it. */
function fetchFailure(error: BundleError, what: string, failure: Failure, missing: 'component_missing' | 'bundle_not_found' = 'component_missing'): ServiceError {
  const { code, message } = error;
  if (code === 'BUNDLE_NOT_FOUND') return failure('not_found', new ServiceError(missing, `${message} (${what})`));
  // bytes that are not what their hash says: damage or tampering, never served, always loud
  if (code === 'BUNDLE_HASH_MISMATCH') return failure('hash_mismatch', new ServiceError('component_hash_mismatch', message), 'error');
  if (code === 'BUNDLE_STORE_UNAVAILABLE') return failure('unavailable', new ServiceError('component_unavailable', message, { retry_after_s: COMPONENT_RETRY_AFTER_S, reason: 'store_unreachable' }));
  if (code === 'BUNDLE_INVALID_KEY') return failure('refused', new ServiceError('invalid_request', `no bundle key for ${what}: ${message}`));
  return failure('refused', new ServiceError('internal', `fetching the bundle (${what}): ${message}`), 'error');
}

export class ComponentSource {
  /** fetches and preparations under way, by component hash */
  private readonly running = new Map<string, Promise<void>>();
  /** the Alga-managed mode's bundles: known ones, and fetches under way (by tenant, extension, hash) */
  private readonly bundles = new Map<string, ManagedComponent>();
  private readonly runningBundles = new Map<string, Promise<ManagedComponent>>();
  log: ComponentSourceLog = SILENT_LOG;

  constructor(
    private readonly engine: EngineApi,
    readonly store: BundleStore,
    private readonly timeoutMs: number,
    private readonly metrics: ServiceMetrics,
  ) {}

  /** Returns once the engine has `componentHash` prepared; otherwise throws the ServiceError to answer with. */
  async ensure(version: ExtensionVersion, componentHash: string): Promise<void> {
    if (await this.engine.isPrepared(componentHash)) return;
    let work = this.running.get(componentHash);
    if (!work) {
      work = this.fetchAndPrepare(version, componentHash).finally(() => this.running.delete(componentHash));
      // a waiter that gave up no longer listens: the outcome is still logged and counted
      work.catch(() => undefined);
      this.running.set(componentHash, work);
    }
    await this.within(work, componentHash);
  }

  /**
   * The Alga-managed mode (RUNNER_REGISTRY=alga): the caller names a bundle by Alga's tenant,
   * extension and bundle hash; its bytes are fetched from Alga's bundle store under
   * `tenants/{tenant}/extensions/{extension}/sha256/{hex}/bundle.tar.zst` (the key Alga's runner
   * builds from `x-alga-tenant` and `x-alga-extension`), verified, read, and its component prepared
   * once. What the bundle declares is remembered in memory, so a later request only checks the
   * engine still has the component.
   */
  async ensureBundle(tenant: string, extension: string, bundleHash: string): Promise<ManagedComponent> {
    const key = `${tenant}\u0000${extension}\u0000${bundleHash}`;
    const known = this.bundles.get(key);
    if (known && (await this.engine.isPrepared(known.componentHash))) return known;
    let work = this.runningBundles.get(key);
    if (!work) {
      // remembered by the work itself, so a waiter that gave up still leaves it known for the next request
      work = this.fetchAndPrepareBundle(tenant, extension, bundleHash)
        .then((found) => {
          if (this.bundles.size >= MANAGED_BUNDLES_KEPT) this.bundles.delete(this.bundles.keys().next().value as string);
          this.bundles.set(key, found);
          return found;
        })
        .finally(() => this.runningBundles.delete(key));
      work.catch(() => undefined);
      this.runningBundles.set(key, work);
    }
    return this.within(work, bundleHash);
  }

  /** `work`, or `component_unavailable` once the fetch timeout has passed (the work goes on). */
  private async within<T>(work: Promise<T>, hash: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ServiceError('component_unavailable', `${hash} was not fetched from the ${this.store.kind} store and prepared within ${this.timeoutMs} ms`, {
              retry_after_s: COMPONENT_RETRY_AFTER_S,
              reason: 'timeout',
            }),
          ),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetchAndPrepareBundle(tenant: string, extension: string, bundleHash: string): Promise<ManagedComponent> {
    const fields = { bundle: bundleHash, tenant, extension, store: this.store.kind, file: BUNDLE_FILE };
    const failure = (outcome: string, error: ServiceError, level: 'warn' | 'error' = 'warn'): ServiceError => {
      this.metrics.componentFetches.inc({ outcome });
      this.log[level]({ ...fields, outcome }, error.message);
      return error;
    };
    const started = performance.now();
    const fetched = await this.store.getBundle(tenant, extension, bundleHash, BUNDLE_FILE);
    if (fetched.kind === 'err') throw fetchFailure(fetched.error, `tenant ${tenant}, extension ${extension}`, failure, 'bundle_not_found');
    const fetchMs = performance.now() - started;
    const bundle = await readBundle(fetched.value, { expectedContentHash: bundleHash });
    if (bundle.kind === 'err') {
      if (bundle.error.code === 'BUNDLE_HASH_MISMATCH') throw failure('hash_mismatch', new ServiceError('component_hash_mismatch', bundle.error.message), 'error');
      throw failure('refused', new ServiceError('invalid_bundle', `the stored bundle ${bundleHash} cannot be read: ${bundle.error.message}`, { bundle_error: bundle.error.code }), 'error');
    }
    const component = bundle.value.mainWasm;
    // a UI-only bundle: its UI is served at /ext-ui, there is nothing to run (Alga's API route finds no endpoint for it)
    if (!component) throw failure('ui_only', new ServiceError('no_component', `bundle ${bundleHash} (tenant ${tenant}, extension ${extension})`));
    const componentHash = contentHashOf(component);
    const preparing = performance.now();
    if (!(await this.engine.isPrepared(componentHash))) {
      const prepared = await this.engine.prepare(component);
      if (prepared.kind === 'err') throw failure('refused', new ServiceError('internal', `preparing ${componentHash} of bundle ${bundleHash}: ${prepared.problem.message}`), 'error');
    }
    this.metrics.componentFetches.inc({ outcome: 'prepared' });
    this.log.info(
      { ...fields, component: componentHash, bytes: fetched.value.byteLength, fetch_ms: Math.round(fetchMs), prepare_ms: Math.round(performance.now() - preparing) },
      "bundle fetched from Alga's bundle store and prepared",
    );
    return { componentHash, manifestCapabilities: [...bundle.value.manifest.capabilities] };
  }

  private async fetchAndPrepare(version: ExtensionVersion, componentHash: string): Promise<void> {
    const stored = storedVersionOf(version, componentHash);
    const fields = { component: componentHash, version: version.id, extension: version.extensionId, store: this.store.kind, file: stored.file };
    /** counted, logged, and returned to be thrown */
    const failure = (outcome: string, error: ServiceError, level: 'warn' | 'error' = 'warn'): ServiceError => {
      this.metrics.componentFetches.inc({ outcome });
      this.log[level]({ ...fields, outcome }, error.message);
      return error;
    };
    const started = performance.now();
    const fetched = await this.store.getBundle(REGISTRY_TENANT, stored.extensionId, stored.contentHash, stored.file);
    if (fetched.kind === 'err') throw fetchFailure(fetched.error, `version ${version.id}`, failure);
    const fetchMs = performance.now() - started;

    let component = fetched.value;
    if (stored.file === BUNDLE_FILE) {
      // the bundle's bytes are its hash's (checked by the store); its component must be the version's
      const bundle = await readBundle(fetched.value, { expectedContentHash: stored.contentHash });
      if (bundle.kind === 'err') throw failure('refused', new ServiceError('internal', `the stored bundle ${stored.contentHash} cannot be read: ${bundle.error.message}`), 'error');
      if (!bundle.value.mainWasm) throw failure('refused', new ServiceError('internal', `the stored bundle ${stored.contentHash} has no component, the version names ${componentHash}`), 'error');
      component = bundle.value.mainWasm;
      const actual = contentHashOf(component);
      if (actual !== componentHash) {
        throw failure('hash_mismatch', new ServiceError('component_hash_mismatch', `the bundle ${stored.contentHash} holds component ${actual}, the version names ${componentHash}`), 'error');
      }
    }

    const preparing = performance.now();
    const prepared = await this.engine.prepare(component);
    if (prepared.kind === 'err') throw failure('refused', new ServiceError('internal', `preparing ${componentHash} fetched from the store: ${prepared.problem.message}`), 'error');
    this.metrics.componentFetches.inc({ outcome: 'prepared' });
    this.log.info(
      { ...fields, bytes: fetched.value.byteLength, fetch_ms: Math.round(fetchMs), prepare_ms: Math.round(performance.now() - preparing) },
      'component fetched from the component store and prepared',
    );
  }
}
