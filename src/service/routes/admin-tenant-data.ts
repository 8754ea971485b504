/** `PUT /admin/v1/tenants/{tenant}/clients|services` — the embedded tenant-data backend's content. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { replaceClientsBodySchema, replaceServicesBodySchema } from '../../store/tenant-data-items.js';
import type { Runtime } from '../runtime.js';
import { parseWith } from '../validation.js';

const params = z.object({ tenant: z.string().min(1).max(200) });

export function adminTenantDataRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.put('/admin/v1/tenants/:tenant/clients', async (request, reply) => {
    const { tenant } = parseWith(params, request.params, 'params');
    const { items } = parseWith(replaceClientsBodySchema, request.body, 'body');
    await runtime.tenantStore.replaceClients(tenant, items);
    return reply.code(204).send();
  });
  app.put('/admin/v1/tenants/:tenant/services', async (request, reply) => {
    const { tenant } = parseWith(params, request.params, 'params');
    const { items } = parseWith(replaceServicesBodySchema, request.body, 'body');
    await runtime.tenantStore.replaceServices(tenant, items);
    return reply.code(204).send();
  });
}
