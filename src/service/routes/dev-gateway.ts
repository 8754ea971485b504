/**
 * Dev gateway: `ANY /api/ext/{extensionIdOrName}/{path}` turns a plain HTTP
 * request into an execute envelope for the dev tenant, so `curl` and a browser can talk to an
 * extension the way Alga's gateway would. When the manifest declares `api.endpoints`, only those
 * (method + path, `:param` segments) are reachable.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { requireServiceToken } from '../auth.js';
import { ServiceError } from '../errors.js';
import type { Executor } from '../executor.js';
import type { ExecuteEnvelope } from '../envelope.js';
import type { Runtime } from '../runtime.js';
import { wireValue } from '../guest-response.js';
import { BINARY, documented, errorResponses, SERVICE_SECURITY } from '../openapi.js';

const guestFault = (what: string) => ({
  description: what,
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string', description: 'docs/errors.md' }, message: { type: 'string' } } } },
});
const schema = {
  summary: 'Plain HTTP to an extension, run for the dev tenant (RUNNER_DEV_TENANT, or x-alga-tenant)',
  description:
    'Any method (QUERY too, which OpenAPI 3.1 cannot list). The request, its body passed as sent whatever its type, becomes an execute envelope; the user comes from `x-user-id`, `x-user-email`, `x-user-name`, `x-user-type`, `x-client-name`, `x-client-id`. When the manifest declares `api.endpoints`, only those are reachable. The service token is required unless the service runs with generated tokens on loopback (the demo). A guest fault is JSON `{error: {code, message}}` with 502 (504 for `timeout`).',
  tags: ['dev'],
  security: [...SERVICE_SECURITY, {}],
  params: {
    type: 'object',
    required: ['extension', '*'],
    properties: { extension: { type: 'string', description: 'extension id or name' }, '*': { type: 'string', description: "the guest's path" } },
  },
  response: {
    default: { description: "the guest's response, relayed: its status (200-599), headers (each set-cookie on its own line) and body", content: { '*/*': { schema: BINARY } } },
    ...errorResponses(
      'invalid_request',
      'unauthorized',
      'install_disabled',
      'install_not_found',
      'endpoint_not_found',
      'no_component',
      'body_too_large',
      'too_many_requests',
      'overloaded',
      'shutting_down',
      'store_unavailable',
      'idempotency_key_reused',
      'component_unavailable',
      'component_missing',
    ),
    502: guestFault('guest fault: its fault code, or `invalid_response`'),
    504: guestFault('guest fault `timeout`, or `idempotency_wait_timeout`'),
  },
};

/** Headers of the guest's response that belong to this hop: Node and Fastify write their own. */
const NOT_RELAYED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'trailer', 'te', 'proxy-connection']);

interface Endpoint {
  method: string;
  path: string;
}

export function matchesEndpoint(endpoints: readonly Endpoint[], method: string, path: string): boolean {
  const segments = path.split('/').filter(Boolean);
  return endpoints.some((e) => {
    if (e.method.toUpperCase() !== method.toUpperCase()) return false;
    const pattern = e.path.split('/').filter(Boolean);
    return pattern.length === segments.length && pattern.every((p, i) => p.startsWith(':') || p === segments[i]);
  });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export function devGatewayRoutes(app: FastifyInstance, deps: { runtime: Runtime; executor: Executor; serviceToken: string; tokenRequired: boolean }): void {
  app.all('/api/ext/:extension/*', documented(schema), async (request, reply) => {
    if (deps.tokenRequired) requireServiceToken(request, deps.serviceToken);
    const { extension } = request.params as { extension: string };
    const tenant = header(request, 'x-alga-tenant') ?? deps.runtime.config.devTenant;
    const url = new URL(request.url, 'http://dev.invalid');
    const prefix = `/api/ext/${encodeURIComponent(extension)}`;
    const rawPath = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname.replace(/^\/api\/ext\/[^/]+/, '');
    const path = rawPath.startsWith('/') ? rawPath : `/${rawPath}`;

    const resolved = await deps.runtime.resolveInstall(tenant, extension, null);
    if (!resolved) throw new ServiceError('install_not_found', `tenant ${tenant}, extension ${extension}`);
    const api = resolved.version.manifest.api as { endpoints?: Endpoint[] } | undefined;
    if (api?.endpoints?.length && !matchesEndpoint(api.endpoints, request.method, path)) {
      throw new ServiceError('endpoint_not_found', `${request.method} ${path}`);
    }
    const body = request.body;
    const bodyBytes = body === undefined || body === null ? undefined : body instanceof Uint8Array ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) if (typeof v === 'string') headers[k] = v;
    const userId = header(request, 'x-user-id');
    const envelope: ExecuteEnvelope = {
      context: { request_id: header(request, 'x-request-id') ?? randomUUID(), tenant_id: tenant, extension_id: resolved.install.extensionId, install_id: resolved.install.id },
      http: {
        method: request.method,
        path,
        url: request.url,
        query: Object.fromEntries(url.searchParams),
        headers,
        body_b64: bodyBytes?.byteLength ? Buffer.from(bodyBytes).toString('base64') : undefined,
      },
      user: userId
        ? {
            user_id: userId,
            user_email: header(request, 'x-user-email') ?? '',
            user_name: header(request, 'x-user-name') ?? '',
            user_type: header(request, 'x-user-type') ?? 'internal',
            client_name: header(request, 'x-client-name') ?? '',
            client_id: header(request, 'x-client-id'),
          }
        : undefined,
    };
    const answer = await deps.executor.execute(envelope, header(request, 'x-idempotency-key'));
    if (answer.error) {
      return reply.code(answer.status === 504 ? 504 : 502).send({ error: { code: answer.error, message: answer.message } });
    }
    // answers are checked when the guest returns them (guest-response.ts); one replayed from an
    // idempotency record stored before that check existed is checked here too
    if (!Number.isInteger(answer.status) || answer.status < 200 || answer.status > 599) {
      return reply.code(502).send({ error: { code: 'invalid_response', message: `the guest's response is not valid HTTP: status ${answer.status}` } });
    }
    // guest headers go to Node's own (null-prototype) header store, not Fastify's plain object,
    // so any valid name is kept; a list (set-cookie) becomes one header line per value
    for (const [name, value] of Object.entries(answer.headers)) {
      if (NOT_RELAYED.has(name)) continue;
      reply.raw.setHeader(name, Array.isArray(value) ? value.map(wireValue) : wireValue(value));
    }
    reply.header('x-request-id', envelope.context.request_id!);
    return reply.code(answer.status).send(answer.body_b64 ? Buffer.from(answer.body_b64, 'base64') : undefined);
  });
}
