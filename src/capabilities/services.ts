/**
 * `alga:extension/services` (cap:service.read): the tenant's service catalogue, read-only
 * (wit/world.wit). Same backends, tenant rule and worker side (tenant-data-calls.ts) as the clients
 * capability.
 */
import type { TenantDataBackend } from '../store/tenant-data-model.js';
import { defineCapability, err, type Capability } from './capability.js';
import { serve } from './dialects.js';
import { hostResultOf, tenantDataScope, tenantDataWorkerSide } from './tenant-data-calls.js';

export const SERVICE_READ = 'cap:service.read';

/** `inWorker`: workers may read the store this backend reads (the registry's workerStore) — then both reads are answered in the worker (delivery `in-worker`). */
export function createServicesCapability(backend: TenantDataBackend, inWorker = false): Capability<null, null> {
  return defineCapability<null, null>({
    name: SERVICE_READ,
    grantedByDefault: false,
    configure: () => null,
    prepare: () => null,
    ...tenantDataWorkerSide('services', inWorker),
    interfaces: [
      serve('alga:extension/services', {
        functions: {
          listServices: async ({ args, ctx, services }) => hostResultOf(await backend.listServices(tenantDataScope(ctx, services), args[0] as object), services, 'services.list-services'),
          getService: async ({ args, ctx, services }) => hostResultOf(await backend.getService(tenantDataScope(ctx, services), args[0] as string), services, 'services.get-service'),
        },
        denied: { listServices: err('not-allowed'), getService: err('not-allowed') },
        onFailure: err('internal'),
        delivery: { listServices: 'in-worker', getService: 'in-worker' },
      }),
    ],
  });
}
