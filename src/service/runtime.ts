/**
 * Everything a running service holds: store, engine, capability registry, metrics, install cache.
 * Built once at start from the validated config; closed once at shutdown. The install cache holds
 * until the store's change feed says the install changed (store/change-feed.ts): no expiry.
 */
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { Engine } from '../engine/engine.js';
import type { EngineApi, WarmOutcome } from '../engine/api.js';
import { DEFAULT_LIMITS } from '../engine/limits.js';
import { openStore, type Change, type Store, type Install, type InstallLimits, type ExtensionVersion } from '../store/index.js';
import { createStoreTenantData, type StoreTenantData } from '../store/tenant-data.js';
import { TenantDataReadCache } from '../store/tenant-data-cache.js';
import { createAlgaApiTenantData } from '../capabilities/tenant-data-api.js';
import { createAlgaApiScheduler } from '../capabilities/scheduler-api.js';
import { createAlgaApiInvoicing } from '../capabilities/invoicing-api.js';
import { createStoreScheduler, type StoreScheduler } from '../store/schedules.js';
import { createStoreInvoicing, type StoreInvoicing } from '../store/invoices.js';
import { createCapabilityRegistry } from '../capabilities/index.js';
import type { CapabilityCallObserver, CapabilityRegistry } from '../capabilities/registry.js';
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import type { ServiceConfig } from './config.js';
import { ServiceMetrics } from './metrics.js';
import { ComponentSource } from './component-source.js';
import { createAlgaApiKv } from '../capabilities/storage-api.js';
import { createComponentStore } from './component-store.js';
import { ServiceError } from './errors.js';
import { AdmissionControl, type AdmissionLimiter } from './admission.js';
import { RedisAdmission } from './redis-admission.js';

export interface ResolvedInstall {
  install: Install;
  version: ExtensionVersion;
  /** capabilities the version's manifest declares */
  manifestCapabilities: string[];
  /** the component's own hash (the engine's key); differs from the version's bundle hash for bundles */
  componentHash: string;
}

/**
 * Stand-ins for what makes a request durable, for a benchmark that runs the same service on
 * in-memory capabilities (bench/memory-service.ts) to see what the store costs. The service never
 * sets them.
 */
export interface RuntimeSeams {
  /** the store as the service uses it, from the one opened (e.g. with in-memory log records) */
  readonly adaptStore?: (store: Store) => Store;
  /** the capability registry, instead of the real capabilities over the store */
  readonly registry?: (store: Store, observer: CapabilityCallObserver) => CapabilityRegistry;
}

export class Runtime {
  /**
   * Fires 'logs' with an install id after records of it are stored by any process on the store (the
   * change feed), for live tails; 'shutdown' ends them.
   */
  readonly logBus = new EventEmitter();
  /** resolved installs by (tenant, extension, install id): dropped when the change feed names them */
  private readonly installCache = new Map<string, ResolvedInstall>();
  /** +1 whenever cached installs are dropped: a lookup that overlapped a change does not cache its answer */
  private cacheEpoch = 0;
  /** 'install' (id) and 'everything', as the change feed tells them, after the cache dropped them (the executor narrows running executions) */
  readonly installChanges = new EventEmitter();
  /** told when a pooled PostgreSQL connection breaks (the app logs it); the metric counts it either way */
  onStoreConnectionError: ((error: Error) => void) | null = null;
  /** told when the change feed's LISTEN connection breaks, or it treats everything as changed (the app logs it) */
  onChangeFeedNote: ((note: { kind: 'listen-error'; error: Error } | { kind: 'resync'; reason: string } | { kind: 'install'; installId: string }) => void) | null = null;

