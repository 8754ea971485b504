/**
 * `POST /v1/execute`: Alga's gateway calls this with a service token and the execute envelope
 * (envelope.ts). Refusals are transport 4xx/5xx (docs/errors.md); once the guest ran (or was
 * tried), the answer is transport 200 with the guest's status, or status 500/504 and a fault code.
 */
import type { FastifyInstance } from 'fastify';
import { requireExecuteCaller } from '../auth.js';
import type { IpNetwork } from '../../net/ip-networks.js';
import { executeEnvelopeSchema } from '../envelope.js';
import { ServiceError } from '../errors.js';
import type { Executor } from '../executor.js';
import { parseWith } from '../validation.js';
import { documented, errorResponses, fromZod, SERVICE_SECURITY } from '../openapi.js';

const schema = {
  summary: 'Run one request through an installed extension (the gateway contract)',
  description:
    "Needs the service token, except from the networks the operator lists in RUNNER_TOKENLESS_NETWORKS (then a call with no token at all is accepted; docs/security.md). `secret_envelope` is opened only with RUNNER_ENVELOPE_SECRETS=1 (docs/alga.md); otherwise it is ignored. With RUNNER_REGISTRY=alga (the Alga-managed mode) the context names the install (install_id, version_id and content_hash required), `providers` are its grants, the bundle comes from Alga's bundle store and `secret_envelope` is always opened.",
  tags: ['execute'],
  security: SERVICE_SECURITY,
  headers: {
    type: 'object',
    required: ['x-alga-tenant'],
    properties: {
      'x-alga-tenant': { type: 'string', description: 'must equal context.tenant_id (else 400 tenant_mismatch)' },
      'x-alga-extension': { type: 'string', description: 'when sent, must equal context.extension_id (else 400 extension_mismatch)' },
      'x-idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: 'replays the answer of the same request; a different request with the key is 422 idempotency_key_reused' },
      'x-request-id': { type: 'string', description: 'used as context.request_id when the envelope has none' },
    },
  },
  body: fromZod(executeEnvelopeSchema),
  response: {
    200: {
      description: "the guest's answer, or its fault (`error` set, `status` 500 or 504)",
      type: 'object',
      required: ['status', 'headers'],
      properties: {
        status: { type: 'integer', minimum: 200, maximum: 599 },
        headers: {
          type: 'object',
          description: 'lower-cased names; a repeated header joined with ", ", except a repeated set-cookie, which is a list',
          additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        },
        body_b64: { type: 'string', format: 'byte', description: "the guest's body, base64" },
        error: { type: 'string', description: 'guest fault code (docs/errors.md, "Guest faults")' },
        message: { type: 'string' },
      },
    },
    ...errorResponses(
      'invalid_request',
      'tenant_mismatch',
      'extension_mismatch',
      'unknown_capability',
      'unauthorized',
      'install_disabled',
      'install_not_found',
      'no_component',
      'content_hash_mismatch',
      'secret_envelope_invalid',
      'secret_decrypt_failed',
      'body_too_large',
      'unsupported_media_type',
      'idempotency_key_reused',
      'too_many_requests',
      'overloaded',
      'shutting_down',
      'component_unavailable',
      'component_missing',
      'bundle_not_found',
      'invalid_bundle',
      'component_hash_mismatch',
      'store_unavailable',
      'idempotency_wait_timeout',
    ),
  },
};

export function executeRoutes(app: FastifyInstance, deps: { executor: Executor; serviceToken: string; tokenlessNetworks: readonly IpNetwork[] }): void {
  app.post('/v1/execute', documented(schema), async (request, reply) => {
    const caller = requireExecuteCaller(request, deps.serviceToken, deps.tokenlessNetworks);
    if (caller.via === 'network') request.log.debug({ network: caller.network, remote: request.ip }, 'tokenless execute call from a listed network');
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
