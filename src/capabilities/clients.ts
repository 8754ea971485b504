/**
 * `alga:extension/clients` (cap:client.read): the tenant's clients, read-only (DESIGN.md §3, §4).
 * The data comes from whichever TenantDataBackend the service chose (embedded store or Alga's API);
 * the tenant is always the execution's own. Over the embedded SQLite store both functions are
 * answered in the guest's worker (its worker side, below).
 */
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { createTenantDataReader } from '../store/tenant-data.js';
import { SqliteReader, type WorkerReadableStore } from '../store/sqlite-reader.js';
import { defineCapability, err, type Capability } from './capability.js';
import type { CreateWorkerFunctions, WorkerFunction } from './worker-side.js';
import { hostResultOf, tenantDataScope } from './tenant-data-calls.js';

export const CLIENT_READ = 'cap:client.read';
const CLIENTS_INTERFACE = 'alga:extension/clients';

/** Worker side (worker-side.ts): both reads from the worker's own read-only connection to the SQLite store. */
export const createWorkerFunctions: CreateWorkerFunctions = (init) => {
  const data = createTenantDataReader(SqliteReader.open((init as WorkerReadableStore).sqliteFile));
  const listClients: WorkerFunction<null> = (call) => hostResultOf(data.listClients(call.ctx.tenantId, call.args[0] as object), call, 'clients.list-clients');
  const getClient: WorkerFunction<null> = (call) => hostResultOf(data.getClient(call.ctx.tenantId, call.args[0] as string), call, 'clients.get-client');
  return { [`${CLIENTS_INTERFACE}#listClients`]: listClients, [`${CLIENTS_INTERFACE}#getClient`]: getClient };
};

/** `workerReadable`: the embedded store's file, when workers may read it — then both reads are answered in the worker (delivery `in-worker`). */
export function createClientsCapability(backend: TenantDataBackend, workerReadable: WorkerReadableStore | null = backend.workerReadable ?? null): Capability<null, null> {
  return defineCapability<null, null>({
    name: CLIENT_READ,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    ...(workerReadable ? { worker: { module: import.meta.url, init: { sqliteFile: workerReadable.sqliteFile, secretsKey: null } satisfies WorkerReadableStore } } : {}),
    interfaces: [
      {
        name: CLIENTS_INTERFACE,
        functions: {
          listClients: async ({ args, ctx, services }) =>
            hostResultOf(await backend.listClients(tenantDataScope(ctx, services), args[0] as object), services, 'clients.list-clients'),
          getClient: async ({ args, ctx, services }) =>
            hostResultOf(await backend.getClient(tenantDataScope(ctx, services), args[0] as string), services, 'clients.get-client'),
        },
        denied: { listClients: err('not-allowed'), getClient: err('not-allowed') },
        onFailure: err('internal'),
        delivery: { listClients: 'in-worker', getClient: 'in-worker' },
      },
    ],
  });
}
