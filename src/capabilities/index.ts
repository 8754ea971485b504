/**
 * Assembles the registry of every capability this runner serves, over the backends it is given.
 * Adding a capability = adding its module and one line here.
 */
import type { Store } from '../store/index.js';
import type { KvAccess } from '../store/kv.js';
import { DEFAULT_KV_LIMITS } from '../store/kv-limits.js';
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { CapabilityRegistry, type CapabilityCallObserver } from './registry.js';
import type { Capability } from './capability.js';
import { contextCapability } from './context.js';
import { createSecretsCapability } from './secrets.js';
import { createHttpCapability, type HttpCapabilityOptions } from './http.js';
import { createStorageCapability } from './storage.js';
import { createLoggingCapability } from './logging.js';
import { createUiProxyCapability } from './ui-proxy.js';
import { userCapability } from './user.js';
import { createClientsCapability } from './clients.js';
import { createServicesCapability } from './services.js';
import { createSchedulerCapability } from './scheduler.js';
import { createInvoicingCapability } from './invoicing.js';
import type { SchedulerBackend } from '../store/scheduler-model.js';
import type { InvoicingBackend } from '../store/invoicing-model.js';
import { createStoreScheduler } from '../store/schedules.js';
import { createStoreInvoicing } from '../store/invoices.js';

export interface CapabilityBackends {
  store: Store;
  /** clients/services: the store's tables (embedded default) or Alga's internal API */
  tenantData: TenantDataBackend;
  http: HttpCapabilityOptions;
  /** scheduler (Alga's dialect): the store's schedules (default) or Alga's internal API */
  scheduler?: SchedulerBackend;
  /** invoicing (Alga's dialect): the store's invoices (default) or Alga's internal API */
  invoicing?: InvoicingBackend;
  /** storage: the store's kv (default) or Alga's ext-storage API (the Alga-managed mode) */
  kv?: KvAccess;
  observer?: CapabilityCallObserver;
  /**
   * Let guest workers answer reads themselves where the backends allow it (the embedded SQLite
   * store; default true). Off (RUNNER_WORKER_READS=0): every such call is a round trip.
   */
  workerReads?: boolean;
}

/** A capability whose calls reach outside the runner: each waits for the execution's writes to be on disk first (Capability.leavesRunner). */
const reachingOut = <Config, State>(c: Capability<Config, State>): Capability<Config, State> => ({ ...c, leavesRunner: true });

export function createCapabilityRegistry({ store, tenantData, http, scheduler, invoicing, kv, observer, workerReads = true }: CapabilityBackends): CapabilityRegistry {
  // the one store the workers open, read-only, for every worker side (engine/guest/worker-sides.ts)
  const workerStore = workerReads ? store.readOnlyFile : null;
  // clients and services read in the worker only when they come from that same store
  const tenantDataInWorker = workerStore !== null && tenantData.readOnlyFile?.sqliteFile === workerStore.sqliteFile;
  const outsideIf = <Config, State>(outside: boolean | undefined, c: Capability<Config, State>) => (outside ? reachingOut(c) : c);
  const getSecret = async (installId: string, name: string) => {
    const found = await store.secrets.getSecret(installId, name);
    return found.kind === 'ok' ? found.value : undefined;
  };
  return new CapabilityRegistry(observer, workerStore)
    .register(contextCapability)
    .register(createSecretsCapability(store.secrets, workerStore !== null))
    .register(reachingOut(createHttpCapability(http)))
    .register(kv ? createStorageCapability(kv) : createStorageCapability(store.kv, DEFAULT_KV_LIMITS, workerStore !== null))
    .register(createLoggingCapability())
    .register(reachingOut(createUiProxyCapability({ getSecret })))
    .register(userCapability)
    .register(outsideIf(tenantData.outsideRunner, createClientsCapability(tenantData, tenantDataInWorker)))
    .register(outsideIf(tenantData.outsideRunner, createServicesCapability(tenantData, tenantDataInWorker)))
    .register(scheduler ? reachingOut(createSchedulerCapability(scheduler)) : createSchedulerCapability(createStoreScheduler(store.db, store.registry)))
    .register(invoicing ? reachingOut(createInvoicingCapability(invoicing)) : createInvoicingCapability(createStoreInvoicing(store.db)));
}
