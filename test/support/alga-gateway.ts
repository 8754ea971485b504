/**
 * The request Alga's extension proxy sends to `POST /v1/execute`, field by field: handler.ts builds
 * the body (context with Alga's ids and config, http with the browser's method, path, query and
 * filtered headers, limits, providers, secret_envelope, endpoint, user); runner-backend.ts posts it
 * with content-type, x-request-id, x-runner-service-token (only when Alga has RUNNER_SERVICE_TOKEN)
 * and the handler's headers lower-cased. Reproduced from the public Nine-Minds/alga-psa repository
 * (packages/product-ext-proxy), not taken from it.
 */
import { randomUUID } from 'node:crypto';

export interface AlgaInstallIds {
  readonly tenantId: string;
  /** Alga's registry id of the extension */
  readonly registryId: string;
  readonly installId: string;
  readonly versionId: string;
  readonly contentHash: string;
}

export interface ProxyRequestOptions {
  readonly method?: string;
  /** JSON body of the browser's request */
  readonly body?: unknown;
  readonly providers: readonly string[];
  readonly secretEnvelope?: unknown;
  /** Alga's RUNNER_SERVICE_TOKEN, when set on Alga's side */
  readonly serviceToken?: string;
  /** a context field left out (to test the refusal) */
  readonly omit?: 'install_id';
}

/** Headers and body of the proxy's call for `target` (a path with an optional query). */
export function algaProxyRequest(a: AlgaInstallIds, target: string, o: ProxyRequestOptions): { requestId: string; headers: Record<string, string>; body: Record<string, unknown> } {
  const requestId = randomUUID();
  // the proxy's pathname and its query (Object.fromEntries of the search params), apart
  const [pathname = '', search = ''] = target.split('?');
  const query = Object.fromEntries(new URLSearchParams(search));
  const method = o.method ?? 'GET';
  // filterRequestHeaders(req.headers, tenantId, registryId, requestId, method): allowlisted browser headers, then these
  const guestHeaders = { accept: 'application/json', 'user-agent': 'Mozilla/5.0', 'x-request-id': requestId, 'x-alga-tenant': a.tenantId, 'x-alga-extension': a.registryId };
  const context: Record<string, unknown> = {
    request_id: requestId,
    tenant_id: a.tenantId,
    extension_id: a.registryId,
    install_id: a.installId,
    version_id: a.versionId,
    content_hash: a.contentHash,
    config: { region: 'eu' },
  };
  if (o.omit) delete context[o.omit];
  const body = {
    context,
    http: { method, url: pathname, path: pathname, query, headers: guestHeaders, body_b64: o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body)).toString('base64') },
    limits: { timeout_ms: 30000 },
    providers: o.providers,
    secret_envelope: o.secretEnvelope ?? undefined,
    endpoint: `ui-proxy:${pathname}`,
    user: { user_id: 'u-1', user_email: 'ada@example.com', user_name: 'Ada L', user_type: 'internal', client_name: 'Acme', client_id: undefined, additional_fields: undefined },
  };
  const runnerHeaders = {
    'x-alga-tenant': a.tenantId,
    'x-alga-extension': a.registryId,
    'x-ext-install-id': a.installId,
    'x-ext-version-id': a.versionId,
    'x-ext-registry-id': a.registryId,
    'x-ext-config-version': '3',
    'x-ext-secrets-version': '2',
  };
  // runner-backend.ts execute(): content-type, x-request-id, the token, then options.headers lower-cased
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId, ...(o.serviceToken ? { 'x-runner-service-token': o.serviceToken } : {}), ...runnerHeaders };
  return { requestId, headers, body };
}
