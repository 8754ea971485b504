/**
 * Assembles the registry of every capability this runner serves, over the backends it is given.
 * Adding a capability = adding its module and one line here.
 */
import type { Store } from '../store/index.js';
import { DEFAULT_KV_LIMITS } from '../store/kv-limits.js';
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { CapabilityRegistry, type CapabilityCallObserver } from './registry.js';
import { contextCapability } from './context.js';
import { createSecretsCapability } from './secrets.js';
import { createHttpCapability, type HttpCapabilityOptions } from './http.js';
import { createStorageCapability } from './storage.js';
import { createLoggingCapability } from './logging.js';
import { createUiProxyCapability } from './ui-proxy.js';
import { userCapability } from './user.js';
import { createClientsCapability } from './clients.js';
import { createServicesCapability } from './services.js';

export interface CapabilityBackends {
  store: Store;
  /** clients/services: the store's tables (embedded default) or Alga's internal API */
  tenantData: TenantDataBackend;
  http: HttpCapabilityOptions;
  observer?: CapabilityCallObserver;
  /**
   * Let guest workers answer reads themselves where the backends allow it (the embedded SQLite
   * store; default true). Off (RUNNER_WORKER_READS=0): every such call is a round trip.
   */
  workerReads?: boolean;
}

export function createCapabilityRegistry({ store, tenantData, http, observer, workerReads = true }: CapabilityBackends): CapabilityRegistry {
  const storeReadable = workerReads ? store.workerReadable : null;
  const tenantDataReadable = workerReads ? (tenantData.workerReadable ?? null) : null;
  const getSecret = async (installId: string, name: string) => {
    const found = await store.secrets.getSecret(installId, name);
    return found.kind === 'ok' ? found.value : undefined;
  };
  return new CapabilityRegistry(observer)
    .register(contextCapability)
    .register(createSecretsCapability(store.secrets, storeReadable))
    .register(createHttpCapability(http))
    .register(createStorageCapability(store.kv, DEFAULT_KV_LIMITS, storeReadable))
    .register(createLoggingCapability())
    .register(createUiProxyCapability({ getSecret }))
    .register(userCapability)
    .register(createClientsCapability(tenantData, tenantDataReadable))
    .register(createServicesCapability(tenantData, tenantDataReadable));
}