  private constructor(
    readonly config: ServiceConfig,
    readonly store: Store,
    readonly tenantStore: StoreTenantData,
    /** the store's schedules and invoices (what the admin API reads; the capabilities' backends unless Alga's API serves them) */
    readonly scheduleStore: StoreScheduler,
    readonly invoiceStore: StoreInvoicing,
    readonly registry: CapabilityRegistry,
    /** the engine, through its API: the service never reaches its worker pool */
    readonly engine: EngineApi,
    readonly metrics: ServiceMetrics,
    /** versions' components from the shared component store, for a replica that has not prepared them */
    readonly components: ComponentSource,
    /** per-tenant admission: in this process, or shared through Redis (RUNNER_REDIS_URL) */
    readonly admission: AdmissionLimiter,
  ) {
    this.logBus.setMaxListeners(0);
    engine.on('restart', (reason) => metrics.workerRestarts.inc({ reason }));
    engine.on('probation', () => metrics.probations.inc());
    metrics.observePenalised(() => engine.installsOnProbation);
    metrics.observeHotWait(engine.hotWaitStats);
    metrics.observeAdmission(admission);
    store.changes.subscribe((change) => this.onChange(change));
    metrics.observeChangeFeed(store.changes.stats);
  }

  /** What this process holds about an install goes when the change feed says it changed. */
  private onChange(change: Change): void {
    switch (change.kind) {
      case 'logs':
        this.logBus.emit('logs', change.installId);
        return;
      case 'storage':
      case 'tenant-data':
        // another process's storage writes and tenant data replaces concern the stores' read caches only (kv-read-cache.ts, tenant-data.ts)
        return;
      case 'everything':
        this.cacheEpoch++;
        this.installCache.clear();
        this.metrics.changeFeedResyncs.inc({ reason: change.reason });
        this.onChangeFeedNote?.({ kind: 'resync', reason: change.reason });
        this.installChanges.emit('everything');
        return;
      case 'install':
        this.cacheEpoch++;
        for (const [key, cached] of this.installCache) if (cached.install.id === change.installId) this.installCache.delete(key);
        this.onChangeFeedNote?.({ kind: 'install', installId: change.installId });
        this.installChanges.emit('install', change.installId);
        void this.settleEngine(change.installId);
        return;
    }
  }

  /** A removed install, or one that no longer reuses an instance, loses the engine's instances kept for it. */
  private async settleEngine(installId: string): Promise<void> {
    if (this.closing) return;
    const install = await this.store.registry.getInstall(installId).catch(() => undefined);
    if (install === undefined || this.closing) return;
    if (install === null || install.instanceMode !== 'reuse') this.engine.forgetInstall(installId, install === null);
  }

