/** `POST /v1/execute` (DESIGN.md §5): Alga's gateway calls this with a service token. */
import type { FastifyInstance } from 'fastify';
import { requireServiceToken } from '../auth.js';
import { executeEnvelopeSchema } from '../envelope.js';
import { ServiceError } from '../errors.js';
import type { Executor } from '../executor.js';
import { parseWith } from '../validation.js';

export function executeRoutes(app: FastifyInstance, deps: { executor: Executor; serviceToken: string }): void {
  app.post('/v1/execute', async (request, reply) => {
    requireServiceToken(request, deps.serviceToken);
    const envelope = parseWith(executeEnvelopeSchema, request.body, 'body');
    const headerTenant = request.headers['x-alga-tenant'];
    if (typeof headerTenant !== 'string' || headerTenant !== envelope.context.tenant_id) {
      throw new ServiceError('tenant_mismatch', `header ${JSON.stringify(headerTenant ?? null)}, body ${JSON.stringify(envelope.context.tenant_id)}`);
    }
    const headerExtension = request.headers['x-alga-extension'];
    if (typeof headerExtension === 'string' && headerExtension !== envelope.context.extension_id) {
      throw new ServiceError('extension_mismatch', `header ${JSON.stringify(headerExtension)}, body ${JSON.stringify(envelope.context.extension_id)}`);
    }
    if (!envelope.context.request_id && typeof request.headers['x-request-id'] === 'string') envelope.context.request_id = request.headers['x-request-id'];
    const key = request.headers['x-idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > 200)) throw new ServiceError('invalid_request', 'x-idempotency-key must be 1..200 characters');
    const answer = await deps.executor.execute(envelope, key);
    return reply.code(200).send(answer);
  });
}
