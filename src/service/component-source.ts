/**
 * A version's component on a replica that has not prepared it: fetched from the component store
 * by content hash, verified, prepared (transpiled) once, kept on disk by the engine. Concurrent
 * requests for one component wait for the same fetch and preparation (one per hash and process);
 * each waits at most RUNNER_COMPONENT_FETCH_TIMEOUT_MS, while the work itself goes on, so a later
 * request finds it done. Requests and warm-ups (admin, start-up) all come through here.
 */
import { BUNDLE_FILE, contentHashOf, readBundle, type BundleStore } from '../bundle/index.js';
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

export class ComponentSource {
  /** fetches and preparations under way, by component hash */
  private readonly running = new Map<string, Promise<void>>();
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
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ServiceError('component_unavailable', `${componentHash} was not fetched from the ${this.store.kind} store and prepared within ${this.timeoutMs} ms`, {
              retry_after_s: COMPONENT_RETRY_AFTER_S,
              reason: 'timeout',
            }),
          ),
        this.timeoutMs,
      );
    });
    try {
      await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
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
    if (fetched.kind === 'err') {
      const { code, message } = fetched.error;
      if (code === 'BUNDLE_NOT_FOUND') throw failure('not_found', new ServiceError('component_missing', `${message} (version ${version.id})`));
      // bytes that are not what their hash says: damage or tampering, never served, always loud
      if (code === 'BUNDLE_HASH_MISMATCH') throw failure('hash_mismatch', new ServiceError('component_hash_mismatch', message), 'error');
      if (code === 'BUNDLE_STORE_UNAVAILABLE')
        throw failure('unavailable', new ServiceError('component_unavailable', message, { retry_after_s: COMPONENT_RETRY_AFTER_S, reason: 'store_unreachable' }));
      throw failure('refused', new ServiceError('internal', `fetching ${stored.contentHash}: ${message}`), 'error');
    }
    const fetchMs = performance.now() - started;

    let component = fetched.value;
    if (stored.file === BUNDLE_FILE) {
      // the bundle's bytes are its hash's (checked by the store); its component must be the version's
      const bundle = await readBundle(fetched.value, { expectedContentHash: stored.contentHash });
      if (bundle.kind === 'err') throw failure('refused', new ServiceError('internal', `the stored bundle ${stored.contentHash} cannot be read: ${bundle.error.message}`), 'error');
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
