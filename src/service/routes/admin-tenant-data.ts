/** `PUT /admin/v1/tenants/{tenant}/clients|services` — the embedded tenant-data backend's content. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { replaceClientsBodySchema, replaceServicesBodySchema } from '../../store/tenant-data-items.js';
import type { Runtime } from '../runtime.js';
import { parseWith } from '../validation.js';
import { ADMIN_SECURITY, documented, errorResponses, fromZod } from '../openapi.js';

const params = z.object({ tenant: z.string().min(1).max(200) });

const replaceSchema = (what: string, body: z.ZodType) =>
  documented({
    summary: `Replace the tenant's ${what} in the embedded tenant-data backend (what cap:${what === 'clients' ? 'client' : 'service'}.read returns without RUNNER_TENANT_DATA_URL)`,
    tags: ['admin'],
    security: ADMIN_SECURITY,
    params: fromZod(params),
    body: fromZod(body),
    response: { 204: { description: 'replaced' }, ...errorResponses('unauthorized', 'invalid_request', 'unsupported_media_type', 'body_too_large', 'shutting_down', 'store_unavailable') },
  });

export function adminTenantDataRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.put('/admin/v1/tenants/:tenant/clients', replaceSchema('clients', replaceClientsBodySchema), async (request, reply) => {
    const { tenant } = parseWith(params, request.params, 'params');
    const { items } = parseWith(replaceClientsBodySchema, request.body, 'body');
    await runtime.tenantStore.replaceClients(tenant, items);
    return reply.code(204).send();
  });
  app.put('/admin/v1/tenants/:tenant/services', replaceSchema('services', replaceServicesBodySchema), async (request, reply) => {
    const { tenant } = parseWith(params, request.params, 'params');
    const { items } = parseWith(replaceServicesBodySchema, request.body, 'body');
    await runtime.tenantStore.replaceServices(tenant, items);
    return reply.code(204).send();
  });
}
