/**
 * `alga:extension/clients` (cap:client.read): the tenant's clients, read-only (wit/world.wit).
 * The data comes from whichever TenantDataBackend the service chose (embedded store or Alga's API);
 * the tenant is always the execution's own. Over the embedded SQLite store both functions are
 * answered in the guest's worker (the worker side in tenant-data-calls.ts).
 */
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { defineCapability, err, type Capability } from './capability.js';
import { serve } from './dialects.js';
import { hostResultOf, tenantDataScope, tenantDataWorkerSide } from './tenant-data-calls.js';

export const CLIENT_READ = 'cap:client.read';

/** `inWorker`: workers may read the store this backend reads (the registry's workerStore) — then both reads are answered in the worker (delivery `in-worker`). */
export function createClientsCapability(backend: TenantDataBackend, inWorker = false): Capability<null, null> {
  return defineCapability<null, null>({
    name: CLIENT_READ,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    ...tenantDataWorkerSide('clients', inWorker),
    interfaces: [
      serve('alga:extension/clients', {
        functions: {
          listClients: async ({ args, ctx, services }) => hostResultOf(await backend.listClients(tenantDataScope(ctx, services), args[0] as object), services, 'clients.list-clients'),
          getClient: async ({ args, ctx, services }) => hostResultOf(await backend.getClient(tenantDataScope(ctx, services), args[0] as string), services, 'clients.get-client'),
        },
        denied: { listClients: err('not-allowed'), getClient: err('not-allowed') },
        onFailure: err('internal'),
        delivery: { listClients: 'in-worker', getClient: 'in-worker' },
      }),
    ],
  });
}
