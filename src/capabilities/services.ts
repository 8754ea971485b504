/**
 * `alga:extension/services` (cap:service.read): the tenant's service catalogue, read-only
 * (DESIGN.md §3, §4). Same backends, tenant rule and worker side as the clients capability.
 */
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { createTenantDataReader } from '../store/tenant-data.js';
import { SqliteReader, type WorkerReadableStore } from '../store/sqlite-reader.js';
import { defineCapability, err, type Capability } from './capability.js';
import type { CreateWorkerFunctions, WorkerFunction } from './worker-side.js';
import { hostResultOf, tenantDataScope } from './tenant-data-calls.js';

export const SERVICE_READ = 'cap:service.read';
const SERVICES_INTERFACE = 'alga:extension/services';

/** Worker side (worker-side.ts): both reads from the worker's own read-only connection to the SQLite store. */
export const createWorkerFunctions: CreateWorkerFunctions = (init) => {
  const data = createTenantDataReader(SqliteReader.open((init as WorkerReadableStore).sqliteFile));
  const listServices: WorkerFunction<null> = (call) => hostResultOf(data.listServices(call.ctx.tenantId, call.args[0] as object), call, 'services.list-services');
  const getService: WorkerFunction<null> = (call) => hostResultOf(data.getService(call.ctx.tenantId, call.args[0] as string), call, 'services.get-service');
  return { [`${SERVICES_INTERFACE}#listServices`]: listServices, [`${SERVICES_INTERFACE}#getService`]: getService };
};

/** `workerReadable`: the embedded store's file, when workers may read it — then both reads are answered in the worker (delivery `in-worker`). */
export function createServicesCapability(backend: TenantDataBackend, workerReadable: WorkerReadableStore | null = backend.workerReadable ?? null): Capability<null, null> {
  return defineCapability<null, null>({
    name: SERVICE_READ,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    ...(workerReadable ? { worker: { module: import.meta.url, init: { sqliteFile: workerReadable.sqliteFile, secretsKey: null } satisfies WorkerReadableStore } } : {}),
    interfaces: [
      {
        name: SERVICES_INTERFACE,
        functions: {
          listServices: async ({ args, ctx, services }) =>
            hostResultOf(await backend.listServices(tenantDataScope(ctx, services), args[0] as object), services, 'services.list-services'),
          getService: async ({ args, ctx, services }) =>
            hostResultOf(await backend.getService(tenantDataScope(ctx, services), args[0] as string), services, 'services.get-service'),
        },
        denied: { listServices: err('not-allowed'), getService: err('not-allowed') },
        onFailure: err('internal'),
        delivery: { listServices: 'in-worker', getService: 'in-worker' },
      },
    ],
  });
}