  static async create(config: ServiceConfig, seams: RuntimeSeams = {}): Promise<Runtime> {
    const metrics = new ServiceMetrics({ installLabels: config.metricsInstallLabels });
    let runtime: Runtime | undefined;
    const onPoolError = (error: Error) => {
      metrics.storeConnectionErrors.inc();
      runtime?.onStoreConnectionError?.(error);
    };
    const opened = await openStore({
      databaseUrl: config.databaseUrl,
      schema: config.databaseSchema,
      sqliteSynchronous: config.sqliteSynchronous,
      dataDir: config.dataDir,
      secretsKey: config.secretsKey,
      onPoolError,
      fenceInstallWrites: true,
      // the change feed is started below, before any request: it keeps these right across replicas
      cacheReads: true,
    });
    const store = seams.adaptStore ? seams.adaptStore(opened) : opened;
    try {
      const tenantStore = createStoreTenantData(store.db, store.readOnlyFile, store.reader, { changes: store.changes, cache: new TenantDataReadCache(store.changes) });
      const scheduleStore = createStoreScheduler(store.db, store.registry, { mutationsPerMinute: config.scheduleMutationsPerMinute });
      const invoiceStore = createStoreInvoicing(store.db);
      // RUNNER_TENANT_DATA_URL: Alga's internal API serves clients, services, scheduler and invoicing
      const alga = config.tenantData.kind === 'alga' ? { baseUrl: config.tenantData.baseUrl, runnerAuthToken: config.tenantData.token } : null;
      const tenantData: TenantDataBackend = alga ? createAlgaApiTenantData(alga) : tenantStore;
      const registry = seams.registry
        ? seams.registry(store, metrics.capabilityObserver)
        : createCapabilityRegistry({
            store,
            tenantData,
            scheduler: alga ? createAlgaApiScheduler(alga) : scheduleStore,
            invoicing: alga ? createAlgaApiInvoicing(alga) : invoiceStore,
            // the Alga-managed mode: installs are Alga's, and so is their storage (ext-storage)
            ...(alga && config.registry === 'alga' && { kv: createAlgaApiKv(alga) }),
            http: { allowPrivate: config.egressAllowPrivate },
            observer: metrics.capabilityObserver,
            workerReads: config.workerReads,
          });
      const engine = await Engine.create({
        cacheDir: join(config.dataDir, 'artifacts'),
        registry,
        workers: config.workers,
        instanceMemoryMb: config.instanceMemoryMb,
        cores: config.cores,
        writeTracking: config.writeTracking,
        hotWaitMs: config.hotWaitMs,
        fairness: { strikes: config.penaltyStrikes, penaltyMs: config.penaltyMs },
      });
      const components = new ComponentSource(engine, createComponentStore(config, store), config.componentFetchTimeoutMs, metrics);
      runtime = new Runtime(config, store, tenantStore, scheduleStore, invoiceStore, registry, engine, metrics, components, await createAdmission(config));
      const self = runtime;
      try {
        await store.changes.start({ recheckMs: config.changeRecheckMs, listen: config.changeListen, onListenError: (error) => self.onChangeFeedNote?.({ kind: 'listen-error', error }) });
      } catch (e) {
        await engine.close();
        throw e;
      }
      return runtime;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  /**
   * The install for a tenant: by install id, else by extension id or name. Cached until the change
   * feed names the install (or says everything changed): a change made through any replica drops
   * it here once its notification arrives (docs/architecture.md, "Changes across replicas").
   */
  async resolveInstall(tenantId: string, extension: string, installId: string | null | undefined): Promise<ResolvedInstall | null> {
    const key = `${tenantId}\u0000${extension}\u0000${installId ?? ''}`;
    const cached = this.installCache.get(key);
    if (cached) return cached;
    const epoch = this.cacheEpoch;
    const resolved = await this.lookupInstall(tenantId, extension, installId);
    // a change told while the lookup ran may not be in what it read: answer it, do not keep it
    if (resolved && epoch === this.cacheEpoch) this.installCache.set(key, resolved);
    return resolved;
  }

  /** Changes heard so far (any install): a value taken before resolveInstall tells whether one came since. */
  get changesHeard(): number {
    return this.cacheEpoch;
  }

  /** An execution's memory cap: the request's, else the install's, else the default — never above the operator maximum. */
  memoryMbFor(limits: InstallLimits, requested?: number): number {
    return Math.min(requested ?? limits.memoryMb ?? DEFAULT_LIMITS.memoryMb, this.config.maxMemoryMb);
  }

  /** An execution's deadline, chosen the same way. */
  timeoutMsFor(limits: InstallLimits, requested?: number): number {
    return Math.min(requested ?? limits.timeoutMs ?? this.config.defaultTimeoutMs, this.config.maxTimeoutMs);
  }

  /**
   * After a restart: warms the enabled installs' versions, most recently changed first, up to
   * `limit` distinct (component, memory cap) pairs — one warm-up serves every install of the pair.
   * Runs in the background; requests meanwhile are served as usual (a cold one joins the work).
   */
  async warmInstalled(limit: number): Promise<{ warmed: number; failed: number }> {
    const installs = (await this.store.registry.listInstalls()).filter((i) => i.enabled).sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
    const seen = new Set<string>();
    let warmed = 0;
    let failed = 0;
    for (const install of installs) {
      if (seen.size >= limit || this.closing) break;
      const version = await this.store.registry.getVersion(install.versionId);
      // a UI-only version has nothing to warm
      if (!version || isUiOnly(version)) continue;
      const key = `${componentHashOf(version)}@${this.memoryMbFor(install.limits)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const outcome = await this.warm(version, install.limits).catch((e: unknown) => {
        // the component store away, the bytes missing: the version's first request tries again
        if (e instanceof ServiceError) return { kind: 'fault' as const, code: e.code, message: e.message };
        throw e;
      });
      if (outcome.kind === 'ok') {
        warmed++;
        continue;
      }
      failed++;
      this.metrics.warmFailures.inc({ reason: outcome.code });
      this.components.log.warn(
        { install: install.id, version: version.id, component: componentHashOf(version), reason: outcome.code },
        `warming an installed version at start failed: ${outcome.message}`,
      );
    }
    return { warmed, failed };
  }

  /**
   * Gets a version ready to serve under an install's limits (Engine.warm): compiled, loaded,
   * instantiated, not run. `reuseFor`: a reuse-mode install, which gets its own warm instance.
   * Throws the ServiceError of ensurePrepared.
   */
  async warm(version: ExtensionVersion, limits: InstallLimits, reuseFor?: { tenantId: string; installId: string }): Promise<WarmOutcome> {
    await this.ensurePrepared(version);
    return this.engine.warm({ contentHash: componentHashOf(version), limits: { memoryMb: this.memoryMbFor(limits), timeoutMs: this.timeoutMsFor(limits) }, reuseFor });
  }

  /**
   * Makes sure this process has the version's component prepared, fetching it from the component
   * store when it does not (component-source.ts); throws `component_unavailable`,
   * `component_missing` or `component_hash_mismatch` when that cannot be done, `no_component`
   * for a UI-only version.
   */
  async ensurePrepared(version: ExtensionVersion): Promise<void> {
    if (isUiOnly(version)) throw new ServiceError('no_component', `version ${version.id} (${version.contentHash})`);
    return this.components.ensure(version, componentHashOf(version));
  }

  private async lookupInstall(tenantId: string, extension: string, installId: string | null | undefined): Promise<ResolvedInstall | null> {
    const { registry } = this.store;
    let install: Install | null = null;
    if (installId) {
      install = await registry.getInstall(installId);
      if (!install || install.tenantId !== tenantId) return null;
      const ext = await registry.getExtension(install.extensionId);
      if (install.extensionId !== extension && ext?.name !== extension) return null;
    } else {
      const byId = await registry.getExtension(extension);
      const candidates = byId ? [byId] : await registry.findExtensionsByName(extension);
      for (const ext of candidates) {
        install = await registry.findInstall(tenantId, ext.id);
        if (install) break;
      }
    }
    if (!install) return null;
    const version = await registry.getVersion(install.versionId);
    if (!version) return null;
    const caps = version.manifest.capabilities;
    return { install, version, componentHash: componentHashOf(version), manifestCapabilities: Array.isArray(caps) ? caps.filter((c): c is string => typeof c === 'string') : [] };
  }

  /** set when the service shuts down: background work (the start-up warm-up) stops */
  closing = false;

  async close(): Promise<void> {
    this.closing = true;
    await this.admission.close();
    await this.engine.close();
    await this.store.close();
  }
}

/** How long a start waits for the limiter's Redis before serving with per-replica limits (it keeps trying). */
const REDIS_START_WAIT_MS = 3_000;

async function createAdmission(config: ServiceConfig): Promise<AdmissionLimiter> {
  const limits = { perTenant: config.tenantConcurrency, tenantQueue: config.tenantQueue, globalQueue: config.globalQueue };
  if (!config.redisUrl) return new AdmissionControl(limits);
  const redis = new RedisAdmission({ url: config.redisUrl, prefix: config.redisPrefix, limits, leaseMs: config.limiterLeaseMs });
  await redis.ready(REDIS_START_WAIT_MS);
  return redis;
}

/** A UI-only version: a bundle with a UI and no component, registered with `component_hash: null` (registration.ts). */
export function isUiOnly(version: ExtensionVersion): boolean {
  return version.manifest.component_hash === null;
}

/** The hash the engine knows a version's component by: a bundle's version hash is the bundle's, not the component's. */
export function componentHashOf(version: ExtensionVersion): string {
  return typeof version.manifest.component_hash === 'string' ? version.manifest.component_hash : version.contentHash;
}
